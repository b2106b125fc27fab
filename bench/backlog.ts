/**
 * A consumer working through a backlog larger than its topic's
 * `maxBufferedMessages`, so the topic pauses and resumes over and over:
 * records/s from the first handler's start to the last handler's end.
 * Each handler awaits a publish of its record to another topic (an
 * at-least-once consume-then-publish), so the consumer's buffer drains at the
 * rate of delivery reports and each resume must refetch before it runs dry.
 *
 *   npx bun bench/backlog.ts [--max-buffered 1000] [--messages 5000] [--handler publish|sync]
 *   npx deno run -A bench/backlog.ts
 *   node --import tsx bench/backlog.ts
 *
 * Prints one line: runtime, settings, records/s and the topic's peak buffered
 * count (at the bound: it paused). The embedded broker (3 brokers, topics of 3
 * partitions) runs in this process.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { createRegistry } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { benchTopic, int, publishAll } from "./_util.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "max-buffered": { type: "string", default: "1000" },
    messages: { type: "string", default: "5000" },
    handler: { type: "string", default: "publish" },
  },
});
const maxBuffered = Number(values["max-buffered"]);
const messages = Number(values.messages);
const handler = values.handler;
if (handler !== "publish" && handler !== "sync") throw new TypeError(`--handler: publish or sync, got ${handler}`);

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
const ctx = { bootstrapServers: broker.bootstrapServers };
const input = benchTopic("backlog-in", maxBuffered);
const output = benchTopic("backlog-out");
broker.createTopic(input.name, 3, 1);
broker.createTopic(output.name, 3, 1);
const kafka = createRegistry();
const producer = await kafka.producer(ctx);
await publishAll(producer, input, messages, 1000);

let handled = 0;
let firstAt = 0;
let allHandled!: () => void;
const done = new Promise<void>((resolve) => (allHandled = resolve));
const begin = () => {
  if (firstAt === 0) firstAt = performance.now();
};
const end = () => {
  if (++handled === messages) allHandled();
};
const consumer = kafka.consumer(ctx, "backlog");
consumer.subscribe(
  input,
  handler === "publish"
    ? async (message) => {
      begin();
      await producer.publish(output, message.value);
      end();
    }
    : () => {
      begin();
      end();
    },
);
await consumer.start();
await done;
const perSecond = (messages / (performance.now() - firstAt)) * 1000;
const peak = consumer.stats().peakBuffered[input.name];
await kafka.close();
await broker.stop();
console.log(
  `${runtimeName()} ${runtimeVersion()}: ${messages} records, maxBufferedMessages ${maxBuffered}, ${handler} handler: ${
    int(perSecond)
  } records/s (peak buffered ${peak})`,
);
