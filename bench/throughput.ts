/**
 * Throughput of one runtime: publish N × 100-byte records through kshare's
 * shared producer and await every delivery report (with `--forget`:
 * `publishAndForget` every record, then `flush()`).
 *
 *   npx deno run -A bench/throughput.ts [--messages 1000000]
 *   npx bun bench/throughput.ts
 *   node --import tsx bench/throughput.ts [--driver ffi]
 *
 * Without `--bootstrap` it starts its own broker (`bench/broker.ts`, in a
 * child process so that its threads are not counted as this process's CPU);
 * `throughput_all.ts` passes `--bootstrap` of the one broker it hosts for
 * every row, and `--json` to read the result.
 *
 * Options: --bootstrap host:port,…  --topic NAME  --partitions N (3)
 * --messages N (1,000,000)  --in-flight N (publishes outstanding, default
 * 10,000; 0 = all at once; with --forget: records between two turns of the
 * event loop)  --driver default|ffi|confluent  --json
 * --linger-ms N (librdkafka linger.ms; default librdkafka's)  --forget
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type DriverChoice, measureThroughput } from "./_throughput.ts";
import { int, mib, spawnBroker } from "./_util.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    bootstrap: { type: "string" },
    topic: { type: "string", default: "throughput" },
    partitions: { type: "string", default: "3" },
    messages: { type: "string", default: "1000000" },
    "in-flight": { type: "string", default: "10000" },
    driver: { type: "string", default: "default" },
    "linger-ms": { type: "string" },
    forget: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const driver = values.driver as DriverChoice;
if (!["default", "ffi", "confluent"].includes(driver)) throw new Error(`--driver must be default, ffi or confluent, got ${driver}`);
const partitions = Number(values.partitions);

// Alone, start a broker of our own; it is stopped after the run.
const broker = values.bootstrap ? undefined : await spawnBroker({ brokers: 3, topics: { [values.topic]: partitions } });
try {
  const result = await measureThroughput({
    bootstrapServers: values.bootstrap ?? broker!.bootstrapServers,
    topic: values.topic,
    partitions,
    messages: Number(values.messages),
    inFlight: Number(values["in-flight"]),
    forget: values.forget,
    driver,
    producer: values["linger-ms"] === undefined ? {} : { "linger.ms": values["linger-ms"] },
  });
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `${result.runtime} ${result.runtimeVersion} ${result.driver} (librdkafka ${result.librdkafkaVersion})` +
        `${result.forget ? ", publishAndForget" : ""}: ` +
        `${int(result.messages)} × 100 B in ${result.seconds.toFixed(2)} s = ${int(result.messagesPerSecond)} msg/s, ` +
        `${result.megabytesPerSecond.toFixed(1)} MB/s, CPU ${result.cpuSeconds.toFixed(2)} s, peak RSS ${mib(result.peakRssBytes)}`,
    );
  }
} finally {
  await broker?.stop();
}
