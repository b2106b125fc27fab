/**
 * Fairness of the gateway between tenants (issue 15): a quiet tenant publishes
 * single records one after another while a flooding tenant sends ~1 MiB
 * streaming requests on several connections at once. Reports the quiet
 * tenant's latency alone and under the flood; the issue's target is its p99
 * under the flood within 3× of its p99 alone (printed, not enforced).
 *
 * The gateway runs as its own process (as `npm start` runs it) on the runtime
 * running this script, against the embedded broker hosted here; the gateway's
 * defaults apply (a 1 MiB stream is cut at 10,000 records).
 *
 *     node --import tsx bench/fairness.ts [--seconds 10] [--flood 4]
 *     npx deno run -A bench/fairness.ts
 *     npx bun bench/fairness.ts
 *
 * @module
 */
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../testing.ts";
import { runtimeCommand, runtimeName, runtimeVersion, startServer } from "./_child.ts";
import { summarize } from "./scenarios/_stats.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "10" }, flood: { type: "string", default: "4" }, json: { type: "boolean", default: false } },
});
const seconds = Number(values.seconds);
const floodConnections = Number(values.flood);

const runtime = `${runtimeName()} ${runtimeVersion()}`;
const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("orders", 3);
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|GATEWAY_|PORT$|HOST$)/.test(k)));
const gateway = await startServer(...runtimeCommand(runtimeName(), "gateway/main.ts", []), /listening on http:\/\//, {
  ...base,
  NO_COLOR: "1",
  PORT: "0",
  KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
  GATEWAY_USERS: "quiet:q-pw,flood:f-pw",
});
const url = gateway.ready.match(/listening on (http:\/\/\S+)/)![1]!;
const path = `${url}/v3/clusters/kshare/topics/orders/records`;
const headers = (user: string, pw: string) => ({ Authorization: `Basic ${btoa(`${user}:${pw}`)}`, "Content-Type": "application/json" });

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

// ~1 MiB of concatenated records: the issue's streaming body.
const parts: string[] = [];
for (let size = 0, i = 0;; i++) {
  const record = JSON.stringify({ value: { data: { id: `f-${i}`, customer: "flood", total: i } } });
  size += record.length + 1;
  if (size > 1024 * 1024) break; // the gateway's default body limit
  parts.push(record);
}
const floodBody = parts.join("\n");

/** The flooding tenant: `connections` loops, each sending the 1 MiB stream again as soon as its answer was read. */
function flood(connections: number, stop: { stopped: boolean }) {
  const counts = { requests: 0, answered: 0, delivered: 0, refused: 0 };
  const statuses = new Set<number>();
  const loops = Array.from({ length: connections }, async () => {
    while (!stop.stopped) {
      const res = await fetch(path, { method: "POST", headers: headers("flood", "f-pw"), body: floodBody });
      const text = await res.text();
      counts.requests++;
      if (res.status !== 200) {
        counts.refused++;
        statuses.add(res.status);
      } else {
        for (const line of text.split("\n")) {
          if (line === "") continue;
          counts.answered++;
          if (line.includes('"error_code":200')) counts.delivered++;
        }
      }
    }
  });
  return { counts, statuses, done: Promise.all(loops) };
}

function summary(latencies: number[]) {
  const s = summarize(Float64Array.from(latencies), 0);
  return { n: s.ops, p50: s.p50Ms, p99: s.p99Ms, max: s.maxMs };
}

await quiet(1000); // warm-up: the quiet tenant's producer connects
const alone = await quiet(seconds * 1000);
const stop = { stopped: false };
const flooding = flood(floodConnections, stop);
const underFlood = await quiet(seconds * 1000);
stop.stopped = true;
await flooding.done;
await gateway.stop();
await broker.stop();

const a = summary(alone.latencies);
const f = summary(underFlood.latencies);
const ms = (x: number) => x.toFixed(2);
const ratio = f.p99 / a.p99;
console.log(`# Fairness: quiet tenant's single publishes, alone and beside a flooding tenant

- Command: \`${
  { deno: "npx deno run -A", bun: "npx bun", node: "node --import tsx" }[runtimeName()]
} bench/fairness.ts --seconds ${seconds} --flood ${floodConnections}\`
- Gateway on ${runtime}, its own process, gateway defaults; embedded broker (1 broker, topic orders with 3 partitions) in the bench's process.
- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}; load average before: ${
  os.loadavg().map((l) => l.toFixed(2)).join(", ")
}.
- Flood: ${floodConnections} connections, each sending a ${
  (floodBody.length / 1024 / 1024).toFixed(2)
} MiB body of ${parts.length} records as soon as its previous answer was read.

| phase | quiet requests | p50 ms | p99 ms | max ms | quiet failures |
| --- | ---: | ---: | ---: | ---: | ---: |
| alone | ${a.n} | ${ms(a.p50)} | ${ms(a.p99)} | ${ms(a.max)} | ${alone.failed} |
| with the flood | ${f.n} | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.max)} | ${underFlood.failed} |

- Flood: ${flooding.counts.requests} requests (${flooding.counts.refused} refused whole${
  flooding.statuses.size ? `: ${[...flooding.statuses].join(", ")}` : ""
}), ${flooding.counts.answered} records answered, ${flooding.counts.delivered} delivered.
- p99 with the flood ÷ p99 alone: ${ratio.toFixed(1)}× (issue 15's target: at most 3×: ${ratio <= 3 ? "met" : "not met"}).`);
if (values.json) {
  const phase = (name: string, s: ReturnType<typeof summary>, failed: number) => ({
    [`${name} requests`]: s.n,
    [`${name} p50 ms`]: s.p50,
    [`${name} p99 ms`]: s.p99,
    [`${name} failed`]: failed,
  });
  const { requests, refused, delivered } = flooding.counts;
  const flood = { "flood connections": floodConnections, "flood requests": requests, "flood refused": refused, "flood records delivered": delivered };
  console.log(JSON.stringify({ runtime, ...phase("alone", a, alone.failed), ...phase("flooded", f, underFlood.failed), ...flood, "p99 ratio": ratio }));
}
