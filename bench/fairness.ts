/**
 * Fairness of the gateway between tenants (issue 15): a quiet tenant publishes
 * single records one after another while a flooding tenant sends ~1 MiB
 * streaming requests on several connections at once. Reports the quiet
 * tenant's latency alone and under the flood, and the records the flood got
 * delivered beside it and then alone; the issue's target is the quiet
 * tenant's p99 under the flood within 3× of its p99 alone (printed, not
 * enforced).
 *
 * The gateway runs as its own process (as `npm start` runs it) on the runtime
 * running this script, against the embedded broker hosted here; the gateway's
 * defaults apply (a 1 MiB stream is cut at 10,000 records). The flooding
 * clients run in a third process (this script again, with `--flood-at`).
 *
 *     node --import tsx bench/fairness.ts [--seconds 10] [--flood 4] [--own-core]
 *     npx deno run -A bench/fairness.ts
 *     npx bun bench/fairness.ts
 *
 * `--own-core` (Linux, `taskset` from util-linux) gives the gateway the last
 * core to itself and keeps this process (the broker, the quiet tenant's
 * client) and the flooding process on the others, as a deployment keeps the
 * broker and the clients off the gateway's machine. Without it every process
 * shares every core.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../testing.ts";
import { runChild, runtimeCommand, runtimeName, runtimeVersion, startServer } from "./_child.ts";
import { summarize } from "./scenarios/_stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    flood: { type: "string", default: "4" },
    json: { type: "boolean", default: false },
    "own-core": { type: "boolean", default: false },
    // Internal: this script as the flooding tenant's process, publishing to this URL until its stdin closes.
    "flood-at": { type: "string" },
  },
});
const seconds = Number(values.seconds);
const floodConnections = Number(values.flood);
const headers = (user: string, pw: string) => ({ Authorization: `Basic ${btoa(`${user}:${pw}`)}`, "Content-Type": "application/json" });

/** What the flooding process did, printed as its last line. */
interface FloodCounts {
  requests: number;
  answered: number;
  delivered: number;
  refused: number;
  statuses: number[];
}

if (values["flood-at"] !== undefined) {
  await floodProcess(values["flood-at"], floodConnections);
  process.exit(0);
}

/**
 * The flooding tenant, in a process of its own (so that reading its answers
 * does not delay the quiet tenant's client): `connections` loops, each
 * sending a ~1 MiB stream again as soon as its answer was read, until
 * standard input closes; then its counts as one JSON line. Records are
 * counted as each request's answer is read, ten thousand at a time.
 */
async function floodProcess(path: string, connections: number): Promise<void> {
  // ~1 MiB of concatenated records: the issue's streaming body.
  const parts: string[] = [];
  for (let size = 0, i = 0;; i++) {
    const record = JSON.stringify({ value: { data: { id: `f-${i}`, customer: "flood", total: i } } });
    size += record.length + 1;
    if (size > 1024 * 1024) break; // the gateway's default body limit
    parts.push(record);
  }
  const body = parts.join("\n");
  const counts: FloodCounts = { requests: 0, answered: 0, delivered: 0, refused: 0, statuses: [] };
  let stopped = false;
  // A line on standard input asks for the counts so far; its end stops the flood.
  process.stdin.setEncoding("utf8").on("data", () => console.log(JSON.stringify({ mark: true, ...counts })));
  process.stdin.on("end", () => (stopped = true)).resume();
  console.log(JSON.stringify({ flooding: true, bytes: body.length, records: parts.length }));
  await Promise.all(Array.from({ length: connections }, async () => {
    while (!stopped) {
      const res = await fetch(path, { method: "POST", headers: headers("flood", "f-pw"), body });
      const text = await res.text();
      counts.requests++;
      if (res.status !== 200) {
        counts.refused++;
        if (!counts.statuses.includes(res.status)) counts.statuses.push(res.status);
        continue;
      }
      for (const line of text.split("\n")) {
        if (line === "") continue;
        counts.answered++;
        if (line.includes('"error_code":200')) counts.delivered++;
      }
    }
  }));
  console.log(JSON.stringify(counts));
}

const runtime = `${runtimeName()} ${runtimeVersion()}`;
/** With --own-core: the gateway's core, and the others' (this process's threads, and those it starts later, the flood's). */
const cores = values["own-core"] ? ownCore() : undefined;
const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("orders", 3);
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|GATEWAY_|PORT$|HOST$)/.test(k)));
const gateway = await startServer(...pinned(runtimeCommand(runtimeName(), "gateway/main.ts", []), cores?.gateway), /listening on http:\/\//, {
  ...base,
  NO_COLOR: "1",
  PORT: "0",
  KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
  GATEWAY_USERS: "quiet:q-pw,flood:f-pw",
});
const url = gateway.ready.match(/listening on (http:\/\/\S+)/)![1]!;
const path = `${url}/v3/clusters/kshare/topics/orders/records`;

/** The quiet tenant: one record at a time for `ms`; each request's latency in ms. */
async function quiet(ms: number): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const started = performance.now();
    const res = await fetch(path, {
      method: "POST",
      headers: headers("quiet", "q-pw"),
      body: JSON.stringify({ value: { data: { id: `q-${i}`, customer: "c", total: i } } }),
    });
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
    if (res.status !== 200) failed++;
  }
  return { latencies, failed };
}

/**
 * Start the flooding process and resolve once it floods; `mark()` resolves
 * with its counts so far, `stop()` closes its standard input and resolves
 * with its last counts.
 */
async function flood(connections: number) {
  let flooding!: (line: string) => void;
  const started = new Promise<string>((resolve) => (flooding = resolve));
  let marked: ((counts: FloodCounts) => void) | undefined;
  const [command, args] = pinned(runtimeCommand(runtimeName(), "bench/fairness.ts", ["--flood-at", path, "--flood", String(connections)]), cores?.others);
  let stdin: { write(text: string): void; end(): void } | undefined;
  const run = runChild(command, args, {
    onLine(line, child) {
      stdin = child.stdin!;
      if (line.startsWith('{"flooding"')) flooding(line);
      if (line.startsWith('{"mark"')) marked?.(JSON.parse(line));
    },
  });
  const failed = (r: { code: number | null; stderr: string }) => new Error(`flood process exited ${r.code}: ${r.stderr.slice(-800)}`);
  const sent = JSON.parse(await Promise.race([started, run.then((r) => Promise.reject(failed(r)))])) as { bytes: number; records: number };
  return {
    sent,
    mark(): Promise<FloodCounts> {
      const counts = new Promise<FloodCounts>((resolve) => (marked = resolve));
      stdin!.write("mark\n");
      return Promise.race([counts, run.then((r) => Promise.reject(failed(r)))]);
    },
    async stop(): Promise<FloodCounts> {
      stdin!.end();
      const result = await run;
      const last = result.stdout.trim().split("\n").at(-1) ?? "";
      if (result.code !== 0 || !last.startsWith('{"requests"')) throw failed(result);
      return JSON.parse(last);
    },
  };
}

/**
 * For --own-core: the last core for the gateway, the others for everything
 * else, this process's threads moved there now (threads started later
 * inherit it).
 */
function ownCore(): { gateway: string; others: string } {
  const count = os.cpus().length;
  if (process.platform !== "linux" || count < 2) throw new Error("--own-core needs Linux and at least two cores");
  const others = count === 2 ? "0" : `0-${count - 2}`;
  execFileSync("taskset", ["-a", "-p", "-c", others, String(process.pid)], { stdio: "ignore" });
  return { gateway: String(count - 1), others };
}

/** `command` run on `cpus` (a taskset list), or as it is without. */
function pinned([command, args]: [string, string[]], cpus: string | undefined): [string, string[]] {
  return cpus === undefined ? [command, args] : ["taskset", ["-c", cpus, command, ...args]];
}

function summary(latencies: number[]) {
  const s = summarize(Float64Array.from(latencies), 0);
  return { n: s.ops, p50: s.p50Ms, p99: s.p99Ms, max: s.maxMs };
}

await quiet(1000); // warm-up: the quiet tenant's producer connects
const alone = await quiet(seconds * 1000);
const flooding = await flood(floodConnections);
const underFlood = await quiet(seconds * 1000);
// The flood alone for as long: what the streams get done with no other request about.
const beside = await flooding.mark();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const counts = await flooding.stop();
const floodAlone = counts.delivered - beside.delivered;
await gateway.stop();
await broker.stop();

const a = summary(alone.latencies);
const f = summary(underFlood.latencies);
const ms = (x: number) => x.toFixed(2);
const ratio = f.p99 / a.p99;
console.log(`# Fairness: quiet tenant's single publishes, alone and beside a flooding tenant

- Command: \`${
  { deno: "npx deno run -A", bun: "npx bun", node: "node --import tsx" }[runtimeName()]
} bench/fairness.ts --seconds ${seconds} --flood ${floodConnections}${cores ? " --own-core" : ""}\`
- Gateway on ${runtime}, its own process, gateway defaults; embedded broker (1 broker, topic orders with 3 partitions) in the bench's process${
  cores ? `; the gateway alone on core ${cores.gateway}, the bench and the flood on ${cores.others} (--own-core)` : ""
}.
- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}; load average before: ${
  os.loadavg().map((l) => l.toFixed(2)).join(", ")
}.
- Flood: ${floodConnections} connections from a process of their own, each sending a ${
  (flooding.sent.bytes / 1024 / 1024).toFixed(2)
} MiB body of ${flooding.sent.records} records as soon as its previous answer was read.

| phase | quiet requests | p50 ms | p99 ms | max ms | quiet failures |
| --- | ---: | ---: | ---: | ---: | ---: |
| alone | ${a.n} | ${ms(a.p50)} | ${ms(a.p99)} | ${ms(a.max)} | ${alone.failed} |
| with the flood | ${f.n} | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.max)} | ${underFlood.failed} |

- Flood: ${counts.requests} requests (${counts.refused} refused whole${
  counts.statuses.length ? `: ${counts.statuses.join(", ")}` : ""
}), ${counts.answered} records answered, ${counts.delivered} delivered: ${beside.delivered} beside the quiet tenant (${seconds} s), ${floodAlone} alone after it (${seconds} s).
- p99 with the flood ÷ p99 alone: ${ratio.toFixed(1)}× (issue 15's target: at most 3×: ${ratio <= 3 ? "met" : "not met"}).`);
if (values.json) {
  const phase = (name: string, s: ReturnType<typeof summary>, failed: number) => ({
    [`${name} requests`]: s.n,
    [`${name} p50 ms`]: s.p50,
    [`${name} p99 ms`]: s.p99,
    [`${name} failed`]: failed,
  });
  const { requests, refused, delivered } = counts;
  const flood = {
    "flood connections": floodConnections,
    "flood requests": requests,
    "flood refused": refused,
    "flood records delivered": delivered,
    "flood records delivered beside the quiet tenant": beside.delivered,
    "flood records delivered alone": floodAlone,
  };
  console.log(
    JSON.stringify({
      runtime,
      "own core": cores !== undefined,
      ...phase("alone", a, alone.failed),
      ...phase("flooded", f, underFlood.failed),
      ...flood,
      "p99 ratio": ratio,
    }),
  );
}
