/**
 * The Node driver, over `@confluentinc/kafka-javascript` (librdkafka through a
 * NAN addon; loads in Node only).
 *
 * Threads: librdkafka's own threads do the I/O; the binding waits on libuv
 * worker threads, never on the JavaScript thread. The producer
 * (`_confluent_producer.ts`) and the consumer (`_confluent_consumer.ts`) say
 * how, and what they share is in `_confluent_client.ts`.
 *
 * @module
 */
import type * as Confluent from "./_confluent_binding.ts";
import type { KafkaDriver } from "../driver.ts";
import { requireInstalled } from "./_require.ts";
import { createConsumer } from "./_confluent_consumer.ts";
import { createProducer } from "./_confluent_producer.ts";

type Binding = Confluent.ConfluentBinding;

const PACKAGE = "@confluentinc/kafka-javascript";

/**
 * Load the Confluent binding and return a {@link KafkaDriver} over it.
 *
 * @example
 * ```ts
 * import { createRegistry } from "@kshare/kshare";
 * import { confluentDriver } from "@kshare/kshare/drivers";
 * const kafka = createRegistry({ driver: confluentDriver });
 * ```
 */
export async function confluentDriver(): Promise<KafkaDriver> {
  // A CommonJS addon: require() is the one loading path that works under tsx, Node ESM and bundlers alike.
  const Kafka = requireInstalled<Binding>(PACKAGE, "kshare's Confluent driver", `${PACKAGE}@^1.10`);
  return await Promise.resolve({
    name: "confluent-node",
    librdkafkaVersion: Kafka.librdkafkaVersion,
    createProducer: (config, events) => createProducer(Kafka, config, events),
    createConsumer: (config, events) => createConsumer(Kafka, config, events),
  });
}
