/**
 * The gateway's memory under the property test's requests (issue 15): 100,000
 * requests drawn from tests/_rest_v3_requests.ts (arbitrary bytes and JSON,
 * hostile records, streams, batches, bodies over the limit) sent over HTTP to
 * the gateway process (`gateway/main.ts` on its embedded broker), a few at a
 * time; the gateway's RSS read from /proc at the start, after the warm-up and
 * every tenth of the run. Bounded means: at the end, RSS is at most
 * `--max-growth-mib` (default 64) above the RSS after the warm-up. Exit code 1
 * when it is not, when any answer was a 5xx, or when a request lost its
 * connection.
 *
 * ```sh
 * node --import tsx bench/gateway_rss.ts [--requests 100000] [--warmup 10000] [--concurrency 4] [--runtime node|deno|bun]
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { anyCase, type GatewayCase } from "../tests/_rest_v3_requests.ts";
import { int, mib, rssOf } from "./_util.ts";
import { runtimeCommand, type RuntimeName, runtimeName, startServer } from "./_child.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    warmup: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "4" },
    runtime: { type: "string", default: runtimeName() },
    "max-growth-mib": { type: "string", default: "64" },
    json: { type: "boolean", default: false },
  },
});
const requests = Number(values.requests);
const warmup = Math.min(Number(values.warmup), requests);
const concurrency = Number(values.concurrency);
const runtime = values.runtime as RuntimeName;
const maxGrowth = Number(values["max-growth-mib"]) * 1024 * 1024;

// The gateway as `npm start` runs it, on the chosen runtime, listening on a free port.
const gateway = await startServer(...runtimeCommand(runtime, "gateway/main.ts", []), /listening on http:\/\//, { ...process.env, PORT: "0", NO_COLOR: "1" });
const url = gateway.ready.match(/listening on (http:\/\/\S+)/)![1]!;
const rss = () => rssOf(gateway.pid) ?? NaN;

/** Cases come in rounds of 1,000 (a new seed each), so only one round's bodies are held at a time. */
function* cases(): Generator<GatewayCase> {
  const seed = Date.now() | 0;
  for (let round = 0; round * 1000 < requests; round++) {
    yield* fc.sample(anyCase, { seed: seed + round, numRuns: Math.min(1000, requests - round * 1000) });
  }
}

const statuses = new Map<number, number>();
let lost = 0;
let sent = 0;
const samples: Array<{ requests: number; rss: number }> = [{ requests: 0, rss: rss() }];
const source = cases();
async function worker(): Promise<void> {
  for (let next = source.next(); !next.done; next = source.next()) {
    const c = next.value;
    try {
      const res = await fetch(url + c.path, { method: "POST", headers: c.headers, body: c.body });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    } catch {
      lost++;
    }
    sent++;
    if (sent === warmup || sent % Math.ceil(requests / 10) === 0) {
      samples.push({ requests: sent, rss: rss() });
      console.log(`… ${int(sent)} requests: RSS ${mib(samples.at(-1)!.rss)}`);
    }
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
samples.push({ requests: sent, rss: rss() });
await gateway.stop();

const afterWarmup = samples.find((s) => s.requests === warmup)?.rss ?? samples[0]!.rss;
const end = samples.at(-1)!.rss;
const serverErrors = [...statuses].filter(([s]) => s >= 500).reduce((n, [, count]) => n + count, 0);
console.log(`gateway on ${runtime}: ${int(sent)} requests in ${seconds.toFixed(0)} s, ${concurrency} at a time`);
console.log(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s} × ${int(n)}`).join(", ")}; lost connections: ${lost}`);
console.log(`RSS: start ${mib(samples[0]!.rss)}, after ${int(warmup)} (warm-up) ${mib(afterWarmup)}, end ${mib(end)}`);
console.log(`RSS by requests: ${samples.map((s) => `${int(s.requests)}: ${mib(s.rss)}`).join(", ")}`);
const bounded = end - afterWarmup <= maxGrowth;
console.log(`bounded (end at most ${mib(maxGrowth)} above warm-up): ${bounded ? "yes" : "NO"}`);
console.log(`command: node --import tsx bench/gateway_rss.ts --requests ${requests} --warmup ${warmup} --concurrency ${concurrency} --runtime ${runtime}`);
if (values.json) {
  const rows = {
    runtime,
    requests: sent,
    seconds,
    statuses: Object.fromEntries(statuses),
    lost,
    rssStartBytes: samples[0]!.rss,
    rssAfterWarmupBytes: afterWarmup,
    rssEndBytes: end,
    bounded,
  };
  console.log(JSON.stringify(rows));
}
process.exit(bounded && serverErrors === 0 && lost === 0 ? 0 : 1);
