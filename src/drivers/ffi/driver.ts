/**
 * The FFI driver: kshare's {@link KafkaDriver} over librdkafka's C API,
 * called through the runtime's own FFI (Deno, Bun; Node through koffi).
 *
 * Threads: librdkafka's threads do all network I/O. The JavaScript thread
 * only makes calls that return promptly (enqueue a record, take an event that
 * is already there, change an assignment); waiting for events is done without
 * blocking it and without polling in a loop (see `_queue.ts`). An idle client
 * costs no CPU.
 *
 * Ownership: keys, values and headers are copied by librdkafka during
 * `produce()` (`RD_KAFKA_MSG_F_COPY`); fetched messages are copied into
 * JavaScript memory before their event is freed. Every librdkafka object has
 * one owner, named where it is created, and is freed by `close()`.
 *
 * @module
 */
import type { KafkaDriver } from "../../driver.ts";
import { createFfiConsumer } from "./_consumer.ts";
import { createFfiProducer } from "./_producer.ts";
import { loadLibrdkafka } from "./library.ts";

/**
 * Options of {@link ffiDriver}.
 *
 * @example A librdkafka of one's own
 * ```ts
 * import { createRegistry } from "@kshare/kshare";
 * import { ffiDriver, type FfiDriverOptions } from "@kshare/kshare/drivers";
 *
 * const options: FfiDriverOptions = { library: "/opt/librdkafka/lib/librdkafka.so.1" };
 * const kafka = createRegistry({ driver: () => ffiDriver(options) });
 * ```
 */
export interface FfiDriverOptions {
  /**
   * Path of the librdkafka shared library. Default: `$KSHARE_LIBRDKAFKA`,
   * else the `@confluentinc/kafka-javascript` package's build, else the system's.
   */
  readonly library?: string;
}

/**
 * Load librdkafka and return a {@link KafkaDriver} over it, named
 * `ffi-deno`, `ffi-bun` or `ffi-node`.
 *
 * @throws Error if librdkafka cannot be loaded or lacks part of the API used
 *   (the error says what was tried and how to install it).
 *
 * @example
 * ```ts
 * import { ffiDriver } from "@kshare/kshare/drivers";
 *
 * const driver = await ffiDriver();
 * const producer = await driver.createProducer(
 *   { properties: { "bootstrap.servers": "localhost:9092" }, label: "local", secretProperties: [] },
 *   { onFatal: (error) => console.error(error) },
 * );
 * const report = await producer.produce({ topic: "orders", value: new TextEncoder().encode("hi") });
 * console.log(report.partition, report.offset);
 * await producer.close(5_000);
 * ```
 */
export async function ffiDriver(options: FfiDriverOptions = {}): Promise<KafkaDriver> {
  const rdkafka = await loadLibrdkafka(options.library === undefined ? {} : { library: options.library });
  rdkafka.client(); // bind the client API now: a library lacking it fails here, not at first use
  rdkafka.nonblocking();
  return {
    name: `ffi-${rdkafka.native.name}`,
    librdkafkaVersion: rdkafka.version,
    createProducer: (config, events) => createFfiProducer(rdkafka, config, events),
    createConsumer: (config, events) => createFfiConsumer(rdkafka, config, events),
  };
}
