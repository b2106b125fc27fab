/**
 * Consume-transform-produce throughput (issue 19): records consumed from one
 * topic and each published to another, exactly-once (`transactionalHandler`:
 * one transaction per record carrying its output and its offset) beside
 * at-least-once (a plain handler awaiting `producer.publish` on the shared
 * producer), on this runtime with its default driver.
 *
 *   node --import tsx bench/ctp.ts [--messages N] [--partitions N] [--repeat N] [--max-buffered N]
 *   npx deno run -A bench/ctp.ts
 *   npx bun bench/ctp.ts
 *
 * `--max-buffered N` sets the input topic's `maxBufferedMessages` (kshare's
 * default: 1000; a backlog larger than it pauses and resumes the topic).
 *
 * Each run has an input topic filled beforehand and a new group. Timed from
 * the first handler's start (the group's join is not measured) until every
 * output is acknowledged: at-least-once, the last handler's publish; exactly
 * once, the last record's commit (an empty transaction of the same id queued
 * behind it resolves once it committed). Prints a Markdown table of
 * records/s per run and their median.
 *
 * @module
 */
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { createRegistry, transactionalHandler } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { benchTopic, int, machineInfo, publishAll } from "./_util.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: "string", default: "5000" },
    partitions: { type: "string", default: "3" },
    repeat: { type: "string", default: "3" },
    "max-buffered": { type: "string" },
  },
});
const messages = Number(values.messages);
const partitions = Number(values.partitions);
const repeat = Number(values.repeat);
/** The input topic's `maxBufferedMessages`; kshare's default (1000) unless given. */
const maxBuffered = values["max-buffered"] === undefined ? undefined : Number(values["max-buffered"]);

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500 } };
let sequence = 0;
/** The driver the registry loaded (the runtime's default), for the results. */
let driver = "";

type Mode = "at-least-once" | "exactly-once";

/** One run: records/s from the first handler's start until every output was acknowledged (committed). */
async function run(mode: Mode): Promise<number> {
  const id = `ctp-bench-${++sequence}`;
  const input = benchTopic(`${id}-in`, maxBuffered);
  const output = benchTopic(`${id}-out`);
  broker.createTopic(input.name, partitions, 1);
  broker.createTopic(output.name, partitions, 1);
  const kafka = createRegistry();
  try {
    const producer = await kafka.producer(ctx);
    await publishAll(producer, input, messages, 1000);
    let started = 0;
    let handled = 0;
    let firstAt = 0;
    let allHandled!: () => void;
    const done = new Promise<void>((resolve) => (allHandled = resolve));
    const begin = () => {
      if (started++ === 0) firstAt = performance.now();
    };
    const end = () => {
      if (++handled === messages) allHandled();
    };
    const transactionalId = `${id}-0`;
    const consumer = kafka.consumer(ctx, id);
    if (mode === "at-least-once") {
      consumer.subscribe(input, async (message) => {
        begin();
        await producer.publish(output, message.value);
        end();
      });
    } else {
      consumer.subscribe(
        input,
        transactionalHandler({ transactionalId }, async (message, tx) => {
          begin();
          await tx.publish(output, message.value);
          end();
        }),
      );
    }
    await consumer.start();
    await done;
    if (mode === "exactly-once") {
      // Transactions of one id run one at a time: this one begins once the last record's committed.
      await (await kafka.transactionalProducer(ctx, { transactionalId })).transaction(() => {});
    }
    const perSecond = (messages / (performance.now() - firstAt)) * 1000;
    const loaded = kafka.stats().driver;
    driver = loaded ? `${loaded.name} (librdkafka ${loaded.librdkafkaVersion})` : "";
    return perSecond;
  } finally {
    await kafka.close();
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<Mode, number[]> = { "at-least-once": [], "exactly-once": [] };
const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(", ");
// Alternated, so that a slower stretch of a shared machine weighs on both modes alike.
for (let i = 0; i < repeat; i++) {
  for (const mode of ["at-least-once", "exactly-once"] as const) results[mode].push(await run(mode));
}
await broker.stop();

const machine = machineInfo();
const command = runtimeName() === "node"
  ? "node --import tsx bench/ctp.ts"
  : runtimeName() === "deno"
  ? "npx deno run -A bench/ctp.ts"
  : "npx bun bench/ctp.ts";
console.log(
  `- Command: \`${command} --messages ${messages} --partitions ${partitions} --repeat ${repeat}${
    maxBuffered === undefined ? "" : ` --max-buffered ${maxBuffered}`
  }\``,
);
console.log(`- ${runtimeName()} ${runtimeVersion()}, driver ${driver}; embedded broker (3 brokers) in this process; topics of ${partitions} partitions`);
console.log(`- ${machine.cpu}, ${machine.cores} cores, ${machine.os}; load average before: ${loadBefore} (1, 5, 15 min)`);
console.log("");
console.log("| runtime | mode | records/s per run | median records/s |");
console.log("| --- | --- | --- | ---: |");
for (const mode of ["at-least-once", "exactly-once"] as const) {
  console.log(`| ${runtimeName()} | ${mode} | ${results[mode].map(int).join(", ")} | ${int(median(results[mode]))} |`);
}
