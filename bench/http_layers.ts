/**
 * Where an HTTP publish's time goes, in-process (no server, no socket):
 * each app's `app.request()` driven by 256 concurrent loops for a few
 * seconds, layer by layer, so the differences between rows are the cost of a
 * layer of the gateway.
 *
 *   npx deno run -A bench/http_layers.ts [--bootstrap host:port,…] [--seconds 2] [--only gateway] [--json]
 *   npx bun bench/http_layers.ts
 *   node --import tsx bench/http_layers.ts
 *
 * Rows: `bare` (read the body, 202), `bare + basicAuth` (Hono's, comparing
 * with `crypto.subtle` digests per request), `bare + basicAuth verifyUsers`
 * (Hono's, with kshare's `verifyUsers` as `verifyUser`: what the gateway
 * uses), `publish in a plain handler` (JSON parse, `registry.producer`,
 * `publish`), `kafka() + publishRoutes` (kshare's Hono adapter, no auth),
 * `gateway` (`gateway/app.ts`: basicAuth, kafka(), publishRoutes, metrics).
 * Without `--bootstrap` it starts an embedded broker in this process.
 *
 * Each request carries its `Content-Length`, as a client sending one JSON
 * body over HTTP does (wrk too); without it Hono's `bodyLimit` would buffer
 * the body as it does for a chunked request.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { createRegistry, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { kafka, publishRoutes, verifyUsers } from "../hono.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { orders, topics } from "../gateway/topics.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";
import { benchDriver } from "./scenarios/_driver.ts";
import { HTTP_BODY, HTTP_HEADERS, HTTP_PATH, HTTP_TOPIC, HTTP_USER } from "./scenarios/http.ts";

/** One row: requests per second of one app. */
export interface LayerResult {
  readonly layer: string;
  readonly requestsPerSecond: number;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    bootstrap: { type: "string" },
    seconds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "256" },
    // One row by its name (e.g. `gateway`), say to profile it alone.
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

const broker = values.bootstrap ? undefined : await startEmbeddedBroker({ brokers: 3 });
broker?.createTopic(HTTP_TOPIC, 3, 1);
const registry = createRegistry({ driver: await benchDriver() });
const ctx: SecurityContext = { bootstrapServers: values.bootstrap ?? broker!.bootstrapServers, clientId: "kshare-bench-layers" };

type App = { request(url: string, init: RequestInit): Response | Promise<Response> };
const layers: Array<[string, App]> = [
  ["bare", new Hono().post(HTTP_PATH, async (c) => (await c.req.arrayBuffer(), c.body(null, 202)))],
  [
    "bare + basicAuth",
    new Hono().use(HTTP_PATH, basicAuth({ username: HTTP_USER.username, password: HTTP_USER.password }))
      .post(HTTP_PATH, async (c) => (await c.req.arrayBuffer(), c.body(null, 202))),
  ],
  [
    "bare + basicAuth verifyUsers",
    new Hono().use(HTTP_PATH, basicAuth({ verifyUser: verifyUsers([HTTP_USER]) }))
      .post(HTTP_PATH, async (c) => (await c.req.arrayBuffer(), c.body(null, 202))),
  ],
  [
    "publish in a plain handler",
    new Hono().post(HTTP_PATH, async (c) => {
      const record = await c.req.json<{ value: { data: { id: string; customer: string; total: number } } }>();
      const report = await (await registry.producer(ctx)).publish(orders, record.value.data);
      return c.json({ partition_id: report.partition, offset: report.offset });
    }),
  ],
  ["kafka() + publishRoutes", new Hono().use(kafka({ registry, resolveContext: () => ctx })).route("/", publishRoutes({ topics, clusterId: "kshare" }))],
  ["gateway", createGatewayApp({ registry, users: [HTTP_USER], contexts: new Map([[HTTP_USER.username, ctx]]), topics, clusterId: "kshare" })],
];

const headers = { ...HTTP_HEADERS, "Content-Length": String(new TextEncoder().encode(HTTP_BODY).byteLength) };
const results: LayerResult[] = [];
try {
  for (const [layer, app] of layers) {
    if (values.only !== undefined && layer !== values.only) continue;
    const one = async () => {
      const response = await app.request(`http://bench${HTTP_PATH}`, { method: "POST", headers, body: HTTP_BODY });
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`${layer}: answered ${response.status}`);
    };
    for (let i = 0; i < 100; i++) await one(); // warm-up: connect, JIT
    let requests = 0;
    const begin = performance.now();
    const end = begin + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await one();
        requests++;
      }
    }));
    results.push({ layer, requestsPerSecond: requests / ((performance.now() - begin) / 1000) });
  }
} finally {
  await registry.close();
  await broker?.stop();
}

if (values.json) console.log(JSON.stringify({ runtime: runtimeName(), runtimeVersion: runtimeVersion(), concurrency, seconds, results }));
else for (const r of results) console.log(`${runtimeName()} ${r.layer.padEnd(30)} ${Math.round(r.requestsPerSecond)} req/s`);
