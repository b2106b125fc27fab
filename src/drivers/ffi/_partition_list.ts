/**
 * `rd_kafka_topic_partition_list_t`: made from JavaScript for one call, or
 * read (copied) from one librdkafka owns.
 *
 * @module
 */
import type { TopicPartition } from "../../driver.ts";
import { cString } from "./_c_memory.ts";
import type { NativeRuntime, NativeSymbols, Pointer } from "./_native_types.ts";
import { type CLIENT_SYMBOLS, PARTITION_LIST, TOPIC_PARTITION } from "./_symbols.ts";

/**
 * Run `use` with a new `rd_kafka_topic_partition_list_t` holding
 * `partitions` (and their offsets, if given); the list is ours and destroyed
 * afterwards. librdkafka copies the topic names on add.
 */
export function withPartitionList<T>(
  client: { readonly c: NativeSymbols<typeof CLIENT_SYMBOLS> },
  partitions: readonly (TopicPartition & { offset?: number })[],
  use: (list: Pointer) => T,
): T {
  const { c } = client;
  const list = c.rd_kafka_topic_partition_list_new(Math.max(1, partitions.length));
  if (list === null) throw new Error("rd_kafka_topic_partition_list_new failed");
  try {
    for (const { topic, partition, offset } of partitions) {
      const name = cString(topic);
      c.rd_kafka_topic_partition_list_add(list, name, partition);
      if (offset !== undefined) c.rd_kafka_topic_partition_list_set_offset(list, name, partition, BigInt(offset));
    }
    return use(list);
  } finally {
    c.rd_kafka_topic_partition_list_destroy(list);
  }
}

/** The topic partitions of a list owned by someone else (e.g. a rebalance event), copied. */
export function readPartitionList(native: NativeRuntime, list: Pointer | null): TopicPartition[] {
  if (list === null) return [];
  const count = native.readI32(list, PARTITION_LIST.cnt);
  const elems = native.readPointer(list, PARTITION_LIST.elems);
  const out: TopicPartition[] = [];
  for (let i = 0; i < count && elems !== null; i++) {
    const base = i * TOPIC_PARTITION.size;
    out.push({
      topic: native.readCString(native.readPointer(elems, base + TOPIC_PARTITION.topic)) ?? "",
      partition: native.readI32(elems, base + TOPIC_PARTITION.partition),
    });
  }
  return out;
}
