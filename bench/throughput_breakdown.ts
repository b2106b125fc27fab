/**
 * Where the time of a publish goes, on one runtime: the throughput scenario
 * taken apart into layers, each run alone with the same window of publishes
 * in flight, so the differences between the rows are the cost of a layer.
 *
 *   npx deno run -A bench/throughput_breakdown.ts [--messages 300000]
 *   npx bun bench/throughput_breakdown.ts
 *   node --import tsx bench/throughput_breakdown.ts [--driver ffi]
 *
 * Layers, from the top:
 * 1. `kshare publish`: `registry.producer(ctx).publish(topic, value)`, what
 *    `throughput.ts` measures (validate, serialize, encode, driver, report).
 * 2. `core only`: the same calls on a driver whose produce() resolves at once:
 *    the core's per-record JavaScript (and the harness), without Kafka.
 * 3. `driver.produce`: the driver's `produce(record)` with the record encoded
 *    once up front: the driver's own per-record cost plus librdkafka.
 * 4. `raw FFI` (FFI driver only): `rd_kafka_produceva` with a prepared vu
 *    array and delivery reports counted straight from their events (one
 *    read of `err` per report), no promise, no object per record: what this
 *    runtime's FFI and librdkafka cost when JavaScript does next to nothing,
 *    the ceiling of a driver that crosses into C once per record.
 * 5. `raw FFI, produce_batch` (FFI driver only): the same with one
 *    `rd_kafka_produce_batch` call per 1,000 records: the ceiling of a
 *    driver that coalesces the records of one tick into one call.
 *
 * The raw layers use the FFI driver's internal modules (not kshare's API) on
 * purpose: they measure the engine under the driver.
 *
 * Options: --bootstrap host:port,… (default: `bench/broker.ts` in a child
 * process, so the broker's threads are not this process's CPU)  --messages N (300,000)  --in-flight N (10,000)  --driver
 * default|ffi|confluent  --layers publish,core,driver,raw,raw-batch  --linger-ms N
 * (librdkafka's linger.ms for every layer; default kshare's, 0)
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { createRegistry, type DeliveryReport, type KafkaDriver, type OutgoingRecord, resolveSecurityContext } from "../mod.ts";
import { producerConfig } from "../src/_client_config.ts";
import { createClient } from "../src/drivers/ffi/_client.ts";
import { openEventQueue } from "../src/drivers/ffi/_queue.ts";
import { loadLibrdkafka } from "../src/drivers/ffi/library.ts";
import { EVENT_DR, MSG_F_COPY, RD_KAFKA_PRODUCER, VTYPE_MSGFLAGS, VTYPE_TOPIC, VTYPE_VALUE, VU_SIZE } from "../src/drivers/ffi/_symbols.ts";
import { ERR__QUEUE_FULL } from "../src/_kafka_codes.ts";
import type { DriverChoice } from "./_throughput.ts";
import { benchTopic, cpuSeconds, int, MESSAGE_LINE, MESSAGE_VALUE, mib, peakRssBytes, publishAll, runWindowed, spawnBroker } from "./_util.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    bootstrap: { type: "string" },
    messages: { type: "string", default: "300000" },
    "in-flight": { type: "string", default: "10000" },
    driver: { type: "string", default: "default" },
    layers: { type: "string", default: "publish,core,driver,raw,raw-batch" },
    "linger-ms": { type: "string" },
  },
});
const messages = Number(values.messages);
const inFlight = Number(values["in-flight"]);
const choice = values.driver as DriverChoice;
const PARTITIONS = 3;

const layers = values.layers.split(",").map((s) => s.trim());
/** The topic of a layer: created by the broker we start, auto-created by an external mock cluster. */
const topicOf = (layer: string) => `breakdown-${runtimeName()}-${layer}`;
const broker = values.bootstrap
  ? undefined
  : await spawnBroker({ brokers: 3, topics: Object.fromEntries(layers.map((layer) => [topicOf(layer), PARTITIONS])) });
const bootstrapServers = values.bootstrap ?? broker!.bootstrapServers;
// Every layer with the same producer settings: kshare's defaults, or those plus --linger-ms.
const producerSettings: Record<string, string> = values["linger-ms"] === undefined ? {} : { "linger.ms": values["linger-ms"] };
const ctx = { bootstrapServers, producer: producerSettings };

async function realDriver(): Promise<KafkaDriver> {
  const useFfi = choice === "ffi" || (choice === "default" && runtimeName() !== "node");
  return useFfi ? (await import("../src/drivers/ffi/driver.ts")).ffiDriver() : (await import("../src/drivers/confluent.ts")).confluentDriver();
}

/** A driver that acknowledges every record at once: Kafka taken out of the picture. */
const noopDriver: KafkaDriver = {
  name: "no-op",
  librdkafkaVersion: "-",
  createProducer: () => {
    const report: DeliveryReport = { topic: "-", partition: 0, offset: 0 };
    return Promise.resolve({
      produce: () => Promise.resolve(report),
      flush: () => Promise.resolve(),
      ping: () => Promise.resolve(),
      close: () => Promise.resolve(),
    });
  },
  createConsumer: () => Promise.reject(new Error("not used")),
};

interface Measured {
  readonly layer: string;
  readonly seconds: number;
  readonly cpu: number;
}

/** Time `run`, with the process CPU it used. */
async function measure(layer: string, run: () => Promise<void>): Promise<Measured> {
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  await run();
  return { layer, seconds: (performance.now() - started) / 1000, cpu: cpuSeconds() - cpuBefore };
}

/** Layers 1 and 2: kshare's publish over `driver`. */
async function viaRegistry(layer: string, topicName: string, driver: KafkaDriver): Promise<Measured> {
  const registry = createRegistry({ driver });
  try {
    const producer = await registry.producer(ctx);
    const topic = benchTopic(topicName);
    await Promise.all(Array.from({ length: PARTITIONS }, (_, partition) => producer.publish(topic, "warm-up", { partition })));
    return await measure(layer, () => publishAll(producer, topic, messages, inFlight));
  } finally {
    await registry.close();
  }
}

/** Layer 3: the driver's produce() with one record encoded up front. */
async function viaDriver(topic: string, driver: KafkaDriver): Promise<Measured> {
  const config = producerConfig(resolveSecurityContext(ctx));
  const client = await driver.createProducer(config, { onFatal: (e) => console.error(e) });
  try {
    await Promise.all(
      Array.from({ length: PARTITIONS }, (_, partition) => client.produce({ topic, value: new Uint8Array(1), partition })),
    );
    const record: OutgoingRecord = { topic, value: new TextEncoder().encode(MESSAGE_LINE), key: null };
    return await measure(`driver.produce (${driver.name})`, () => runWindowed(messages, inFlight, () => client.produce(record)));
  } finally {
    await client.close(10_000);
  }
}

/** librdkafka functions the driver does not bind, for the batched raw layer. */
const BATCH_SYMBOLS = {
  // rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *, const char *topic, rd_kafka_topic_conf_t *): owned, rd_kafka_topic_destroy
  rd_kafka_topic_new: { args: ["ptr", "buffer", "ptr"], ret: "ptr" },
  // void rd_kafka_topic_destroy(rd_kafka_topic_t *)
  rd_kafka_topic_destroy: { args: ["ptr"], ret: "void" },
  // int rd_kafka_produce_batch(rkt, int32_t partition, int msgflags, rd_kafka_message_t *rkmessages, int message_cnt)
  rd_kafka_produce_batch: { args: ["ptr", "i32", "i32", "buffer", "i32"], ret: "i32" },
} as const;

/** Records per rd_kafka_produce_batch call in the batched raw layer. */
const BATCH = 1_000;
/** sizeof(rd_kafka_message_t) (field offsets: MESSAGE in _symbols.ts). */
const MSG_SIZE = 72;
/** RD_KAFKA_PARTITION_UA: let the configured partitioner choose, as kshare's publish does. */
const PARTITION_UA = -1;

/**
 * Layer 4: librdkafka through the runtime's FFI, with as little JavaScript
 * per record as possible: one `rd_kafka_produceva` per record, or
 * (`batched`) one `rd_kafka_produce_batch` per {@link BATCH} records.
 */
async function viaRawFfi(topic: string, batched: boolean): Promise<Measured> {
  const rdkafka = await loadLibrdkafka();
  const { native } = rdkafka;
  const c = rdkafka.client();
  const client = createClient(rdkafka, RD_KAFKA_PRODUCER, producerConfig(resolveSecurityContext(ctx)), EVENT_DR);
  // The main queue reference is ours: released by queue.close() below.
  const queue = openEventQueue(rdkafka, c.rd_kafka_queue_get_main(client.rk)!);
  const topicName = new TextEncoder().encode(`${topic}\0`);
  const value = new TextEncoder().encode(MESSAGE_LINE);
  const extra = batched ? native.open(rdkafka.path, BATCH_SYMBOLS).symbols : undefined;
  // rkt: ours, destroyed below after the client has no record left in flight.
  const rkt = extra?.rd_kafka_topic_new(client.rk, topicName, null) ?? null;
  try {
    await client.ping(10_000);
    /** Enqueue up to `count` records (1 without batching); returns how many librdkafka took. */
    let produce: (count: number) => number;
    if (!batched) {
      // One rd_kafka_vu_t[3] (topic, value, flags) and the bytes it points to, built once:
      // librdkafka copies the value (MSG_F_COPY) on every call, so the buffer is reused.
      const vus = new Uint8Array(3 * VU_SIZE + topicName.length + value.length);
      vus.set(topicName, 3 * VU_SIZE);
      vus.set(value, 3 * VU_SIZE + topicName.length);
      const base = native.bufferAddress(vus);
      const view = new DataView(vus.buffer);
      view.setInt32(0, VTYPE_TOPIC, true);
      view.setBigUint64(8, base + BigInt(3 * VU_SIZE), true);
      view.setInt32(VU_SIZE, VTYPE_VALUE, true);
      view.setBigUint64(VU_SIZE + 8, base + BigInt(3 * VU_SIZE + topicName.length), true);
      view.setBigUint64(VU_SIZE + 16, BigInt(value.length), true);
      view.setInt32(2 * VU_SIZE, VTYPE_MSGFLAGS, true);
      view.setInt32(2 * VU_SIZE + 8, MSG_F_COPY, true);
      produce = () => {
        const error = client.takeError(c.rd_kafka_produceva(client.rk, vus, 3));
        if (error && error.code !== ERR__QUEUE_FULL) throw error;
        return error ? 0 : 1;
      };
    } else {
      // rd_kafka_message_t[BATCH], every one pointing at the same payload (copied per record by MSG_F_COPY).
      // `value` stays referenced by this function while librdkafka reads it through payloadAt.
      const messages = new Uint8Array(BATCH * MSG_SIZE);
      const view = new DataView(messages.buffer);
      const payloadAt = native.bufferAddress(value);
      const reset = () => {
        messages.fill(0);
        for (let i = 0; i < BATCH; i++) {
          view.setBigUint64(i * MSG_SIZE + 24, payloadAt, true); // payload
          view.setBigUint64(i * MSG_SIZE + 32, BigInt(value.length), true); // len
        }
      };
      reset();
      produce = (count) => {
        const n = extra!.rd_kafka_produce_batch(rkt, PARTITION_UA, MSG_F_COPY, messages, count);
        if (n < count) reset(); // failed records had err set; only counts matter here
        return n;
      };
    }
    const step = batched ? BATCH : 1;
    const batch = new Uint8Array(8 * 1024);
    const batchView = new DataView(batch.buffer);

    let failures = 0;
    /** Count the reports of one event (owned by us, freed here); returns how many. */
    const reports = (event: NonNullable<ReturnType<typeof queue.take>>): number => {
      let total = 0;
      try {
        if (c.rd_kafka_event_type(event) !== EVENT_DR) return 0;
        for (;;) {
          const n = c.rd_kafka_event_message_array(event, batch, 1024);
          for (let i = 0; i < n; i++) {
            // err is the first field of rd_kafka_message_t: one read per report, as a driver needs at least.
            if (native.readI32(native.pointerAt(batchView.getBigUint64(i * 8, true))!, 0) !== 0) failures++;
          }
          total += n;
          if (n < 1024) return total;
        }
      } finally {
        c.rd_kafka_event_destroy(event);
      }
    };

    const label = batched ? `raw FFI, produce_batch × ${BATCH} + DR events` : "raw FFI, produceva + DR events";
    return await measure(label, async () => {
      const limit = inFlight > 0 ? inFlight : Infinity;
      let sent = 0;
      let done = 0;
      while (done < messages) {
        // Refill the window after every event, as the driver does, so librdkafka always has work.
        while (sent < messages && sent - done < limit) {
          const count = Math.min(step, messages - sent);
          const n = produce(count);
          sent += n;
          if (n < count) break; // queue full: wait for reports
        }
        const event = queue.take() ?? (done < sent ? await queue.next(1_000) : null);
        if (event !== null) done += reports(event);
      }
      if (failures > 0) throw new Error(`${failures} records were not delivered`);
    });
  } finally {
    await queue.close();
    if (rkt !== null) extra!.rd_kafka_topic_destroy(rkt);
    await client.destroy(0);
  }
}

// ---------------------------------------------------------------------------

const results: Measured[] = [];
try {
  const driver = await realDriver();
  const ffi = driver.name.startsWith("ffi");
  for (const layer of layers) {
    const topic = topicOf(layer);
    if (layer === "publish") results.push(await viaRegistry(`kshare publish (${driver.name})`, topic, driver));
    else if (layer === "core") results.push(await viaRegistry("core only (no-op driver)", topic, noopDriver));
    else if (layer === "driver") results.push(await viaDriver(topic, driver));
    else if (layer === "raw" && ffi) results.push(await viaRawFfi(topic, false));
    else if (layer === "raw-batch" && ffi) results.push(await viaRawFfi(topic, true));
  }
} finally {
  await broker?.stop();
}

console.log(
  `${runtimeName()} ${runtimeVersion()}: ${int(messages)} × ${MESSAGE_VALUE.length + 2} B, ` +
    `${inFlight > 0 ? int(inFlight) : "all"} in flight`,
);
console.log("| layer | msg/s | µs/msg (wall) | CPU µs/msg (all threads) |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of results) {
  console.log(
    `| ${r.layer} | ${int(messages / r.seconds)} | ${(r.seconds / messages * 1e6).toFixed(2)} | ${(r.cpu / messages * 1e6).toFixed(2)} |`,
  );
}
console.log(`peak RSS ${mib(peakRssBytes())}`);
