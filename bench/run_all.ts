/**
 * The cross-runtime benchmark runner (issue 5): every scenario on Deno, Bun
 * and Node, each in a child process with its runtime's default driver,
 * against one embedded broker hosted here, at emulated round-trip times of
 * 0, 2 and 20 ms, with 1 and 100 concurrent callers. Writes
 * `bench/RESULTS.md` and `bench/chart.svg`.
 *
 *   npx deno task bench:all          # = deno run -A bench/run_all.ts (runner on Deno)
 *   npm run bench:all                # = node --import tsx bench/run_all.ts (runner on Node)
 *   npx deno task bench:all --smoke  # tiny N, writes bench/out/; exits 1 if a counter check fails
 *
 * Scenarios (`bench/scenarios/`): `publish` (shared producer vs a producer
 * per message), `lookup` (warm `registry.producer(ctx)` vs a module
 * variable, and idle CPU), `consume` (one consumer for N topics vs N
 * consumers), `http` (the gateway vs a producer per request vs a bare Hono
 * handler, loaded by `wrk`), and the throughput runner
 * (`bench/throughput_all.ts`, 1,000,000 messages per runtime beside
 * `kcat -P`), called as it is.
 *
 * Options: --smoke  --runtimes deno,bun,node  --only publish,lookup,consume,http,throughput
 * --out FILE (default bench/RESULTS.md; smoke: bench/out/RESULTS-smoke.md; the chart goes beside it)
 * --wait-quiet-minutes N (full run: wait up to N minutes, default 20, for other
 * benchmarks on the machine to finish; 0: do not wait)  --render FILE (write
 * the report and chart again from a run's saved results, bench/out/results.json,
 * without measuring)
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, dirname, resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../testing.ts";
import { wrkLoad, wrkVersion } from "./http_load.ts";
import { int, machineInfo } from "./_util.ts";
import { ROOT, runChild, runJson, runtimeCommand, type RuntimeName, runtimeName, runtimeVersion } from "./_child.ts";
import { checkCounters } from "./scenarios/_checks.ts";
import { renderChart } from "./scenarios/_chart.ts";
import { runScenario } from "./scenarios/_host.ts";
import { between } from "./scenarios/_probe.ts";
import { renderResults } from "./scenarios/_report.ts";
import type { Plan, PublishVariant, Results } from "./scenarios/_results.ts";
import type { ConsumeResult } from "./scenarios/consume.ts";
import { HTTP_BODY, HTTP_HEADERS, HTTP_PATH, HTTP_TOPIC, type HttpServerResult } from "./scenarios/http.ts";
import type { LoadResult } from "./http_load.ts";
import type { LookupResult } from "./scenarios/lookup.ts";
import type { PublishResult } from "./scenarios/publish.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    smoke: { type: "boolean", default: false },
    runtimes: { type: "string", default: "deno,bun,node" },
    only: { type: "string", default: "publish,lookup,consume,http,throughput" },
    out: { type: "string" },
    "wait-quiet-minutes": { type: "string" },
    render: { type: "string" },
  },
});
const smoke = values.smoke;
const only = new Set(values.only.split(",").map((s) => s.trim()));
const runtimes = values.runtimes.split(",").map((s) => s.trim()) as RuntimeName[];
for (const r of runtimes) if (!["deno", "bun", "node"].includes(r)) throw new Error(`unknown runtime ${r}`);
const outFile = resolve(ROOT, values.out ?? (smoke ? "bench/out/RESULTS-smoke.md" : "bench/RESULTS.md"));
const chartFile = `${dirname(outFile)}/${smoke ? "chart-smoke.svg" : "chart.svg"}`;
const waitQuietMinutes = Number(values["wait-quiet-minutes"] ?? (smoke ? 0 : 20));

const plan: Plan = smoke
  ? {
    runtimes,
    brokers: 3,
    partitions: 3,
    publish: {
      rtts: [0, 2],
      callers: [1, 4],
      variantRtts: [0],
      shared: { maxOps: 30, maxSeconds: 2 },
      recreated: { maxOps: 4, maxSeconds: 2 },
    },
    lookup: { iterations: 2_000, batches: 3, idleSeconds: 0.2 },
    consume: { rtts: [0], topicCounts: [1, 3], timeoutMs: 30_000, consumer: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500 } },
    http: { rtts: [0], connections: [4], seconds: 1, layerSeconds: 0.2 },
    throughput: { messages: 2_000, repeat: 1 },
  }
  : {
    runtimes,
    brokers: 3,
    partitions: 3,
    publish: {
      rtts: [0, 2, 20],
      callers: [1, 100],
      variantRtts: [0, 20],
      shared: { maxOps: 200_000, maxSeconds: 2 },
      recreated: { maxOps: 300, maxSeconds: 4 },
    },
    lookup: { iterations: 100_000, batches: 11, idleSeconds: 3 },
    consume: { rtts: [0, 20], topicCounts: [1, 10, 50], timeoutMs: 60_000, consumer: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500 } },
    http: { rtts: [0], connections: [32, 256], seconds: 4, layerSeconds: 2 },
    throughput: { messages: 1_000_000, repeat: 1 },
  };

const log = (line: string) => console.error(`[bench] ${line}`);
const command = runtimeName() === "deno" ? `npx deno task bench:all${smoke ? " --smoke" : ""}` : `npm run bench:all${smoke ? " -- --smoke" : ""}`;

// ---------------------------------------------------------------------------
// Other benchmarks on the machine: wait for them, and say so.

/** Other benchmark processes (not this one, its ancestors or its descendants): pid → command line and CPU ticks used so far. */
function otherBenchmarks(): Map<number, { command: string; ticks: number }> {
  const all = new Map<number, { parent: number; ticks: number; command: string }>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      all.set(pid, { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), command });
    } catch {
      // gone meanwhile
    }
  }
  // This run's own processes: its ancestors (npm, deno task) and every descendant (scenario children, the throughput runner's).
  const mine = new Set<number>();
  for (let pid = process.pid; pid > 1 && all.has(pid); pid = all.get(pid)!.parent) mine.add(pid);
  const descends = (pid: number): boolean => {
    for (let p = all.get(pid)?.parent; p !== undefined && p > 1; p = all.get(p)?.parent) if (p === process.pid) return true;
    return false;
  };
  for (const pid of all.keys()) if (descends(pid)) mine.add(pid);
  const found = new Map<number, { command: string; ticks: number }>();
  for (const [pid, p] of all) {
    if (!mine.has(pid) && /bench\/|soak|throughput/.test(p.command)) found.set(pid, { command: p.command.slice(0, 120), ticks: p.ticks });
  }
  return found;
}

/** Matching processes that used more than 1% of a core between two looks `seconds` apart. */
function busyBetween(
  before: Map<number, { command: string; ticks: number }>,
  now: Map<number, { command: string; ticks: number }>,
  seconds: number,
): Array<[number, string]> {
  // Ticks are 10 ms: more than seconds ticks is more than 1% of a core.
  return [...now].filter(([pid, p]) => p.ticks - (before.get(pid)?.ticks ?? 0) > seconds).map(([pid, p]) => [pid, p.command]);
}

/**
 * Wait until no other benchmark has used the CPU for a minute: a matching
 * process counts as busy when it used more than 1% of a core since the
 * previous look (an idle leftover, e.g. a broker someone left running, does
 * not hold the run up but is named in the results); a whole quiet minute is
 * asked for because other benchmark scripts often run one after another.
 * Gives up after `--wait-quiet-minutes`.
 */
async function waitForQuiet(): Promise<string> {
  if (waitQuietMinutes <= 0) return smoke ? "" : "Did not wait for other benchmarks (--wait-quiet-minutes 0).";
  const started = Date.now();
  const lookSeconds = 20;
  let before = otherBenchmarks();
  let quietLooks = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, lookSeconds * 1000));
    const now = otherBenchmarks();
    const busy = busyBetween(before, now, lookSeconds);
    before = now;
    quietLooks = busy.length === 0 ? quietLooks + 1 : 0;
    const waited = ((Date.now() - started) / 60_000).toFixed(1);
    const idle = [...now].filter(([pid]) => !busy.some(([b]) => b === pid));
    const idleNote = idle.length
      ? ` Idle benchmark processes left running (not waited for): ${idle.map(([pid, p]) => `${pid} \`${p.command}\``).join("; ")}.`
      : "";
    if (quietLooks >= 3) return `No other benchmark used the CPU in the minute before it started (waited ${waited} min).${idleNote}`;
    if (Date.now() - started > waitQuietMinutes * 60_000) {
      return `Other benchmarks were still running after waiting ${waited} min (gave up): ${busy.map(([pid, c]) => `${pid} \`${c}\``).join("; ")}.${idleNote}`;
    }
    if (busy.length) log(`waiting for other benchmarks to finish: ${busy.map(([pid, c]) => `${pid} ${c}`).join("; ")}`);
  }
}

/** The scenario the run is measuring now, for {@link watchOthers}. */
let phase = "setup";

/** Look every 30 s for other benchmarks using the CPU while this run measures; `stop()` lists them with the scenarios they overlapped. */
function watchOthers(): { stop(): string[] } {
  const seen = new Map<number, { command: string; phases: Set<string> }>();
  let before = otherBenchmarks();
  let previousPhase = phase;
  const timer = setInterval(() => {
    const now = otherBenchmarks();
    for (const [pid, command] of busyBetween(before, now, 30)) {
      const entry = seen.get(pid) ?? { command, phases: new Set<string>() };
      entry.phases.add(previousPhase).add(phase);
      seen.set(pid, entry);
    }
    before = now;
    previousPhase = phase;
  }, 30_000);
  return {
    stop() {
      clearInterval(timer);
      return [...seen].map(([pid, { command, phases }]) => `${pid} \`${command}\` (during: ${[...phases].join(", ")})`);
    },
  };
}

/** A hash of the code under measurement (mod.ts, hono.ts, src/, gateway/), to notice a change during the run. */
function codeHash(): string {
  const hash = createHash("sha256");
  const walk = (path: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(`${ROOT}${path}`).sort();
    } catch {
      hash.update(path).update(readFileSync(`${ROOT}${path}`));
      return;
    }
    for (const entry of entries) walk(`${path}/${entry}`);
  };
  for (const path of ["mod.ts", "hono.ts", "src", "gateway"]) {
    try {
      walk(path);
    } catch {
      // absent
    }
  }
  return hash.digest("hex").slice(0, 12);
}

/** The commit measured, and whether the measured code differs from it. */
function codeVersion(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "mod.ts", "hono.ts", "src", "gateway"], { cwd: ROOT, encoding: "utf8" }).trim();
    return `commit ${commit}${dirty ? " with uncommitted changes to the measured code" : ""}`;
  } catch {
    return "not a git checkout";
  }
}

function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0]!.trim();
  } catch {
    return "not found";
  }
}

// ---------------------------------------------------------------------------

if (values.render) {
  // Re-render a finished run's report from its saved results (bench/out/results.json): no measurement.
  const saved = JSON.parse(readFileSync(resolve(ROOT, values.render), "utf8")) as Results;
  const out = resolve(ROOT, values.out ?? (saved.smoke ? "bench/out/RESULTS-smoke.md" : "bench/RESULTS.md"));
  const chart = `${dirname(out)}/${saved.smoke ? "chart-smoke.svg" : "chart.svg"}`;
  writeFileSync(out, renderResults(saved, checkCounters(saved), basename(chart)));
  writeFileSync(chart, renderChart(saved));
  log(`rendered ${out.replace(ROOT, "")} and ${chart.replace(ROOT, "")} from ${values.render}`);
  process.exit(0);
}

const quiet = await waitForQuiet();
const codeAtStart = codeHash();
const others = waitQuietMinutes > 0 ? watchOthers() : undefined;
const machine = machineInfo();
const loadBefore = os.loadavg();
const startedAt = new Date();
const versions: Record<string, string> = {};
for (const runtime of runtimes) {
  const [bin] = runtimeCommand(runtime, "", []);
  versions[runtime] = versionOf(bin, ["--version"]).replace(/^deno /, "").replace(/^v/, "").split(" ")[0]!;
}
{
  let kcat = "not found";
  try {
    const out = execFileSync("kcat", ["-V"], { encoding: "utf8" });
    kcat = `${out.match(/Version (\S+)/)?.[1] ?? "?"} (librdkafka ${out.match(/librdkafka (\S+)/)?.[1] ?? "?"})`;
  } catch {
    // not installed: the throughput runner says so too
  }
  versions.kcat = kcat;
}
versions.wrk = only.has("http") ? (await wrkVersion()).replace(/ Copyright.*/, "") : "not used";
versions.runner = `${runtimeName()} ${runtimeVersion()}`;
versions.kshare = codeVersion();

const results: Results = {
  smoke,
  command,
  startedAt: startedAt.toISOString(),
  seconds: 0,
  machine,
  loadBefore,
  quiet,
  versions,
  plan,
  publish: [],
  lookup: [],
  consume: [],
  http: [],
  httpLayers: [],
  failures: [],
};
const librdkafka = new Map<string, string>();
const noteDriver = (r: { runtime: string; driver: string; librdkafkaVersion: string }) => librdkafka.set(`${r.runtime} ${r.driver}`, r.librdkafkaVersion);

const broker = await startEmbeddedBroker({ brokers: plan.brokers, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
const publishTopic = "bench-publish";
broker.createTopic(publishTopic, plan.partitions, 1);
broker.createTopic(HTTP_TOPIC, plan.partitions, 1);
let sequence = 0;

/** Run one child; a failure is recorded and the run goes on. */
async function attempt(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    results.failures.push(`${what}: ${(error as Error).message}`);
    log(`FAILED ${what}: ${(error as Error).message.split("\n").slice(0, 6).join(" | ")}`);
  }
}

try {
  if (only.has("publish")) {
    phase = "publish";
    for (const rttMs of plan.publish.rtts) {
      broker.setRtt(-1, rttMs);
      for (const runtime of runtimes) {
        for (const callers of plan.publish.callers) {
          const variants: PublishVariant[] = ["defaults"];
          if (plan.publish.variantRtts.includes(rttMs)) variants.push("no-idempotence");
          if (callers === 1) variants.push("linger5");
          for (const variant of variants) {
            for (const mode of variant === "linger5" ? ["shared"] as const : ["shared", "recreated"] as const) {
              const bounds = mode === "shared" ? plan.publish.shared : plan.publish.recreated;
              const what = `publish ${runtime} RTT ${rttMs} ${callers} caller(s) ${mode} ${variant}`;
              await attempt(what, async () => {
                const run = await runScenario<PublishResult>(
                  runtime,
                  "publish",
                  {
                    bootstrapServers: broker.bootstrapServers,
                    topic: publishTopic,
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
                const { result, marks } = run;
                noteDriver(result);
                results.publish.push({
                  runtime,
                  rttMs,
                  callers,
                  mode,
                  variant,
                  result,
                  setup: between(marks.start!, marks.warm!),
                  measured: between(marks.warm!, marks.done!),
                });
                log(
                  `${what}: ${int(result.ops)} in ${result.seconds.toFixed(2)} s = ${result.opsPerSecond.toFixed(1)}/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
                    `p99 ${result.p99Ms.toFixed(2)} ms, connections ${marks.warm!.connections} + ${marks.done!.connections - marks.warm!.connections}`,
                );
              });
            }
          }
        }
      }
    }
    broker.setRtt(-1, 0);
  }

  if (only.has("lookup")) {
    phase = "lookup";
    for (const runtime of runtimes) {
      await attempt(`lookup ${runtime}`, async () => {
        const { result } = await runScenario<LookupResult>(
          runtime,
          "lookup",
          {
            bootstrapServers: broker.bootstrapServers,
            ...plan.lookup,
          },
          broker,
          { timeoutMs: 120_000 },
        );
        noteDriver(result);
        results.lookup.push({ runtime, result });
        log(
          `lookup ${runtime}: same ${result.sameObjectNs.toFixed(1)} ns, equal ${result.equalObjectNs.toFixed(1)} ns, variable ${
            result.moduleVariableAwaitNs.toFixed(1)
          } ns awaited / ${result.moduleVariableReadNs.toFixed(2)} ns plain, idle CPU ${result.idleCpuPercent.toFixed(2)}%`,
        );
      });
    }
  }

  if (only.has("consume")) {
    phase = "consume";
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
              log(
                `${what}: ${result.firstMessagesSeconds?.toFixed(2) ?? "timed out"} s, ${result.assignments} assignments, ${measured.joinGroups} JoinGroups, ` +
                  `${measured.connections} connections, close ${result.closeSeconds.toFixed(2)} s`,
              );
            });
          }
        }
      }
    }
    broker.setRtt(-1, 0);
  }

  if (only.has("http")) {
    phase = "http";
    for (const rttMs of plan.http.rtts) {
      for (const runtime of runtimes) {
        for (const connections of plan.http.connections) {
          for (const app of ["bare", "bare-auth", "gateway", "naive"] as const) {
            const what = `http ${runtime} RTT ${rttMs} ${app} ${connections} connections`;
            // A broker of its own per HTTP child: a producer-per-request storm leaves thousands of half-open
            // connections behind (the mock brokers listen with a backlog of 5), which would otherwise reach
            // the next child's broker counters seconds later.
            const own = await startEmbeddedBroker({ brokers: plan.brokers, groupInitialRebalanceDelayMs: 0 });
            own.startRequestTracking();
            own.createTopic(HTTP_TOPIC, plan.partitions, 1);
            own.setRtt(-1, rttMs);
            await attempt(what, async () => {
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
                    load = await wrkLoad(
                      { url: label.slice("warm ".length) + HTTP_PATH, body: HTTP_BODY, headers: HTTP_HEADERS },
                      { connections, seconds: plan.http.seconds },
                    );
                  },
                },
              );
              if (!load) throw new Error("the server never reported it was listening");
              noteDriver(result);
              const measured = between(marks.warm!, marks.done!);
              results.http.push({ runtime, rttMs, app, connections, load, server: result, measured });
              log(
                `${what}: ${load.requestsPerSecond.toFixed(0)} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, errors ${load.non2xx + load.socketErrors}, ` +
                  `producers ${result.clientsCreated}, connections ${measured.connections}`,
              );
            });
            await own.stop();
          }
        }
      }
    }
    if (plan.http.layerSeconds > 0) {
      for (const runtime of runtimes) {
        await attempt(`http layers ${runtime}`, async () => {
          const { results: layers } = await runJson<{ results: Array<{ layer: string; requestsPerSecond: number }> }>(runtime, "bench/http_layers.ts", [
            `--bootstrap=${broker.bootstrapServers}`,
            `--seconds=${plan.http.layerSeconds}`,
          ], 120_000);
          results.httpLayers.push({ runtime, layers });
          log(`http layers ${runtime}: ${layers.map((l) => `${l.layer} ${l.requestsPerSecond.toFixed(0)}`).join(", ")} req/s`);
        });
      }
    }
  }
} finally {
  await broker.stop();
}

if (only.has("throughput") && plan.throughput) {
  phase = "throughput";
  // The throughput runner hosts its own broker; ours is stopped so it has the machine to itself.
  const file = `${ROOT}bench/out/throughput-run_all${smoke ? "-smoke" : ""}.md`;
  const args = ["--messages", String(plan.throughput.messages), "--repeat", String(plan.throughput.repeat), "--out", file];
  const [cmd, cmdArgs] = runtimeCommand(runtimeName(), "bench/throughput_all.ts", args);
  const shown = `${basename(cmd)} ${cmdArgs.map((a) => a.replace(ROOT, "")).join(" ")}`;
  log(`throughput: ${shown}`);
  mkdirSync(dirname(file), { recursive: true });
  try {
    const run = await runChild(cmd, cmdArgs, { timeoutMs: 30 * 60_000 });
    let markdown: string | undefined;
    try {
      markdown = readFileSync(file, "utf8");
    } catch {
      markdown = undefined;
    }
    results.throughput = run.code === 0 && markdown
      ? { markdown, command: shown }
      : { ...(markdown ? { markdown } : {}), error: `exited ${run.code}: ${(run.stderr.trim().split("\n").at(-1) ?? "").slice(0, 300)}`, command: shown };
    if (run.code !== 0) results.failures.push(`throughput: exited ${run.code}`);
  } catch (error) {
    results.throughput = { error: (error as Error).message, command: shown };
    results.failures.push(`throughput: ${(error as Error).message}`);
  }
}

results.seconds = (Date.now() - startedAt.getTime()) / 1000;
if (codeHash() !== codeAtStart) {
  versions.kshare += "; THE MEASURED CODE (mod.ts, hono.ts, src/, gateway/) CHANGED DURING THE RUN: its rows mix two versions";
}
const during = others?.stop() ?? [];
if (during.length) results.quietDuring = `Other benchmarks used the CPU during this run (its figures are disturbed by them): ${during.join("; ")}.`;
else if (others) results.quietDuring = "No other benchmark used the CPU during the run (looked every 30 s).";
versions.librdkafka = [...new Set(librdkafka.values())].join(", ") +
  ` (${[...librdkafka.entries()].map(([who, v]) => `${who} ${v}`).join("; ")})`;
const checks = checkCounters(results);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, renderResults(results, checks, basename(chartFile)));
writeFileSync(chartFile, renderChart(results));
writeFileSync(`${ROOT}bench/out/results${smoke ? "-smoke" : ""}.json`, JSON.stringify(results, null, 1));
const failed = checks.filter((c) => !c.ok);
log(
  `wrote ${outFile.replace(ROOT, "")} and ${chartFile.replace(ROOT, "")} in ${(results.seconds / 60).toFixed(1)} min; ` +
    `${checks.length - failed.length}/${checks.length} counter checks hold; ${results.failures.length} runs failed`,
);
for (const c of failed) log(`check failed: ${c.text}`);
// The smoke run is CI's guard: a broken counter or a failed run fails it. The full run reports.
process.exit(smoke && (failed.length > 0 || results.failures.length > 0) ? 1 : 0);
