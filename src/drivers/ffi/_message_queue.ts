/**
 * The FFI consumer's queue of messages: every assigned partition's fetch
 * queue is forwarded to it, and it is read in batches
 * (`rd_kafka_consume_batch_queue`), apart from the group's events on the
 * consumer queue. One C call per batch instead of four per message (poll,
 * type, message, destroy of a FETCH event), which was most of the FFI
 * consumer's time per message.
 *
 * @module
 */
import type { IncomingMessage, TopicPartition } from "../../driver.ts";
import type { Client } from "./_client.ts";
import { cString, getU64, SIZES } from "./_c_memory.ts";
import type { MessageReader } from "./_message_reader.ts";
import type { Pointer } from "./_native_types.ts";

/** Most messages taken by one rd_kafka_consume_batch_queue call (its size argument comes from SIZES). */
const BATCH_MAX = 1024;

/** A queue of fetched messages (`rd_kafka_queue_new`), ours until {@link destroy}. */
export class MessageQueue {
  readonly #client: Client;
  /** The queue; valid until {@link destroy}. */
  readonly queue: Pointer;
  /** The message pointers of one batch, written by rd_kafka_consume_batch_queue; only read right after it. */
  readonly #batch = new Uint8Array(8 * BATCH_MAX);
  readonly #batchView = new DataView(this.#batch.buffer);

  constructor(client: Client) {
    this.#client = client;
    const queue = client.c.rd_kafka_queue_new(client.rk);
    if (queue === null) throw new Error("rd_kafka_queue_new failed");
    this.queue = queue;
  }

  /**
   * Route the messages of `partitions` here. Call it before they are
   * assigned, so their fetchers never post to the consumer queue: librdkafka
   * keeps a forward the application set when it starts a fetcher, and clears
   * it when it stops one, so each assignment sets it again. (A stop cannot
   * clear the forward set here: the group rejoins, and so assigns anew, only
   * once its last unassignment's fetchers all stopped.) A partition whose
   * queue cannot be had keeps librdkafka's route, the consumer queue.
   */
  forward(partitions: readonly TopicPartition[]): void {
    const { c, rk } = this.#client;
    const names = new Map<string, Uint8Array>();
    for (const { topic, partition } of partitions) {
      let name = names.get(topic);
      if (name === undefined) names.set(topic, name = cString(topic));
      // A new reference to the partition's fetch queue: the forward keeps one of its own.
      const queue = c.rd_kafka_queue_get_partition(rk, name, partition);
      if (queue === null) continue;
      c.rd_kafka_queue_forward(queue, this.queue);
      c.rd_kafka_queue_destroy(queue);
    }
  }

  /**
   * Append up to `max` queued messages to `out`, read by `reader`, without
   * waiting; each is freed once read. librdkafka drops the outdated ones (of
   * a partition paused or unassigned since they were fetched) itself.
   */
  take(max: number, reader: MessageReader, out: IncomingMessage[]): void {
    if (max <= 0) return;
    const { c, native } = this.#client;
    const view = this.#batchView;
    const count = c.rd_kafka_consume_batch_queue(this.queue, 0, this.#batch, SIZES[Math.min(max, BATCH_MAX)]!);
    let i = 0;
    try {
      for (; i < count; i++) {
        const message = native.pointerAt(getU64(view, i * 8))!;
        try {
          const incoming = reader.read(message);
          if (incoming) out.push(incoming);
        } finally {
          c.rd_kafka_message_destroy(message);
        }
      }
    } finally {
      // Only if reading one threw: the rest are freed unread.
      for (i++; i < count; i++) c.rd_kafka_message_destroy(native.pointerAt(getU64(view, i * 8)));
    }
  }

  /**
   * Drop our reference. Messages still queued are freed with the queue; a
   * partition still assigned (a consumer that did not leave its group in
   * time) keeps a reference of its own until the client is destroyed.
   */
  destroy(): void {
    this.#client.c.rd_kafka_queue_destroy(this.queue);
  }
}
