// kshare in a real edge runtime: the README's Worker (tests/fixtures/edge_worker.ts), a Hono app publishing
// through kshare/hono's kafka() and restProxyDriver, bundled by esbuild as wrangler bundles a Worker, runs in
// workerd (Cloudflare's runtime, from npm) without nodejs_compat. It publishes to the kshare gateway (a
// separate process) on the embedded broker; kcat reads back what it acknowledged.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { startEmbeddedBroker } from "../testing.ts";
import { kshareExports, root, WORKER_TARGET } from "./_bundle.ts";
import { startGateway } from "./_gateway.ts";
import { kcatRead } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("orders", 3);
broker.createTopic("payments", 3);
const API_SECRET = "edge-api-secret-3c9d";
const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers, GATEWAY_USERS: `edge:${API_SECRET}` });
const gatewayUrl = await gateway.url();
const dir = await mkdtemp(join(tmpdir(), "kshare-workerd-"));
let stopWorkerd = async () => {};
after(async () => {
  await stopWorkerd();
  await esbuild.stop();
  await rm(dir, { recursive: true, force: true });
  await broker.stop(); // (tests/_gateway.ts stops the gateway.)
});

/** The Worker bundled as wrangler bundles one: one ES module, for workerd's platform and conditions. */
async function bundleWorker(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("tests/fixtures/edge_worker.ts", root))],
    bundle: true,
    write: false,
    format: "esm",
    minify: true,
    ...WORKER_TARGET,
    conditions: [...WORKER_TARGET.conditions],
    define: { KAFKA_REST_URL: JSON.stringify(gatewayUrl) },
    logLevel: "silent",
    plugins: [kshareExports],
  });
  assert.deepEqual(result.errors, []);
  return result.outputFiles[0]!.text;
}

/** workerd's configuration: the Worker, its secrets, and outbound fetch allowed to loopback (the gateway). */
function config(): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "KAFKA_API_KEY", text = "edge"),
    (name = "KAFKA_API_SECRET", text = ${JSON.stringify(API_SECRET)}),
  ],
);
`;
}

/** Start workerd on the Worker; resolves with its URL once it listens (it says so on its control fd). */
async function startWorkerd(): Promise<string> {
  await writeFile(join(dir, "worker.js"), await bundleWorker());
  await writeFile(join(dir, "config.capnp"), config());
  const binary = fileURLToPath(new URL("node_modules/.bin/workerd", root));
  const child = spawn(binary, ["serve", join(dir, "config.capnp"), "--control-fd=3"], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  stopWorkerd = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const port = await new Promise<number>((resolve, reject) => {
    let control = "";
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8");
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (chunk: string) => {
      control += chunk;
      const listen = control.split("\n").map((line) => line.trim() && JSON.parse(line) as { event: string; port?: number })
        .find((event) => event && event.event === "listen");
      if (listen) resolve(listen.port!);
    });
    child.on("exit", (code) => reject(new Error(`workerd exited (${code}) before listening:\n${output}`)));
  });
  return `http://127.0.0.1:${port}`;
}

const workerUrl = await startWorkerd();
const shop = { Authorization: `Basic ${btoa("shop:shop-secret")}`, "Content-Type": "application/json" };
const requestsSoFar = async () => ((await (await fetch(`${workerUrl}/requests`)).json()) as { requests: number }).requests;

test("a Worker in workerd publishes through restProxyDriver to the gateway: kcat reads every record back, key and headers included", async () => {
  const run = Math.random().toString(36).slice(2, 10);
  const batch = Array.from({ length: 25 }, (_, i) => ({ id: `${run}-${i}`, customer: "c-1", total: i }));
  const response = await fetch(`${workerUrl}/orders`, { method: "POST", headers: { ...shop, "x-source": "edge" }, body: JSON.stringify(batch) });
  const reports = (await response.json()) as Array<{ partition: number; offset: number }>;
  assert.equal(response.status, 200, JSON.stringify(reports));
  assert.equal(reports.length, batch.length);

  const stored = (await kcatRead(broker.bootstrapServers, "orders")).filter((r) => r.key?.startsWith(`${run}-`));
  assert.equal(stored.length, batch.length);
  batch.forEach((order, i) => {
    const record = stored.find((r) => r.key === order.id);
    assert.ok(record, `${order.id} is in the topic`);
    assert.deepEqual([record.partition, record.offset], [reports[i]!.partition, reports[i]!.offset], order.id);
    assert.deepEqual(JSON.parse(record.payload!), order);
    assert.deepEqual(record.headers, ["source", "edge"]);
  });
});

test("in the Worker, a record its topic's schema refuses is answered 400 and never sent", async () => {
  const before = await requestsSoFar();
  const response = await fetch(`${workerUrl}/orders`, {
    method: "POST",
    headers: shop,
    body: JSON.stringify([{ id: "bad", customer: "c-1", total: "twelve" }]),
  });
  const answer = (await response.json()) as { error: string };
  assert.equal(response.status, 400);
  assert.match(answer.error, /orders/);
  assert.match(answer.error, /total/);
  assert.equal(await requestsSoFar(), before, "no request reached the REST endpoint");
});

test("the README's Worker is this fixture, line for line (but where its URL comes from)", async () => {
  const code = (text: string) => text.slice(text.indexOf("import { Hono }")).split("\n").filter((line) => !/^(declare )?const KAFKA_REST_URL\b/.test(line));
  const fixture = code(await readFile(new URL("tests/fixtures/edge_worker.ts", root), "utf8"));
  const readme = await readFile(new URL("README.md", root), "utf8");
  const block = readme.slice(readme.indexOf("### A Worker publishing through the gateway"));
  const fence = "```ts ignore\n"; // type-checked as the fixture, which Deno's README check cannot (it hoists the export)
  const worker = block.slice(block.indexOf(fence) + fence.length, block.indexOf("\n```", block.indexOf(fence)) + 1);
  assert.deepEqual(code(worker), fixture);
});
