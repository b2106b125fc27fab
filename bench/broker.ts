/**
 * An embedded broker as a process of its own, for benchmarks that measure
 * their own memory or CPU: the mock cluster keeps every record it receives
 * in memory and runs its own threads, which would otherwise count as the
 * client's.
 *
 *   npx deno run -A bench/broker.ts --brokers 3 --topic soak:3 --topic other:1
 *
 * Prints one JSON line, `{"bootstrapServers":"127.0.0.1:…"}`, once the
 * topics exist, then serves until its standard input closes (so it ends with
 * the process that started it, however that one ends) or it gets SIGTERM.
 * Used by {@link spawnBroker} in `_util.ts`.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../testing.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    brokers: { type: "string", default: "3" },
    topic: { type: "string", multiple: true, default: [] },
  },
});

const broker = await startEmbeddedBroker({ brokers: Number(values.brokers), groupInitialRebalanceDelayMs: 0 });
for (const spec of values.topic) {
  const [name, partitions = "1"] = spec.split(":");
  broker.createTopic(name!, Number(partitions));
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await broker.stop();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
console.log(JSON.stringify({ bootstrapServers: broker.bootstrapServers }));
