/**
 * Consumer throughput (issue 17, item 4): 1,000,000 JSON records of about
 * 100 bytes, written by `kcat -P`, read by a new consumer group from the
 * beginning: `kcat -C` (to a file, see `kcatRead`), kshare's shared consumer (decode, valibot, one
 * handler call per record) and KafkaJS 2.2 (`eachMessage`, `JSON.parse`) on
 * Node, Deno and Bun. Each client runs in a process of its own, timed from
 * its first record to its last (the group's join is not measured); each row
 * checks that it saw every record.
 *
 *     node --import tsx bench/consume_throughput.ts [--messages 1000000] [--runtimes node,deno,bun] [--repeat 1]
 *       [--clients kshare,kafkajs] [--max-buffered N (the topic's maxBufferedMessages; kshare's default otherwise)]
 *       [--consumer JSON (librdkafka consumer properties of kshare's context, e.g. '{"fetch.queue.backoff.ms":1000}')]
 *
 * The embedded broker runs in a child process (`bench/broker.ts`). It keeps
 * only the last 5 MiB of each partition, so the topic has 64 partitions
 * (about 2 MiB each).
 * One process per row, run by this script with `--client`:
 *
 *     node --import tsx bench/consume_throughput.ts --client kshare --bootstrap host:port --messages N
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { runJson, type RuntimeName, runtimeName, runtimeVersion } from "./_child.ts";
import { int, machineInfo, spawnBroker } from "./_util.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: "string", default: "1000000" },
    runtimes: { type: "string", default: "node,deno,bun" },
    repeat: { type: "string", default: "1" },
    client: { type: "string" },
    bootstrap: { type: "string" },
    topic: { type: "string", default: "consume" },
    json: { type: "boolean", default: false },
    clients: { type: "string", default: "kshare,kafkajs" },
    "max-buffered": { type: "string" },
    consumer: { type: "string" },
  },
});
const messages = Number(values.messages);
const PARTITIONS = 64;

/** One row's result, as its process prints it. */
interface Row {
  readonly client: string;
  readonly runtime: string;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
}

/** The record kcat writes: `{"id":N,"name":"…"}`, 100 bytes with the padding. */
function record(i: number): string {
  const head = `{"id":${i},"name":"`;
  return head + "x".repeat(100 - head.length - 2) + '"}';
}
const Record = v.object({ id: v.number(), name: v.string() });

/**
 * Counts records, notes the first and the last one's time, resolves once
 * `messages` came. The clock is read for those two only: read per record it
 * took 4% of a Deno consumer's time.
 */
function counter(total: number) {
  let count = 0;
  let first = 0;
  let last = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  return {
    all,
    seen(): void {
      if (count++ === 0) first = performance.now();
      if (count === total) {
        last = performance.now();
        done();
      }
    },
    result(client: string): Row {
      const seconds = (last - first) / 1000;
      return { client, runtime: `${runtimeName()} ${runtimeVersion()}`, messages: count, seconds, messagesPerSecond: count / seconds };
    },
  };
}

async function kshareClient(bootstrap: string, topicName: string): Promise<Row> {
  const { createRegistry, defineTopic } = await import("../mod.ts");
  const registry = createRegistry();
  const maxBuffered = values["max-buffered"] === undefined ? undefined : Number(values["max-buffered"]);
  const topic = defineTopic({ name: topicName, schema: Record, ...(maxBuffered === undefined ? {} : { consumer: { maxBufferedMessages: maxBuffered } }) });
  const count = counter(messages);
  let sum = 0;
  const consumer = registry.consumer({ bootstrapServers: bootstrap, consumer: JSON.parse(values.consumer ?? "{}") }, `kshare-${Date.now()}`).subscribe(
    topic,
    (message) => {
      sum += message.value.id; // the decoded, validated value is used
      count.seen();
    },
  );
  await consumer.start();
  await count.all;
  const bound = (maxBuffered === undefined ? "" : `, maxBufferedMessages ${maxBuffered}`) + (values.consumer === undefined ? "" : `, ${values.consumer}`);
  const row = count.result(`kshare (${registry.stats().driver?.name}${bound})`);
  await registry.close();
  if (sum !== (messages * (messages - 1)) / 2) throw new Error(`kshare: the ids add up to ${sum}`);
  return row;
}

async function kafkajsClient(bootstrap: string, topicName: string): Promise<Row> {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({ clientId: "bench", brokers: bootstrap.split(","), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `kafkajs-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topicName, fromBeginning: true });
  const count = counter(messages);
  let sum = 0;
  await consumer.run({
    eachMessage: ({ message }) => {
      sum += (JSON.parse(message.value!.toString()) as { id: number }).id;
      count.seen();
      return Promise.resolve();
    },
  });
  await count.all;
  const row = count.result("KafkaJS 2.2");
  await consumer.disconnect();
  if (sum !== (messages * (messages - 1)) / 2) throw new Error(`KafkaJS: the ids add up to ${sum}`);
  return row;
}

/** Run kcat with `args`, feeding it `input`; resolves once it exited. */
function kcat(args: string[], input?: string, stdout: "ignore" | number = "ignore"): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("kcat", args, { stdio: ["pipe", stdout, "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`kcat ${args.join(" ")} exited ${code}`))));
    child.stdin!.end(input ?? "");
  });
}

/**
 * kcat's `queued.min.messages`. With its librdkafka's default (100,000) a
 * fetcher whose local queue passes that many records pauses for about a
 * second: kcat's reads of the same topic then took 0.5, 1.1, 2.2 or 3.0 s
 * (measured here with librdkafka 2.0.2, which has no `fetch.queue.backoff.ms`
 * to shorten the pause; kshare sets that to 50 ms). With room for the whole
 * topic they took 0.46–0.69 s: kcat's own speed, which kshare is held against.
 */
const KCAT_QUEUED = 10_000_000;

/**
 * One `kcat -C` read of the whole topic: `-c` ends it at the last record (with
 * `-e` it waits for end-of-partition on all 64, up to a fetch wait each),
 * and its output goes to a file (through a pipe into this process it read
 * at a fifth of that speed or less). Timed as a whole process, its start and
 * connect included (about 20-40 ms here), and checked by counting lines.
 */
async function kcatRead(bootstrap: string, topic: string): Promise<Row> {
  const dir = mkdtempSync(join(os.tmpdir(), "kshare-kcat-"));
  const path = join(dir, "out");
  const fd = openSync(path, "w");
  try {
    const started = performance.now();
    await kcat(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-c", String(messages), "-q", "-X", `queued.min.messages=${KCAT_QUEUED}`], "", fd);
    const seconds = (performance.now() - started) / 1000;
    let count = 0;
    for (const byte of readFileSync(path)) if (byte === 10) count++;
    if (count !== messages) throw new Error(`kcat -C read ${count} of ${messages} records (the broker kept fewer?)`);
    return { client: "kcat -C", runtime: "C", messages: count, seconds, messagesPerSecond: count / seconds };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How many times kcat -C reads the topic per round: its rate varied 2× from one read to the next here. */
const KCAT_READS = 5;

if (values.client) {
  const clients: Record<string, (bootstrap: string, topic: string) => Promise<Row>> = { kshare: kshareClient, kafkajs: kafkajsClient };
  const run = clients[values.client];
  if (!run || !values.bootstrap) throw new Error("--client kshare|kafkajs needs --bootstrap");
  const row = await run(values.bootstrap, values.topic);
  console.log(JSON.stringify(row));
  process.exit(0);
}

// The orchestrator: the broker, the records, kcat -C, then each client on each runtime.
const broker = await spawnBroker({ brokers: 1, topics: { [values.topic]: PARTITIONS } });
const rows: Row[] = [];
try {
  const lines: string[] = [];
  for (let i = 0; i < messages; i++) lines.push(`${i}\t${record(i)}`);
  // Keyed by id, so that the partitioner spreads the records evenly (without a key, librdkafka's sticky
  // partitioning filled some partitions past what the broker keeps, and left others empty).
  await kcat(["-P", "-b", broker.bootstrapServers, "-t", values.topic, "-K", "\t", "-X", "linger.ms=5"], lines.join("\n") + "\n");
  for (let round = 0; round < Number(values.repeat); round++) {
    const reads: Row[] = [];
    for (let i = 0; i < KCAT_READS; i++) reads.push(await kcatRead(broker.bootstrapServers, values.topic));
    reads.sort((a, b) => a.messagesPerSecond - b.messagesPerSecond);
    const median = reads[Math.floor(KCAT_READS / 2)]!;
    rows.push(median);
    console.error(`[consume] kcat -C: median ${int(median.messagesPerSecond)} msg/s of ${reads.map((r) => int(r.messagesPerSecond)).join(", ")}`);
    for (const runtime of values.runtimes.split(",") as RuntimeName[]) {
      for (const client of values.clients.split(",")) {
        const args = ["--client", client, "--bootstrap", broker.bootstrapServers, "--topic", values.topic, "--messages", String(messages)];
        if (values["max-buffered"] !== undefined) args.push("--max-buffered", values["max-buffered"]);
        if (values.consumer !== undefined) args.push("--consumer", values.consumer);
        const row = await runJson<Row>(runtime, "bench/consume_throughput.ts", args, 300_000);
        rows.push(row);
        console.error(`[consume] ${runtime} ${row.client}: ${int(row.messagesPerSecond)} msg/s`);
      }
    }
  }
} finally {
  await broker.stop();
}

/** Each row against its own round's `kcat -C` median (the row of that round before it): the machine's speed drifts between rounds. */
let kcatRate = NaN;
const ratios = rows.map((r) => {
  if (r.client === "kcat -C") kcatRate = r.messagesPerSecond;
  return r.messagesPerSecond / kcatRate;
});
const machine = machineInfo();
console.log(`# Consumer throughput: ${int(messages)} JSON records of 100 bytes, a new group from the beginning

- Command: \`node --import tsx bench/consume_throughput.ts ${process.argv.slice(2).join(" ")}\`
- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.os}; load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(", ")}.
- Broker: the embedded broker (1 broker) in a child process; ${PARTITIONS} partitions. Timed from each client's first record to its last; \`kcat -C\` (the system's) as a whole process writing to a file, the median of ${KCAT_READS} reads per round.

| client | runtime | records | msg/s | vs its round's kcat -C |
| --- | --- | ---: | ---: | ---: |
${
  rows.map((r, i) => `| ${r.client} | ${r.runtime} | ${int(r.messages)} | ${int(r.messagesPerSecond)} | ${ratios[i]!.toFixed(2)}× |`).join(
    "\n",
  )
}`);
if (values.json) console.log(JSON.stringify({ rows }));
