// One tenant must not hurt the others (issue 15): per-tenant bounds on requests and records in flight,
// a cap on records per streaming request, streaming that yields to the event loop, a body-read timeout.
// Through app.request() against the embedded broker, and the runnable gateway over a socket; kcat reads back.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import * as v from "valibot";
import { createRegistry, defineTopic, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { kafka, opsRoutes, publishRoutes, type PublishRoutesOptions, restProxyErrorHandler, verifyUsers } from "../hono.ts";
import { gatewayConfig, GatewayConfigError } from "../gateway/config.ts";
import { gate, kcatRead, quietLogger } from "./_helpers.ts";
import { basic, keepAliveConnection, slowRequest, startGateway } from "./_gateway.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const registry = createRegistry({ logger });
after(async () => {
  await registry.close();
  await broker.stop();
});

// Two tenants: two security contexts (client ids differ) on the one broker.
const contexts = new Map<string, SecurityContext>([
  ["alice", { bootstrapServers: broker.bootstrapServers, clientId: "fair-alice" }],
  ["bob", { bootstrapServers: broker.bootstrapServers, clientId: "fair-bob" }],
]);
const users = [...contexts.keys()].map((username) => ({ username, password: `pw-${username}` }));
const json = (user: string) => ({ Authorization: basic(user, `pw-${user}`), "Content-Type": "application/json" });

const Order = v.object({ id: v.string(), total: v.number() });
let seq = 0;
function topic(prefix: string, schema: v.GenericSchema<{ id: string; total: number }> = Order) {
  const name = `${prefix}-${++seq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema, key: (o) => o.id });
}
const recordsPath = (name: string) => `/v3/clusters/kshare/topics/${name}/records`;
const record = (id: string, total = 1) => JSON.stringify({ value: { data: { id, total } } });
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { error_code: number; message?: string });
const ids = async (name: string) => (await kcatRead(broker.bootstrapServers, name)).map((r) => (JSON.parse(r.payload!) as { id: string }).id);

function buildApp(options: PublishRoutesOptions) {
  const app = new Hono<{ Variables: { user: string } }>();
  app.onError(restProxyErrorHandler({ logger }));
  app.route("/", opsRoutes({ registry, logger }));
  app.use("/v3/*", basicAuth({ verifyUser: verifyUsers(users), onAuthSuccess: (c, u) => c.set("user", u) }));
  app.use("/v3/*", kafka<{ Variables: { user: string } }>({ registry, logger, resolveContext: (c) => contexts.get(c.var.user) }));
  app.route("/", publishRoutes({ logger, ...options }));
  return app;
}

/** A body whose first part is sent at once; `reading` resolves when the server starts reading it, `finish` sends the rest. */
function heldBody(first: string) {
  const encoder = new TextEncoder();
  const started = gate();
  const rest = gate();
  let last: string | undefined;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 0) {
        sent++;
        started.open();
        controller.enqueue(encoder.encode(first));
        return;
      }
      await rest.wait;
      if (last !== undefined) controller.enqueue(encoder.encode(last));
      controller.close();
    },
  });
  return {
    init: { body, duplex: "half" } as RequestInit,
    reading: started.wait,
    finish: (text: string) => {
      last = text;
      rest.open();
    },
  };
}

async function errorShape(res: Response, status: number): Promise<{ error_code: number; message: string }> {
  assert.equal(res.status, status);
  const body = await res.json() as { error_code: number; message: string };
  assert.equal(body.error_code, status);
  assert.equal(typeof body.message, "string");
  return body;
}

test("over maxRequestsPerTenant: 429 with Retry-After and REST Proxy's error shape; other tenants are served; the slot frees when the request ends", async () => {
  const t = topic("fair-requests");
  const app = buildApp({ topics: [t], maxRequestsPerTenant: 1, retryAfterSeconds: 7 });
  const held = heldBody(`{"value":{"data":{"id":"a-held",`);
  const first = app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), ...held.init });
  await held.reading; // alice's first request is admitted and its body is being read

  const refused = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: record("a-refused") });
  assert.equal(refused.headers.get("Retry-After"), "7");
  assert.match((await errorShape(refused, 429)).message, /at most 1 requests of one tenant at once/);
  const other = await app.request(recordsPath(t.name), { method: "POST", headers: json("bob"), body: record("b-1") });
  assert.equal(other.status, 200);

  held.finish(`"total":1}}}`);
  assert.equal((await first).status, 200);
  const again = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: record("a-again") });
  assert.equal(again.status, 200);
  assert.deepEqual((await ids(t.name)).sort(), ["a-again", "a-held", "b-1"]);
  assert.throws(() => publishRoutes({ topics: [t], maxRequestsPerTenant: 0 }), /maxRequestsPerTenant must be a positive integer, got 0/);
});

test("over maxRecordsInFlightPerTenant: a streamed record past the bound is answered 429 and the stream ends there; nothing after it is published", async () => {
  const t = topic("fair-records");
  const app = buildApp({ topics: [t], maxRecordsInFlightPerTenant: 2 });
  // Streaming publishes in turns of about 1 ms, so r0 could be acknowledged (and no longer counted)
  // before r2 is counted: the broker answers 1.5 s late meanwhile, far longer than framing four records.
  const body = ["r0", "r1", "r2", "r3"].map((id) => record(id)).join("\n");
  broker.setRtt(-1, 1_500);
  let answers: ReturnType<typeof lines>;
  try {
    const res = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body });
    assert.equal(res.status, 200);
    answers = lines(await res.text());
  } finally {
    broker.setRtt(-1, 0);
  }
  assert.deepEqual(answers.map((a) => a.error_code), [200, 200, 429]);
  assert.match(answers[2]!.message!, /at most 2 of one tenant awaiting Kafka at once; 2 records were refused \(this one and the 1 after it\)/);
  assert.deepEqual((await ids(t.name)).sort(), ["r0", "r1"]);
  // Settled records are no longer counted: the tenant publishes again.
  const next = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: record("r4") });
  assert.equal(next.status, 200);
  assert.throws(() => publishRoutes({ topics: [t], maxRecordsInFlightPerTenant: 1.5 }), /maxRecordsInFlightPerTenant/);
});

test("over maxRecordsPerRequest: the record past the cap is answered 413 counting the refused, the stream ends; only the first records are published", async () => {
  const t = topic("fair-cap");
  const app = buildApp({ topics: [t], maxRecordsPerRequest: 3 });
  const body = ["c0", "c1", "c2", "c3", "c4"].map((id) => record(id)).join("");
  const res = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body });
  assert.equal(res.status, 200);
  const answers = lines(await res.text());
  assert.deepEqual(answers.map((a) => a.error_code), [200, 200, 200, 413]);
  assert.match(answers[3]!.message!, /At most 3 records per request: 2 records were refused \(this one and the 1 after it\), none of them published/);
  assert.deepEqual(await ids(t.name), ["c0", "c1", "c2"]);
});

test(
  "streaming yields: while one tenant's 1 MiB stream (17k records) is published, /healthz and another tenant's record are handled before its last record is",
  {
    timeout: 120_000,
  },
  async () => {
    // The topic's schema logs each record as it is first validated (framed and parsed): the order of handling.
    const log: string[] = [];
    const seen = new Set<string>();
    let others: Promise<void> | undefined;
    const Logged = v.pipe(
      Order,
      v.check((o) => {
        // A record is validated when the request is framed and again by the producer: only the first counts.
        if (!seen.has(o.id)) log.push(o.id.startsWith("b-") ? "bob" : "alice");
        seen.add(o.id);
        // Alice's first record is being handled: now bob's record and a /healthz arrive, as a socket's data would,
        // in a task of their own (without yields they run only after alice's whole stream was handled).
        if (others === undefined) {
          others = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() =>
            Promise.all([
              Promise.resolve(fairApp.request(recordsPath(t.name), { method: "POST", headers: json("bob"), body: record("b-quiet") }))
                .then((r) => {
                  log.push(r.status === 200 ? "bob answered" : `bob ${r.status}`);
                }),
              Promise.resolve(fairApp.request("/healthz")).then((r) => {
                log.push(r.status === 200 ? "healthz answered" : `healthz ${r.status}`);
              }),
            ])
          ).then(() => {});
        }
        return true;
      }),
    );
    const t = topic("fair-stream", Logged);
    const fairApp = buildApp({ topics: [t], maxRecordsPerRequest: 100_000, maxRecordsInFlightPerTenant: 100_000 });
    const parts: string[] = [];
    let size = 0;
    for (let i = 0; size < 1024 * 1024 - 100; i++) {
      const r = record(`a-${i}`, i);
      parts.push(r);
      size += r.length;
    }
    const body = parts.join("");
    const res = await fairApp.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body });
    const answers = lines(await res.text());
    await others;
    assert.equal(answers.length, parts.length);
    assert.ok(answers.every((a) => a.error_code === 200), "every record of the big stream is delivered");
    assert.ok(log.includes("bob answered") && log.includes("healthz answered"), log.filter((l) => l !== "alice").join());
    const lastAlice = log.lastIndexOf("alice");
    assert.ok(log.indexOf("healthz answered") < lastAlice, "/healthz was answered while the stream was still being handled");
    assert.ok(log.indexOf("bob") < lastAlice, "bob's record was handled while alice's stream was still being handled");
    assert.equal((await ids(t.name)).length, parts.length + 1);
  },
);

test("a body not received within bodyTimeoutMs is answered 408; nothing of it is published and the tenant's slot is free again", async () => {
  const t = topic("fair-timeout");
  const app = buildApp({ topics: [t], bodyTimeoutMs: 200, maxRequestsPerTenant: 1 });
  const held = heldBody(`{"value":{"data":{"id":"never",`); // the rest never comes
  const res = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), ...held.init });
  assert.match((await errorShape(res, 408)).message, /not received within 200 ms/);
  const next = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: record("after") });
  assert.equal(next.status, 200);
  assert.deepEqual(await ids(t.name), ["after"]);
  assert.throws(() => publishRoutes({ topics: [t], bodyTimeoutMs: 0 }), /bodyTimeoutMs must be an integer from 1/);
});

test("gateway: GATEWAY_BODY_TIMEOUT_MS answers a slow chunked body 408 over a socket; bad bounds stop it at startup, each named", async () => {
  for (
    const name of ["GATEWAY_MAX_REQUESTS_PER_TENANT", "GATEWAY_MAX_RECORDS_IN_FLIGHT_PER_TENANT", "GATEWAY_MAX_RECORDS_PER_REQUEST", "GATEWAY_BODY_TIMEOUT_MS"]
  ) {
    assert.throws(
      () => gatewayConfig({ [name]: "0" }),
      (e: unknown) => e instanceof GatewayConfigError && e.problems[0]!.startsWith(`${name}: expected a whole number from 1`),
      name,
    );
  }
  const config = gatewayConfig({});
  assert.deepEqual(
    [config.maxRequestsPerTenant, config.maxRecordsInFlightPerTenant, config.maxRecordsPerRequest, config.bodyTimeoutMs],
    [256, 20_000, 10_000, 30_000],
  );

  broker.createTopic("orders", 3);
  const gateway = startGateway({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
    GATEWAY_USERS: "alice:pw-alice",
    GATEWAY_BODY_TIMEOUT_MS: "300",
  });
  const url = await gateway.url();
  const slow = slowRequest(url, "/v3/clusters/kshare/topics/orders/records", json("alice"), `{"value":{"data":`);
  await slow.arrived(/"error_code":408/); // the body is never finished: the answer comes by the timeout
  gateway.signal("SIGTERM");
  const { status, body } = await slow.response;
  assert.equal(status, 408, body);
  assert.match(body, /not received within 300 ms/);
  assert.equal(await gateway.exited, 0);
  assert.deepEqual(await ids("orders"), []);
});

test("gateway: a body over the limit is answered 413 and its connection carries the next request, chunked or sized", async () => {
  broker.createTopic("payments", 3);
  const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers, GATEWAY_USERS: "alice:pw-alice" });
  const connection = keepAliveConnection(await gateway.url());
  const path = "/v3/clusters/kshare/topics/payments/records";
  const big = new TextEncoder().encode(JSON.stringify({ value: { type: "JSON", data: "x".repeat(1_500_000) } }));
  const small = (id: string) => new TextEncoder().encode(JSON.stringify({ value: { type: "JSON", data: { id, orderId: id, amount: 1, currency: "EUR" } } }));
  const requests: Array<[string, Uint8Array | Uint8Array[]]> = [
    ["chunked, over", [big.subarray(0, 700_000), big.subarray(700_000)]],
    ["after it", small("after-chunked")],
    ["sized, over", big],
    ["after it", small("after-sized")],
  ];
  const answers: Array<{ status: number; body: string }> = [];
  for (const [name, body] of requests) {
    answers.push(await connection.send(path, json("alice"), body).catch((e: Error) => ({ status: 0, body: `${name}: ${e.message}` })));
  }
  connection.close();
  assert.deepEqual(answers.map((a) => a.status), [413, 200, 413, 200], answers.map((a) => a.body).join("\n"));
  assert.match(answers[0]!.body, /"error_code":413,"message":"The request body is larger than 1048576 bytes"/);
  gateway.signal("SIGTERM");
  assert.equal(await gateway.exited, 0);
  const read = (await kcatRead(broker.bootstrapServers, "payments")).map((r) => (JSON.parse(r.payload!) as { id: string }).id);
  assert.deepEqual(read.sort(), ["after-chunked", "after-sized"]);
});
