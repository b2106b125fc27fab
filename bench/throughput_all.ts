/**
 * Throughput side by side, in one run, against one embedded broker hosted by
 * this process: Deno + FFI, Bun + FFI, Node + Confluent, Node + FFI (koffi),
 * each publishing N × 100-byte records through kshare and awaiting every
 * delivery report (`throughput.ts` in a child process), the same with
 * `publishAndForget` then `flush()` (the `*-forget` rows: nobody waits per
 * record, no promise per record; the loop yields to the event loop every
 * `--in-flight` records), and `kcat -P` producing the same bytes from a file
 * (C, the native ceiling).
 *
 *   node --import tsx bench/throughput_all.ts                 # 1,000,000 messages, 3 rounds
 *   node --import tsx bench/throughput_all.ts --messages 2000 --repeat 1   # smoke (CI)
 *   npx deno run -A bench/throughput_all.ts …                 # the runner itself runs anywhere
 *
 * Options: --messages N (1,000,000)  --repeat R (3 rounds; rows interleaved
 * per round so drift hits every row alike; the table shows each row's
 * median)  --in-flight N (publishes outstanding per kshare row, 10,000;
 * 0 = all at once)  --brokers N (3)  --partitions N (3)
 * --rows deno,bun,node-confluent,node-ffi,deno-forget,bun-forget,node-confluent-forget,kcat,kcat-system,deno-linger0,bun-linger0,node-confluent-linger0
 * --out FILE (also write the report there, as markdown)
 *
 * Every client gets the same producer settings: acks=all,
 * enable.idempotence=true (kshare's defaults) and linger.ms=5 (librdkafka's
 * and so kcat's default; kcat gets all three through -X). kshare's own
 * default is linger.ms=0, for the latency of a lone awaited publish; the
 * `*-linger0` rows show what that costs in throughput. Rows run one at a time
 * (the machine has few cores; concurrent rows would measure each other),
 * writes to a topic of its own, and is checked afterwards: the topic's end
 * offsets must add up to the records sent, else the run fails. Targets
 * (issue 3) are reported, never enforced: wall-clock thresholds do not
 * belong in CI. Exit code 1 means a row failed or lost records.
 *
 * Times: kshare rows time from the first publish to the last delivery report
 * (connect and warm-up excluded). kcat cannot be instrumented, and its
 * process time includes its start, its connect and, with librdkafka 2.15 and
 * idempotence, a wait of up to ~0.5 s (it varies run to run) before its
 * producer id is assigned. So kcat rows are timed from the first Produce
 * request the broker receives from it (the runner watches the broker's
 * request log) to its exit, which comes after its final flush.
 *
 * @module
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { type EmbeddedBroker, startEmbeddedBroker } from "../testing.ts";
import type { ThroughputResult } from "./_throughput.ts";
import { int, machineInfo, MESSAGE_BYTES, MESSAGE_LINE, mib } from "./_util.ts";
import { type ChildRun, ROOT, runChild, runJson, runtimeCommand, runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: "string", default: "1000000" },
    repeat: { type: "string", default: "3" },
    "in-flight": { type: "string", default: "10000" },
    brokers: { type: "string", default: "3" },
    partitions: { type: "string", default: "3" },
    rows: {
      type: "string",
      default: "deno,bun,node-confluent,node-ffi,deno-forget,bun-forget,node-confluent-forget,kcat,kcat-system,deno-linger0,bun-linger0,node-confluent-linger0",
    },
    out: { type: "string" },
  },
});
const messages = Number(values.messages);
const repeat = Number(values.repeat);
const partitions = Number(values.partitions);
const inFlight = Number(values["in-flight"]);
const launcher = { deno: "npx deno run -A", bun: "npx bun", node: "node --import tsx" }[runtimeName()];
const command = `${launcher} bench/throughput_all.ts ${process.argv.slice(2).join(" ")}`.trim();

/** librdkafka's build inside the Confluent package: what the FFI driver loads, and what kcat is pointed at for a like-for-like row. */
const PACKAGE_LIB = `${ROOT}node_modules/@confluentinc/kafka-javascript/build/deps`;
/** The same producer settings for every client: kshare's defaults. */
const LINGER_MS = 5;
const PRODUCER_PROPS = { "acks": "all", "enable.idempotence": "true", "linger.ms": String(LINGER_MS) };
/** Kafka protocol ApiKey of ProduceRequest. */
const API_KEY_PRODUCE = 0;
/** A 1M-record child gets this long before it counts as hung. */
const CHILD_TIMEOUT_MS = 10 * 60_000;

interface Row {
  readonly id: string;
  readonly runtime: string;
  readonly driver: string;
  readonly lingerMs: number;
  /** How records are published: each awaited, or forgotten and flushed; kcat's own way. */
  readonly mode: "awaited" | "forget" | "kcat";
  run(topic: string, broker: EmbeddedBroker): Promise<Sample>;
}

interface Sample {
  readonly messagesPerSecond: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly cpuSeconds?: number;
  readonly librdkafkaVersion: string;
  /** Records the client wrote beyond `messages` (warm-up). */
  readonly extra: number;
  /** kcat only: wall time of the whole process, of which `seconds` is the part from its first Produce request. */
  readonly kcatWall?: number;
}

function failure(what: string, run: ChildRun): Error {
  return new Error(`${what} exited ${run.code}:\n${run.stderr.trim() || run.stdout.trim()}`);
}

/**
 * A row running throughput.ts on `runtime` with `driver`, with `linger.ms` set to `lingerMs`
 * (default {@link LINGER_MS}), each publish awaited or (`forget`) with `publishAndForget`.
 */
function kshareRow(
  id: string,
  runtime: "deno" | "bun" | "node",
  driver: "ffi" | "confluent",
  label: string,
  lingerMs = LINGER_MS,
  forget = false,
): Row {
  return {
    id,
    runtime,
    driver: label,
    lingerMs,
    mode: forget ? "forget" : "awaited",
    async run(topic, broker) {
      const result = await runJson<ThroughputResult>(runtime, "bench/throughput.ts", [
        `--bootstrap=${broker.bootstrapServers}`,
        `--topic=${topic}`,
        `--partitions=${partitions}`,
        `--messages=${messages}`,
        `--in-flight=${inFlight}`,
        `--driver=${driver}`,
        `--linger-ms=${lingerMs}`,
        ...(forget ? ["--forget"] : []),
      ], CHILD_TIMEOUT_MS);
      return {
        messagesPerSecond: result.messagesPerSecond,
        seconds: result.seconds,
        peakRssBytes: result.peakRssBytes,
        cpuSeconds: result.cpuSeconds,
        librdkafkaVersion: result.librdkafkaVersion,
        extra: result.warmup,
      };
    },
  };
}

/** A row running `kcat -P` on the input file, with the package's librdkafka or the system's. */
function kcatRow(id: string, file: string, library: "package" | "system"): Row {
  const env = library === "package" ? { ...process.env, LD_LIBRARY_PATH: PACKAGE_LIB } : process.env;
  let version = "";
  return {
    id,
    runtime: "C",
    driver: library === "package" ? "kcat -P (same librdkafka)" : "kcat -P (system librdkafka)",
    lingerMs: LINGER_MS,
    mode: "kcat",
    async run(topic, broker) {
      version ||= (await kcatVersion(env)).librdkafka;
      const props = Object.entries(PRODUCER_PROPS).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
      // Watch the broker's request log (tracking is on, cleared per row) for kcat's first Produce request.
      broker.clearRequests();
      let firstProduceAt = 0;
      const watch = setInterval(() => {
        if (broker.requests().some((r) => r.apiKey === API_KEY_PRODUCE)) {
          firstProduceAt = performance.now();
          clearInterval(watch);
        }
      }, 2);
      const run = await runChild("kcat", ["-b", broker.bootstrapServers, "-P", "-t", topic, "-l", file, ...props], {
        env,
        timeoutMs: CHILD_TIMEOUT_MS,
      }).finally(() => clearInterval(watch));
      broker.clearRequests();
      if (run.code !== 0) throw failure("kcat -P", run);
      if (firstProduceAt === 0) throw new Error("kcat exited before the broker saw a Produce request from it");
      const seconds = (run.endedAt - firstProduceAt) / 1000;
      return {
        messagesPerSecond: messages / seconds,
        seconds,
        peakRssBytes: run.peakRssBytes,
        librdkafkaVersion: version,
        extra: 0,
        kcatWall: run.seconds,
      };
    },
  };
}

async function kcatVersion(env: NodeJS.ProcessEnv = process.env): Promise<{ kcat: string; librdkafka: string }> {
  const out = (await runChild("kcat", ["-V"], { env })).stdout;
  return { kcat: out.match(/Version (\S+)/)?.[1] ?? "?", librdkafka: out.match(/librdkafka (\S+)/)?.[1] ?? "?" };
}

/** Sum of a topic's end offsets, by kcat's offset query: what the broker holds, whoever wrote it. */
async function recordsIn(bootstrap: string, topic: string): Promise<number> {
  const query = Array.from({ length: partitions }, (_, p) => ["-t", `${topic}:${p}:-1`]).flat();
  const run = await runChild("kcat", ["-b", bootstrap, "-Q", ...query]);
  if (run.code !== 0) throw failure("kcat -Q", run);
  // One line per partition: "<topic> [<partition>] offset <n>".
  return [...run.stdout.matchAll(/offset (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** The input of the kcat rows: `messages` lines of the exact bytes kshare sends. */
async function writeInput(file: string): Promise<void> {
  const out = createWriteStream(file);
  const chunk = `${MESSAGE_LINE}\n`.repeat(10_000);
  for (let left = messages; left > 0; left -= 10_000) {
    const text = left >= 10_000 ? chunk : `${MESSAGE_LINE}\n`.repeat(left);
    if (!out.write(text)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    return (await runChild(cmd, args)).stdout.split("\n")[0]!.trim();
  } catch {
    return "not found";
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------------------

mkdirSync(`${ROOT}bench/out`, { recursive: true });
const inputFile = `${ROOT}bench/out/throughput-input-${messages}.txt`;
await writeInput(inputFile);

const allRows: Row[] = [
  kshareRow("deno", "deno", "ffi", "FFI (Deno.dlopen)"),
  kshareRow("bun", "bun", "ffi", "FFI (bun:ffi)"),
  kshareRow("node-confluent", "node", "confluent", "@confluentinc/kafka-javascript"),
  kshareRow("node-ffi", "node", "ffi", "FFI (koffi)"),
  kshareRow("deno-forget", "deno", "ffi", "FFI (Deno.dlopen)", LINGER_MS, true),
  kshareRow("bun-forget", "bun", "ffi", "FFI (bun:ffi)", LINGER_MS, true),
  kshareRow("node-confluent-forget", "node", "confluent", "@confluentinc/kafka-javascript", LINGER_MS, true),
  kcatRow("kcat", inputFile, "package"),
  kcatRow("kcat-system", inputFile, "system"),
  kshareRow("deno-linger0", "deno", "ffi", "FFI (Deno.dlopen)", 0),
  kshareRow("bun-linger0", "bun", "ffi", "FFI (bun:ffi)", 0),
  kshareRow("node-confluent-linger0", "node", "confluent", "@confluentinc/kafka-javascript", 0),
];
const wanted = values.rows.split(",").map((s) => s.trim());
const rows = allRows.filter((row) => wanted.includes(row.id));

const loadBefore = os.loadavg();
const broker = await startEmbeddedBroker({ brokers: Number(values.brokers) });
broker.startRequestTracking();
const samples = new Map<string, Sample[]>(rows.map((row) => [row.id, []]));
const errors: string[] = [];
try {
  for (let round = 1; round <= repeat; round++) {
    for (const row of rows) {
      const topic = `throughput-${row.id}-${round}`;
      broker.createTopic(topic, partitions);
      try {
        const sample = await row.run(topic, broker);
        const stored = await recordsIn(broker.bootstrapServers, topic);
        if (stored !== messages + sample.extra) throw new Error(`the broker holds ${stored} records, expected ${messages + sample.extra}`);
        samples.get(row.id)!.push(sample);
        console.error(`round ${round} ${row.id}: ${int(sample.messagesPerSecond)} msg/s, peak RSS ${mib(sample.peakRssBytes)}`);
      } catch (error) {
        errors.push(`${row.id} (round ${round}): ${(error as Error).message}`);
        console.error(`round ${round} ${row.id}: FAILED ${(error as Error).message}`);
      }
    }
  }
} finally {
  await broker.stop();
}
const loadAfter = os.loadavg();

// ---------------------------------------------------------------------------

interface Summary {
  row: Row;
  msgs: number;
  peak: number;
  cpu?: number;
  runs: readonly Sample[];
}
const summaries: Summary[] = rows.filter((row) => samples.get(row.id)!.length > 0).map((row) => {
  const runs = samples.get(row.id)!;
  const cpu = runs.every((s) => s.cpuSeconds !== undefined) ? median(runs.map((s) => s.cpuSeconds! / s.seconds)) : undefined;
  return { row, runs, msgs: median(runs.map((s) => s.messagesPerSecond)), peak: Math.max(...runs.map((s) => s.peakRssBytes)), cpu };
});
const byId = (id: string) => summaries.find((s) => s.row.id === id);
const confluent = byId("node-confluent");
const kcat = byId("kcat");
const ratio = (s: Summary, base: Summary | undefined) => (base ? `${(s.msgs / base.msgs).toFixed(2)}×` : "–");

const [denoV, bunV, nodeV, kcatV] = await Promise.all([
  versionOf(runtimeCommand("deno", "", [])[0], ["--version"]),
  versionOf(runtimeCommand("bun", "", [])[0], ["--version"]),
  versionOf(runtimeCommand("node", "", [])[0], ["--version"]),
  kcatVersion(),
]);
const machine = machineInfo();
const libs = [...new Set(summaries.flatMap((s) => s.runs.map((r) => `${s.row.driver}: ${r.librdkafkaVersion}`)))];

const lines: string[] = [];
lines.push(`# Throughput: ${int(messages)} × ${MESSAGE_BYTES}-byte messages, awaiting every delivery report or forgetting them`, "");
lines.push(`Command: \`${command}\` (runner on ${runtimeName()} ${runtimeVersion()}), ${new Date().toISOString()}`, "");
lines.push(
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory} RAM, ${machine.os}; ` +
    `load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(2)).join("/")} before, ` +
    `${loadAfter.map((l) => l.toFixed(2)).join("/")} after (other work on the machine shows here)`,
  "",
);
lines.push(
  `Versions: deno ${denoV.replace(/^deno /, "")}; bun ${bunV}; node ${nodeV}; kcat ${kcatV.kcat}; librdkafka ${libs.join(", ") || "–"}`,
  "",
);
lines.push(
  `Setup: one embedded broker (librdkafka mock cluster, ${values.brokers} brokers) in the runner's process; ` +
    `each row in its own process, one at a time, to its own topic of ${partitions} partitions; ` +
    `producer settings acks=all, enable.idempotence=true (kshare's defaults) and linger.ms as in the table (${LINGER_MS}: librdkafka's default; 0: kshare's), kcat via -X, librdkafka defaults otherwise; ` +
    (inFlight > 0 ? `awaited rows keep at most ${int(inFlight)} publishes in flight; ` : "awaited rows start every publish at once; ") +
    `forget rows call publishAndForget for each record, ` +
    (inFlight > 0 ? `yield to the event loop every ${int(inFlight)} records, ` : "") +
    `flush() on QueueFullError and at the end (timed to the end of that flush); ` +
    `${repeat} round(s), median msg/s and highest peak RSS per row.`,
  "",
);
lines.push("| runtime | driver | publish | linger.ms | msg/s | MB/s | CPU (cores) | peak RSS | vs Node+Confluent | vs kcat |");
lines.push("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const s of summaries) {
  lines.push(
    `| ${s.row.runtime} | ${s.row.driver} | ${s.row.mode} | ${s.row.lingerMs} | ${int(s.msgs)} | ${(s.msgs * MESSAGE_BYTES / 1e6).toFixed(1)} | ${
      s.cpu === undefined ? "–" : s.cpu.toFixed(2)
    } | ${s.peak > 0 ? mib(s.peak) : "–"} | ${ratio(s, confluent)} | ${ratio(s, kcat)} |`,
  );
}
lines.push("");
lines.push(
  "Per round (msg/s): " + summaries.map((s) => `${s.row.id} ${s.runs.map((r) => int(r.messagesPerSecond)).join(" / ")}`).join("; "),
  "",
);
const kcatWalls = summaries.filter((s) => s.runs[0]?.kcatWall).map((s) =>
  `${s.row.id} ${s.runs.map((r) => `${r.seconds.toFixed(2)} of ${r.kcatWall!.toFixed(2)} s`).join(" / ")}`
);
if (kcatWalls.length > 0) lines.push(`kcat time from its first Produce request, of its whole process: ${kcatWalls.join("; ")}`, "");

const targets: string[] = [];
for (const id of ["deno", "bun"]) {
  const s = byId(id);
  if (!s) continue;
  if (confluent) {
    targets.push(`- ${id} + FFI ≥ Node + Confluent: ${s.msgs >= confluent.msgs ? "met" : "MISSED"} (${ratio(s, confluent)})`);
  }
  if (kcat) targets.push(`- ${id} + FFI ≥ ½ kcat -P: ${s.msgs >= kcat.msgs / 2 ? "met" : "MISSED"} (${ratio(s, kcat)})`);
}
if (targets.length > 0) lines.push("Targets (issue 3):", ...targets, "");
const forgetTargets: string[] = [];
for (const id of ["deno-forget", "bun-forget"]) {
  const s = byId(id);
  if (s && kcat) forgetTargets.push(`- ${id} ≥ 0.8 × kcat -P: ${s.msgs >= kcat.msgs * 0.8 ? "met" : "MISSED"} (${ratio(s, kcat)})`);
}
if (forgetTargets.length > 0) lines.push("Targets (issue 16):", ...forgetTargets, "");
if (errors.length > 0) lines.push("Failures:", ...errors.map((e) => `- ${e}`), "");

const report = lines.join("\n");
console.log(report);
if (values.out) writeFileSync(values.out, report + "\n");
process.exitCode = errors.length > 0 ? 1 : 0;
