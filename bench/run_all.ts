/**
 * The benchmark runner: every step on Deno, Bun and Node, each child in a
 * process of its own with its runtime's default driver, against an embedded
 * broker hosted here. It writes what it measured as JSON and renders it
 * (`_render.ts`: Markdown tables and the chart); what the figures mean is
 * written by hand in the RESULTS files. Steps, options and what each counts:
 * bench/README.md.
 *
 *   npx deno task bench:all                   # = deno run -A bench/run_all.ts: the default steps, full size
 *   npm run bench:all -- --smoke              # tiny N; exits 1 if a counter check or a child fails
 *   node --import tsx bench/run_all.ts --only faults,soak,scale,fairness,gateway-rss
 *   node --import tsx bench/run_all.ts --render bench/out/results.json   # render a saved run again
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, relative, resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { type EmbeddedBroker, startEmbeddedBroker } from "../testing.ts";
import { wrkLoad, wrkVersion } from "./http_load.ts";
import { int, machineInfo, MESSAGE_LINE } from "./_util.ts";
import { ROOT, runChild, runJson, runtimeCommand, type RuntimeName, runtimeName, runtimeVersion } from "./_child.ts";
import type { ThroughputResult } from "./_throughput.ts";
import { renderChart, renderResults } from "./_render.ts";
import { checkCounters } from "./scenarios/_checks.ts";
import { runScenario } from "./scenarios/_host.ts";
import { between } from "./scenarios/_probe.ts";
import type { Plan, PublishVariant, Results, ThroughputSample } from "./scenarios/_results.ts";
import type { ConsumeResult } from "./scenarios/consume.ts";
import { HTTP_BODY, HTTP_HEADERS, HTTP_PATH, HTTP_TOPIC, type HttpServerResult } from "./scenarios/http.ts";
import type { LoadResult } from "./http_load.ts";
import type { LookupResult } from "./scenarios/lookup.ts";
import type { PublishResult } from "./scenarios/publish.ts";

/** Throughput rows: id → runtime, driver, linger.ms, how records are published. */
const THROUGHPUT_ROWS: Record<string, readonly [RuntimeName | "C", string, number, "awaited" | "forget" | "kcat"]> = {
  "deno": ["deno", "ffi", 5, "awaited"],
  "bun": ["bun", "ffi", 5, "awaited"],
  "node-confluent": ["node", "confluent", 5, "awaited"],
  "node-ffi": ["node", "ffi", 5, "awaited"],
  "deno-forget": ["deno", "ffi", 5, "forget"],
  "bun-forget": ["bun", "ffi", 5, "forget"],
  "node-confluent-forget": ["node", "confluent", 5, "forget"],
  "node-ffi-forget": ["node", "ffi", 5, "forget"],
  "kcat": ["C", "package", 5, "kcat"],
  "kcat-system": ["C", "system", 5, "kcat"],
  "deno-linger0": ["deno", "ffi", 0, "awaited"],
  "bun-linger0": ["bun", "ffi", 0, "awaited"],
  "node-confluent-linger0": ["node", "confluent", 0, "awaited"],
};
/** The script steps: file and the arguments of a full and of a smoke run. */
const SCRIPTS: Record<string, { file: string; full: string[]; smoke: string[] }> = {
  faults: { file: "bench/reliability.ts", full: ["--rounds=20"], smoke: ["--rounds=1"] },
  soak: { file: "bench/soak.ts", full: [], smoke: ["--messages=20000", "--idle-seconds=2", "--settle-seconds=1"] },
  scale: { file: "bench/scale.ts", full: ["--contexts=1000"], smoke: ["--contexts=20", "--idle-seconds=1"] },
  fairness: { file: "bench/fairness.ts", full: ["--seconds=10", "--flood=4"], smoke: ["--seconds=1", "--flood=1"] },
  "gateway-rss": { file: "bench/gateway_rss.ts", full: [], smoke: ["--requests=300", "--warmup=100"] },
};
const DEFAULT_STEPS = "publish,lookup,consume,http,throughput";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    smoke: { type: "boolean", default: false },
    runtimes: { type: "string", default: "deno,bun,node" },
    only: { type: "string", default: DEFAULT_STEPS },
    rows: { type: "string", default: Object.keys(THROUGHPUT_ROWS).join(",") },
    repeat: { type: "string", default: "1" },
    "in-flight": { type: "string", default: "10000" },
    messages: { type: "string" },
    out: { type: "string" },
    render: { type: "string" },
  },
});
const log = (line: string) => console.error(`[bench] ${line}`);

/**
 * Write the tables of `results` beside `jsonFile` (RESULTS.md, to copy from
 * into the hand-written bench/RESULTS*.md) and the chart: bench/chart.svg
 * after a full run that measured publishing, else beside the tables.
 */
function render(results: Results, jsonFile: string) {
  const stem = results.smoke ? "-smoke" : "";
  const checks = checkCounters(results);
  const tables = `${dirname(jsonFile)}/RESULTS${stem}.md`;
  const chart = !results.smoke && results.publish.length > 0 ? `${ROOT}bench/chart.svg` : `${dirname(jsonFile)}/chart${stem}.svg`;
  writeFileSync(tables, renderResults(results, checks, relative(dirname(tables), chart)));
  writeFileSync(chart, renderChart(results));
  log(`wrote ${tables.replace(ROOT, "")} and ${chart.replace(ROOT, "")}`);
  return checks;
}

if (values.render) {
  const file = resolve(ROOT, values.render);
  render(JSON.parse(readFileSync(file, "utf8")) as Results, file);
  process.exit(0);
}

const smoke = values.smoke;
const steps = values.only.split(",").map((s) => s.trim());
const runtimes = values.runtimes.split(",").map((s) => s.trim()) as RuntimeName[];
for (const r of runtimes) if (!["deno", "bun", "node"].includes(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
for (const s of steps) if (!DEFAULT_STEPS.split(",").includes(s) && !(s in SCRIPTS)) throw new Error(`--only: unknown step ${s}`);
const rows = values.rows.split(",").map((s) => s.trim());
for (const id of rows) if (!(id in THROUGHPUT_ROWS)) throw new Error(`--rows: unknown row ${id} (known: ${Object.keys(THROUGHPUT_ROWS).join(", ")})`);
const outFile = resolve(ROOT, values.out ?? `bench/out/results${smoke ? "-smoke" : ""}.json`);
const consumer = { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500 };

const plan: Plan = {
  runtimes,
  steps,
  brokers: 3,
  partitions: 3,
  publish: smoke
    ? { rtts: [0, 2], callers: [1, 4], variantRtts: [0], shared: { maxOps: 30, maxSeconds: 2 }, recreated: { maxOps: 4, maxSeconds: 2 } }
    : { rtts: [0, 2, 20], callers: [1, 100], variantRtts: [0, 20], shared: { maxOps: 200_000, maxSeconds: 2 }, recreated: { maxOps: 300, maxSeconds: 4 } },
  lookup: smoke ? { iterations: 2_000, batches: 3, idleSeconds: 0.2 } : { iterations: 100_000, batches: 11, idleSeconds: 3 },
  consume: smoke ? { rtts: [0], topicCounts: [1, 3], timeoutMs: 30_000, consumer } : { rtts: [0, 20], topicCounts: [1, 10, 50], timeoutMs: 60_000, consumer },
  http: smoke ? { rtts: [0], connections: [4], seconds: 1, layerSeconds: 0.2 } : { rtts: [0], connections: [32, 256], seconds: 4, layerSeconds: 2 },
  throughput: { messages: Number(values.messages ?? (smoke ? 2_000 : 1_000_000)), repeat: Number(values.repeat), inFlight: Number(values["in-flight"]), rows },
  scripts: Object.fromEntries(Object.entries(SCRIPTS).map(([step, s]) => [step, smoke ? s.smoke : s.full])),
};

/** The first line a command prints (all of it with `all`), or `not found`. */
function versionOf(cmd: string, args: string[], env?: NodeJS.ProcessEnv, all = false): string {
  try {
    const out = execFileSync(cmd, args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
    return all ? out : out.split("\n")[0]!.trim();
  } catch {
    return "not found";
  }
}
/** librdkafka's build inside the Confluent package: what the FFI driver loads, and what kcat is pointed at for a like-for-like row. */
const PACKAGE_LIB_ENV = { ...process.env, LD_LIBRARY_PATH: `${ROOT}node_modules/@confluentinc/kafka-javascript/build/deps` };
const kcatVersion = (env?: NodeJS.ProcessEnv) => versionOf("kcat", ["-V"], env, true).match(/librdkafka (\S+)/)?.[1] ?? "not found";

const startedAt = new Date();
const versions: Record<string, string> = {
  ...Object.fromEntries(runtimes.map((r) => [r, versionOf(runtimeCommand(r, "", [])[0], ["--version"]).replace(/^(deno |v)/, "").split(" ")[0]!])),
  kcat: `${versionOf("kcat", ["-V"], undefined, true).match(/Version (\S+)/)?.[1] ?? "?"} (system librdkafka ${kcatVersion()})`,
  wrk: steps.includes("http") ? (await wrkVersion()).replace(/ Copyright.*/, "") : "not used",
  runner: `${runtimeName()} ${runtimeVersion()}`,
  kshare: versionOf("git", ["-C", ROOT, "describe", "--always", "--dirty"]),
};
const results: Results = {
  smoke,
  command: `${{ deno: "npx deno run -A", bun: "npx bun", node: "node --import tsx" }[runtimeName()]} bench/run_all.ts ${process.argv.slice(2).join(" ")}`
    .trim(),
  startedAt: startedAt.toISOString(),
  seconds: 0,
  machine: machineInfo(),
  loadBefore: os.loadavg(),
  versions,
  plan,
  publish: [],
  lookup: [],
  consume: [],
  http: [],
  httpLayers: [],
  throughput: [],
  scripts: [],
  failures: [],
};
const librdkafka = new Map<string, string>();
const noteDriver = (r: { runtime: string; driver: string; librdkafkaVersion: string }) => librdkafka.set(`${r.runtime} ${r.driver}`, r.librdkafkaVersion);

/** Run one child; a failure is recorded and the run goes on. */
async function attempt(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    results.failures.push(`${what}: ${(error as Error).message}`);
    log(`FAILED ${what}: ${(error as Error).message.split("\n").slice(0, 6).join(" | ")}`);
  }
}

/** A broker of the plan's size with request tracking on; `fn` gets it, and it is stopped after. */
async function withBroker(fn: (broker: EmbeddedBroker) => Promise<void>): Promise<void> {
  const broker = await startEmbeddedBroker({ brokers: plan.brokers, groupInitialRebalanceDelayMs: 0 });
  broker.startRequestTracking();
  try {
    await fn(broker);
  } finally {
    await broker.stop();
  }
}

async function publishStep(broker: EmbeddedBroker): Promise<void> {
  broker.createTopic("bench-publish", plan.partitions, 1);
  for (const rttMs of plan.publish.rtts) {
    broker.setRtt(-1, rttMs);
    for (const runtime of runtimes) {
      for (const callers of plan.publish.callers) {
        const variants: PublishVariant[] = ["defaults"];
        if (plan.publish.variantRtts.includes(rttMs)) variants.push("no-idempotence");
        if (callers === 1) variants.push("linger5");
        for (const variant of variants) {
          for (const mode of variant === "linger5" ? ["shared"] as const : ["shared", "recreated"] as const) {
            const bounds = plan.publish[mode];
            const what = `publish ${runtime} RTT ${rttMs} ${callers} caller(s) ${mode} ${variant}`;
            await attempt(what, async () => {
              const { result, marks } = await runScenario<PublishResult>(
                runtime,
                "publish",
                {
                  bootstrapServers: broker.bootstrapServers,
                  topic: "bench-publish",
                  partitions: plan.partitions,
                  mode,
                  idempotent: variant !== "no-idempotence",
                  callers,
                  maxOps: Math.max(bounds.maxOps, callers),
                  maxSeconds: bounds.maxSeconds,
                  ...(variant === "linger5" ? { producer: { "linger.ms": 5 } } : {}),
                },
                broker,
                { timeoutMs: (bounds.maxSeconds + 90) * 1000 },
              );
              noteDriver(result);
              const setup = between(marks.start!, marks.warm!);
              const measured = between(marks.warm!, marks.done!);
              results.publish.push({ runtime, rttMs, callers, mode, variant, result, setup, measured });
              log(
                `${what}: ${result.opsPerSecond.toFixed(1)}/s, p50 ${result.p50Ms.toFixed(2)} ms, connections ${setup.connections} + ${measured.connections}`,
              );
            });
          }
        }
      }
    }
  }
  broker.setRtt(-1, 0);
}

async function lookupStep(broker: EmbeddedBroker): Promise<void> {
  for (const runtime of runtimes) {
    await attempt(`lookup ${runtime}`, async () => {
      const { result } = await runScenario<LookupResult>(runtime, "lookup", { bootstrapServers: broker.bootstrapServers, ...plan.lookup }, broker, {
        timeoutMs: 120_000,
      });
      noteDriver(result);
      results.lookup.push({ runtime, result });
      log(
        `lookup ${runtime}: same ${result.sameObjectNs.toFixed(1)} ns, equal ${result.equalObjectNs.toFixed(1)} ns, idle CPU ${
          result.idleCpuPercent.toFixed(2)
        }%`,
      );
    });
  }
}

async function consumeStep(broker: EmbeddedBroker): Promise<void> {
  let sequence = 0;
  for (const rttMs of plan.consume.rtts) {
    broker.setRtt(-1, rttMs);
    for (const runtime of runtimes) {
      for (const count of plan.consume.topicCounts) {
        for (const mode of ["shared", "separate"] as const) {
          const what = `consume ${runtime} RTT ${rttMs} ${count} topic(s) ${mode}`;
          await attempt(what, async () => {
            const id = `consume-${++sequence}-${runtime}-${rttMs}-${count}-${mode}`;
            const topics = Array.from({ length: count }, (_, i) => `${id}-t${i}`);
            for (const topic of topics) broker.createTopic(topic, plan.partitions, 1);
            const { result, marks } = await runScenario<ConsumeResult>(
              runtime,
              "consume",
              {
                bootstrapServers: broker.bootstrapServers,
                topics,
                mode,
                groupId: `${id}-group`,
                timeoutMs: plan.consume.timeoutMs,
                consumer: plan.consume.consumer,
              },
              broker,
              { timeoutMs: plan.consume.timeoutMs + 120_000 },
            );
            noteDriver(result);
            // Up to after the registry closed: at `done` a connection may still be setting up (counted late).
            const measured = between(marks.warm!, marks.closed ?? marks.done!);
            results.consume.push({ runtime, rttMs, topics: count, mode, result, measured });
            log(`${what}: ${result.firstMessagesSeconds?.toFixed(2) ?? "timed out"} s, ${measured.joinGroups} JoinGroups, ${measured.connections} connections`);
          });
        }
      }
    }
  }
  broker.setRtt(-1, 0);
}

async function httpStep(broker: EmbeddedBroker): Promise<void> {
  for (const rttMs of plan.http.rtts) {
    for (const runtime of runtimes) {
      for (const connections of plan.http.connections) {
        for (const app of ["bare", "bare-auth", "publish", "gateway", "naive"] as const) {
          const what = `http ${runtime} RTT ${rttMs} ${app} ${connections} connections`;
          // A broker of its own per HTTP child: a producer-per-request storm leaves thousands of half-open
          // connections behind (the mock brokers listen with a backlog of 5), which would otherwise reach
          // the next child's broker counters seconds later.
          await withBroker((own) => {
            own.createTopic(HTTP_TOPIC, plan.partitions, 1);
            own.setRtt(-1, rttMs);
            return attempt(what, async () => {
              let load: LoadResult | undefined;
              const { result, marks } = await runScenario<HttpServerResult>(
                runtime,
                "http",
                {
                  bootstrapServers: own.bootstrapServers,
                  app,
                  warmupRequests: 5,
                },
                own,
                {
                  timeoutMs: (plan.http.seconds + 120) * 1000,
                  onMark: async (label) => {
                    if (!label.startsWith("warm ")) return;
                    const url = label.slice("warm ".length) + HTTP_PATH;
                    load = await wrkLoad({ url, body: HTTP_BODY, headers: HTTP_HEADERS }, { connections, seconds: plan.http.seconds });
                  },
                },
              );
              if (!load) throw new Error("the server never reported it was listening");
              noteDriver(result);
              const measured = between(marks.warm!, marks.done!);
              results.http.push({ runtime, rttMs, app, connections, load, server: result, measured });
              log(`${what}: ${load.requestsPerSecond.toFixed(0)} req/s, producers ${result.clientsCreated}, connections ${measured.connections}`);
            });
          });
        }
      }
    }
  }
  if (plan.http.layerSeconds <= 0) return;
  for (const runtime of runtimes) {
    await attempt(`http layers ${runtime}`, async () => {
      const args = [`--bootstrap=${broker.bootstrapServers}`, `--seconds=${plan.http.layerSeconds}`];
      type Layers = Results["httpLayers"][number]["layers"];
      const { results: layers } = await runJson<{ results: Layers }>(runtime, "bench/http_layers.ts", args, 120_000);
      results.httpLayers.push({ runtime, layers });
      log(`http layers ${runtime}: ${layers.map((l) => `${l.layer} ${l.requestsPerSecond.toFixed(0)}`).join(", ")} req/s`);
    });
  }
}

/**
 * Each row alone, to a topic of its own, rounds interleaved so drift hits
 * every row alike; the topic's end offsets (kcat) must add up to what the
 * row sent. kcat is timed from the first Produce request the broker sees from
 * it to its exit: its process time also holds its start and, with
 * idempotence, a wait for its producer id that kshare's rows exclude.
 */
async function throughputStep(broker: EmbeddedBroker): Promise<void> {
  const { messages, inFlight } = plan.throughput;
  mkdirSync(`${ROOT}bench/out`, { recursive: true });
  const inputFile = `${ROOT}bench/out/throughput-input-${messages}.txt`;
  const input = createWriteStream(inputFile);
  for (let left = messages; left > 0; left -= 10_000) {
    if (!input.write(`${MESSAGE_LINE}\n`.repeat(Math.min(left, 10_000)))) await new Promise<void>((r) => input.once("drain", () => r()));
  }
  await new Promise<void>((r) => input.end(() => r()));
  const props = ["-X", "acks=all", "-X", "enable.idempotence=true"];
  for (let round = 1; round <= plan.throughput.repeat; round++) {
    for (const id of rows) {
      const [runtime, driver, lingerMs, mode] = THROUGHPUT_ROWS[id]!;
      const topic = `throughput-${id}-${round}`;
      broker.createTopic(topic, plan.partitions);
      await attempt(`throughput ${id} round ${round}`, async () => {
        let sample: ThroughputSample;
        let extra = 0;
        if (runtime === "C") {
          const env = driver === "package" ? PACKAGE_LIB_ENV : process.env;
          broker.clearRequests();
          let firstProduceAt = 0;
          const watch = setInterval(() => {
            if (broker.requests().some((r) => r.apiKey === 0)) firstProduceAt ||= performance.now();
          }, 2);
          const run = await runChild("kcat", ["-b", broker.bootstrapServers, "-P", "-t", topic, "-l", inputFile, ...props, "-X", `linger.ms=${lingerMs}`], {
            env,
            timeoutMs: 10 * 60_000,
          }).finally(() => clearInterval(watch));
          broker.clearRequests();
          if (run.code !== 0 || firstProduceAt === 0) throw new Error(`kcat -P exited ${run.code}: ${run.stderr.trim()}`);
          const seconds = (run.endedAt - firstProduceAt) / 1000;
          sample = {
            id,
            runtime,
            driver: `kcat -P (${driver === "package" ? "same" : "system"} librdkafka)`,
            lingerMs,
            mode,
            round,
            messagesPerSecond: messages / seconds,
            seconds,
            peakRssBytes: run.peakRssBytes,
            librdkafkaVersion: kcatVersion(env),
            kcatWallSeconds: run.seconds,
          };
        } else {
          const r = await runJson<ThroughputResult>(runtime, "bench/throughput.ts", [
            `--bootstrap=${broker.bootstrapServers}`,
            `--topic=${topic}`,
            `--partitions=${plan.partitions}`,
            `--messages=${messages}`,
            `--in-flight=${inFlight}`,
            `--driver=${driver}`,
            `--linger-ms=${lingerMs}`,
            ...(mode === "forget" ? ["--forget"] : []),
          ], 10 * 60_000);
          noteDriver(r);
          extra = r.warmup;
          const { messagesPerSecond, seconds, cpuSeconds, peakRssBytes, librdkafkaVersion } = r;
          sample = { id, runtime, driver: r.driver, lingerMs, mode, round, messagesPerSecond, seconds, cpuSeconds, peakRssBytes, librdkafkaVersion };
        }
        const query = Array.from({ length: plan.partitions }, (_, p) => ["-t", `${topic}:${p}:-1`]).flat();
        const offsets = (await runChild("kcat", ["-b", broker.bootstrapServers, "-Q", ...query])).stdout;
        const stored = [...offsets.matchAll(/offset (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
        if (stored !== messages + extra) throw new Error(`the broker holds ${stored} records, expected ${messages + extra}`);
        results.throughput.push(sample);
        log(`throughput ${id} round ${round}: ${int(sample.messagesPerSecond)} msg/s`);
      });
    }
  }
}

/** A script step on every runtime: its JSON result line and exit code (non-zero: it missed what it checks). */
async function scriptStep(step: string): Promise<void> {
  for (const runtime of runtimes) {
    await attempt(`${step} ${runtime}`, async () => {
      const [command, args] = runtimeCommand(runtime, SCRIPTS[step]!.file, ["--json", ...plan.scripts[step]!]);
      const run = await runChild(command, args, { timeoutMs: 30 * 60_000 });
      const line = run.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
      results.scripts.push({ step, runtime, code: run.code, ...(line ? { result: JSON.parse(line) } : {}) });
      log(`${step} ${runtime}: exit ${run.code}`);
      if (run.code !== 0) throw new Error(`exited ${run.code}: ${(run.stderr.trim() || run.stdout.trim()).slice(-600)}`);
    });
  }
}

await withBroker(async (broker) => {
  broker.createTopic(HTTP_TOPIC, plan.partitions, 1);
  for (const [step, fn] of [["publish", publishStep], ["lookup", lookupStep], ["consume", consumeStep], ["http", httpStep]] as const) {
    if (steps.includes(step)) await fn(broker);
  }
});
// A broker of its own, so that the throughput rows have the machine to themselves.
if (steps.includes("throughput")) await withBroker(throughputStep);
for (const step of Object.keys(SCRIPTS)) if (steps.includes(step)) await scriptStep(step);

results.seconds = (Date.now() - startedAt.getTime()) / 1000;
results.loadAfter = os.loadavg();
versions.librdkafka = [...librdkafka].map(([who, v]) => `${who} ${v}`).join("; ");
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(results, null, 1));
const failed = render(results, outFile).filter((c) => !c.ok);
log(`${(results.seconds / 60).toFixed(1)} min; ${failed.length} counter checks failed; ${results.failures.length} runs failed`);
for (const c of failed) log(`check failed: ${c.text}`);
// The smoke run is CI's guard: a broken counter or a failed run fails it. The full run reports.
process.exit(smoke && (failed.length > 0 || results.failures.length > 0) ? 1 : 0);
