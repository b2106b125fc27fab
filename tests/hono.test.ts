// kshare/hono against real Kafka-protocol brokers (librdkafka's mock cluster, in-process,
// over loopback sockets), through app.request() and over a real socket; kcat reads back.
// Tenants differ by bootstrap servers, client id or tuning (the embedded broker has no SASL).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import * as v from "valibot";
import { createRegistry, defineTopic, type Registry, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import {
  createMetrics,
  kafka,
  type KafkaEnv,
  type Metrics,
  openApiDocument,
  opsRoutes,
  publishRoutes,
  type PublishRoutesOptions,
  restProxyErrorHandler,
  restProxyNotFound,
  verifyUsers,
} from "../hono.ts";
import { serve } from "../gateway/serve.ts";
import { kcatRead, quietLogger } from "./_helpers.ts";

const brokerA = await startEmbeddedBroker({ brokers: 1 });
const brokerB = await startEmbeddedBroker({ brokers: 1 });
const brokerC = await startEmbeddedBroker({ brokers: 1 }); // taken down by the 503 test
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const registry = createRegistry({ logger });
after(async () => {
  await registry.close();
  await Promise.all([brokerA.stop(), brokerB.stop(), brokerC.stop()]);
});

const SECRET = "pw-that-must-never-appear";
const contexts = new Map<string, SecurityContext>([
  ["alice", { bootstrapServers: brokerA.bootstrapServers, clientId: "tenant-alice" }],
  ["bob", { bootstrapServers: brokerB.bootstrapServers, clientId: "tenant-bob" }],
  ["small", { bootstrapServers: brokerA.bootstrapServers, clientId: "tenant-small", producer: { "message.max.bytes": 1000 } }],
  ["fragile", {
    bootstrapServers: brokerC.bootstrapServers,
    clientId: "tenant-fragile",
    producer: { "message.timeout.ms": 1000 },
  }],
  // Invalid on purpose (sasl over PLAINTEXT): answered 403, its password never shown.
  ["broken", {
    bootstrapServers: brokerA.bootstrapServers,
    securityProtocol: "PLAINTEXT",
    sasl: { mechanism: "PLAIN", username: "broken", password: SECRET },
  }],
]);
const users = [...contexts.keys(), "nobody"].map((username) => ({ username, password: `pw-${username}` }));
const auth = (user: string) => ({ Authorization: `Basic ${btoa(`${user}:pw-${user}`)}` });

const Order = v.object({ id: v.string(), total: v.pipe(v.number(), v.minValue(0)) });
let topicSeq = 0;
/** A fresh topic on brokers A and B (3 partitions), keyed by order id. */
function topic(prefix: string) {
  const name = `${prefix}-${++topicSeq}`;
  for (const broker of [brokerA, brokerB, brokerC]) broker.createTopic(name, 3);
  return defineTopic({ name, schema: Order, key: (o) => o.id });
}

/** The standard composition: Basic auth users as tenants, kafka(), the produce API and the ops routes. */
function buildApp(
  options: Omit<PublishRoutesOptions, "topics"> & {
    topics: PublishRoutesOptions["topics"];
    registry?: Registry;
    metrics?: Metrics;
  },
) {
  const own = options.registry ?? registry;
  const app = new Hono<{ Variables: { user: string } }>();
  app.onError(restProxyErrorHandler({ logger }));
  app.notFound(restProxyNotFound);
  app.route(
    "/",
    opsRoutes({
      registry: own,
      logger,
      readinessContext: contexts.get("fragile")!,
      readinessTimeoutMs: 1000,
      ...(options.metrics && { metrics: options.metrics }),
      openapi: openApiDocument({ topics: options.topics, clusterId: options.clusterId ?? "kshare" }),
    }),
  );
  app.use(
    "/v3/*",
    basicAuth({
      verifyUser: verifyUsers(users),
      invalidUserMessage: { error_code: 401, message: "Unauthorized" },
      onAuthSuccess: (c, u) => c.set("user", u),
    }),
  );
  app.use(
    "/v3/*",
    kafka<{ Variables: { user: string } }>({
      registry: own,
      logger,
      ...(options.metrics && { metrics: options.metrics }),
      resolveContext: (c) => contexts.get(c.var.user),
    }),
  );
  app.route("/", publishRoutes({ logger, ...options }));
  return app;
}

const json = (user: string) => ({ ...auth(user), "Content-Type": "application/json" });
const recordsPath = (topicName: string, cluster = "kshare") => `/v3/clusters/${cluster}/topics/${topicName}/records`;
const b64 = (s: string) => btoa(s);
/** Every error body: REST Proxy shape, no stack trace, no secret. */
async function errorBody(res: Response): Promise<{ error_code: number; message: string }> {
  const text = await res.text();
  assert.doesNotMatch(text, /\bat .+:\d+:\d+|node_modules|\.ts:\d+/, `stack trace in ${text}`);
  assert.ok(!text.includes(SECRET), `secret in ${text}`);
  const body = JSON.parse(text) as { error_code: number; message: string };
  assert.equal(typeof body.error_code, "number");
  assert.equal(typeof body.message, "string");
  return body;
}
/** A request body that arrives in chunks, without a Content-Length (chunked on the wire). */
function chunked(parts: readonly string[]): { body: ReadableStream<Uint8Array>; duplex: "half" } {
  const encoder = new TextEncoder();
  let i = 0;
  return {
    body: new ReadableStream({
      pull(controller) {
        if (i < parts.length) controller.enqueue(encoder.encode(parts[i++]!));
        else controller.close();
      },
    }),
    duplex: "half",
  };
}
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

test("200: a record is published with its key, headers (in order, a name repeated) and JSON value, and kcat reads exactly that", async () => {
  const t = topic("single");
  const app = buildApp({ topics: [t] });
  const res = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: json("alice"),
    body: JSON.stringify({
      key: { type: "STRING", data: "order-1" },
      headers: [{ name: "trace", value: b64("t-1") }, { name: "source", value: b64("checkout") }, { name: "trace", value: b64("t-2") }],
      value: { type: "JSON", data: { id: "o-1", total: 42 } },
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.json() as Record<string, unknown>;
  assert.deepEqual({ ...body, offset: undefined, partition_id: undefined, timestamp: undefined }, {
    error_code: 200,
    cluster_id: "kshare",
    topic_name: t.name,
    partition_id: undefined,
    offset: undefined,
    timestamp: undefined,
    key: { type: "STRING", size: 7 },
    value: { type: "JSON", size: JSON.stringify({ id: "o-1", total: 42 }).length },
  });
  assert.ok(!Number.isNaN(Date.parse(body.timestamp as string)));
  const records = await kcatRead(brokerA.bootstrapServers, t.name);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.partition, body.partition_id);
  assert.equal(records[0]!.offset, body.offset);
  assert.equal(records[0]!.key, "order-1");
  assert.deepEqual(records[0]!.headers, ["trace", "t-1", "source", "checkout", "trace", "t-2"]);
  assert.deepEqual(JSON.parse(records[0]!.payload!), { id: "o-1", total: 42 });
});

test("STRING and BINARY values are decoded by the topic's serializer and validated; keys default to the topic's", async () => {
  const t = topic("types");
  const app = buildApp({ topics: [t] });
  const send = (record: unknown) => app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: JSON.stringify(record) });
  const asString = await send({ value: { type: "STRING", data: JSON.stringify({ id: "s-1", total: 1 }) } });
  assert.equal(asString.status, 200);
  assert.deepEqual((await asString.json() as { key: unknown }).key, { type: "STRING", size: 3 }); // the topic's key: the order id
  const asBinary = await send({
    key: { type: "BINARY", data: b64("bin-key") },
    value: { type: "BINARY", data: b64(JSON.stringify({ id: "b-1", total: 2 })) },
  });
  assert.equal(asBinary.status, 200);
  const jsonKey = await send({ key: { type: "JSON", data: { k: 1 } }, value: { data: { id: "j-1", total: 3 } } });
  assert.equal(jsonKey.status, 200);
  const noKey = await send({ key: null, value: { data: { id: "n-1", total: 4 } } });
  assert.equal(noKey.status, 200);
  assert.equal((await noKey.json() as { key: unknown }).key, null);
  const notAnOrder = await send({ value: { type: "STRING", data: "hello" } });
  assert.equal(notAnOrder.status, 400);
  assert.match((await errorBody(notAnOrder)).message, /value\.data: cannot be decoded/);
  const records = await kcatRead(brokerA.bootstrapServers, t.name);
  const byId = new Map(records.map((r) => [JSON.parse(r.payload!).id as string, r]));
  assert.deepEqual([...byId.keys()].sort(), ["b-1", "j-1", "n-1", "s-1"]);
  assert.equal(byId.get("s-1")!.key, "s-1");
  assert.equal(byId.get("b-1")!.key, "bin-key");
  assert.equal(byId.get("j-1")!.key, '{"k":1}');
  assert.equal(byId.get("n-1")!.key, null);
});

test("400: malformed JSON, invalid records and schema violations, with the issues' paths; nothing is published", async () => {
  const t = topic("invalid");
  const app = buildApp({ topics: [t] });
  const cases: Array<[string, RegExp]> = [
    ['{"value": ', /Malformed JSON/],
    ['{"value": {"data": tru}}', /Malformed JSON/],
    ["[1, 2]", /expected a JSON object/],
    ['{"value": {"type": "JSON", "data": {"id": "x", "total": "lots"}}}', /value\.data\.total: .*number/],
    ['{"value": {"data": {"id": "x", "total": -1}}}', /value\.data\.total/],
    ['{"value": {"type": "AVRO", "data": {}}}', /value.*type must be JSON, STRING or BINARY/],
    ['{"value": {"type": "BINARY", "data": "%%%"}}', /value\.data: expected a base64 string/],
    ['{"headers": [{"name": "a", "value": "not base64!"}], "value": {"data": {"id": "x", "total": 1}}}', /headers\.0\.value/],
    ['{"partition_id": -1, "value": {"data": {"id": "x", "total": 1}}}', /partition_id/],
    ['{"partition_id": 1.5, "value": {"data": {"id": "x", "total": 1}}}', /partition_id/],
    ['{"timestamp": "yesterday", "value": {"data": {"id": "x", "total": 1}}}', /timestamp/],
    ['{"timestamp": "1969-12-31T23:59:59Z", "value": {"data": {"id": "x", "total": 1}}}', /timestamp.*from 1970 on/],
    ['{"timestamp": 1e308, "value": {"data": {"id": "x", "total": 1}}}', /timestamp: expected at most 8640000000000000 ms/],
    ['{"schema_id": 3, "value": {"data": {"id": "x", "total": 1}}}', /schema_id/],
    ['{"value": null}', /Invalid value for topic/],
    ['"just a string"', /expected a JSON object/],
  ];
  for (const [body, message] of cases) {
    const res = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body });
    assert.equal(res.status, 400, body);
    const error = await errorBody(res);
    assert.equal(error.error_code, 400);
    assert.match(error.message, message, body);
  }
  assert.deepEqual(await kcatRead(brokerA.bootstrapServers, t.name), []);
});

test("a value the topic's schema refuses is answered 400 before any producer: even when the tenant's Kafka cannot be reached", async () => {
  const t = topic("unreachable");
  const own = createRegistry({ logger });
  try {
    const app = new Hono<KafkaEnv>();
    app.onError(restProxyErrorHandler({ logger }));
    // Nothing listens on port 1: a producer for this context could never connect.
    app.use("/v3/*", kafka({ registry: own, logger, resolveContext: () => ({ bootstrapServers: "127.0.0.1:1", clientId: "tenant-unreachable" }) }));
    app.route("/", publishRoutes({ topics: [t], logger }));
    // A handler's own publishBatch through c.var.kafka: one ValidationError naming the refused record's index.
    app.post("/v3/own-batch", async (c) => {
      const refused = await c.var.kafka.publishBatch(t, [{ value: { id: "a", total: 1 } }, { value: { id: "b", total: -1 } }]).catch((e: Error) => e);
      return c.text(refused instanceof Error ? `${refused.name}: ${refused.message}` : "published");
    });
    const headers = { "Content-Type": "application/json" };
    const one = await app.request(recordsPath(t.name), { method: "POST", headers, body: JSON.stringify({ value: { data: { id: "x", total: -1 } } }) });
    assert.equal(one.status, 400);
    assert.match((await errorBody(one)).message, /Invalid value for topic .*value\.data\.total/);
    const batch = await app.request(`${recordsPath(t.name)}:batch`, {
      method: "POST",
      headers,
      body: JSON.stringify({ entries: [{ id: "e1", value: { data: { id: "x", total: -1 } } }] }),
    });
    assert.equal(batch.status, 207);
    const answer = await batch.json() as { successes: unknown[]; failures: Array<{ id: string; error_code: number }> };
    assert.deepEqual(answer.successes, []);
    assert.deepEqual(answer.failures.map((f) => [f.id, f.error_code]), [["e1", 400]]);
    const ownBatch = await app.request("/v3/own-batch", { method: "POST" });
    assert.match(await ownBatch.text(), /^ValidationError: .*\[1\]\.total/);
    assert.deepEqual(Object.keys(own.stats().contexts), [], "no producer was asked for");
  } finally {
    await own.close();
  }
});

test("401 without or with wrong credentials; 403 for a caller without a context or with an invalid one, never a default", async () => {
  const t = topic("auth");
  const app = buildApp({ topics: [t] });
  const body = JSON.stringify({ value: { data: { id: "a", total: 1 } } });
  const anonymous = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("WWW-Authenticate") ?? "", /^Basic/);
  assert.equal((await errorBody(anonymous)).error_code, 401);
  const wrong = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: { Authorization: `Basic ${btoa("alice:pw-bob")}`, "Content-Type": "application/json" },
    body,
  });
  assert.equal(wrong.status, 401);
  for (const user of ["nobody", "broken"]) {
    const res = await app.request(recordsPath(t.name), { method: "POST", headers: json(user), body });
    assert.equal(res.status, 403, user);
    assert.equal((await errorBody(res)).error_code, 40301);
  }
  assert.ok(!JSON.stringify((logger as { lines?: string[] }).lines ?? []).includes(SECRET), "a secret was logged");
  // publishRoutes without kafka() in front: no context, no publish.
  const bare = new Hono().route("/", publishRoutes({ topics: [t] }));
  const unguarded = await bare.request(recordsPath(t.name), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  assert.equal(unguarded.status, 403);
  await errorBody(unguarded);
  assert.deepEqual(await kcatRead(brokerA.bootstrapServers, t.name), []);
});

test("404: an undefined topic is 40403 (only defined topics are published), another cluster id is 404", async () => {
  const t = topic("defined");
  brokerA.createTopic("undefined-but-real", 1);
  const app = buildApp({ topics: [t] });
  const body = JSON.stringify({ value: { data: { id: "a", total: 1 } } });
  for (const path of [recordsPath("undefined-but-real"), recordsPath("nope"), `${recordsPath("nope")}:batch`]) {
    const res = await app.request(path, { method: "POST", headers: json("alice"), body });
    assert.equal(res.status, 404, path);
    assert.equal((await errorBody(res)).error_code, 40403);
  }
  const otherCluster = await app.request(recordsPath(t.name, "other"), { method: "POST", headers: json("alice"), body });
  assert.equal(otherCluster.status, 404);
  assert.equal((await errorBody(otherCluster)).error_code, 404);
  const unknownPath = await app.request("/v3/nothing", { headers: auth("alice") });
  assert.equal(unknownPath.status, 404);
  await errorBody(unknownPath);
  const partition = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: json("alice"),
    body: JSON.stringify({ partition_id: 7, value: { data: { id: "a", total: 1 } } }),
  });
  assert.equal(partition.status, 404);
  assert.equal((await errorBody(partition)).error_code, 40403);
  assert.deepEqual(await kcatRead(brokerA.bootstrapServers, "undefined-but-real"), []);
});

test("413: a body over maxBodyBytes (with Content-Length or chunked) and a record over the producer's message.max.bytes", async () => {
  const t = topic("large");
  const app = buildApp({ topics: [t], maxBodyBytes: 1024 });
  const big = JSON.stringify({ value: { data: { id: "x".repeat(2000), total: 1 } } });
  const sized = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: big });
  assert.equal(sized.status, 413);
  assert.equal((await errorBody(sized)).error_code, 413);
  const streamed = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: json("alice"),
    ...chunked([big.slice(0, 900), big.slice(900)]),
  });
  assert.equal(streamed.status, 413);
  await errorBody(streamed);
  // Within the body limit of another app, but over the 1000 bytes the "small" tenant's producer accepts.
  const roomy = buildApp({ topics: [t] });
  const record = await roomy.request(recordsPath(t.name), { method: "POST", headers: json("small"), body: big });
  assert.equal(record.status, 413);
  assert.equal((await errorBody(record)).error_code, 413);
  assert.deepEqual(await kcatRead(brokerA.bootstrapServers, t.name), []);
});

test("415 for a content type other than JSON; 422 for an empty body", async () => {
  const t = topic("media");
  const app = buildApp({ topics: [t] });
  const body = JSON.stringify({ value: { data: { id: "a", total: 1 } } });
  for (
    const headers of [{ ...auth("alice"), "Content-Type": "text/plain" }, {
      ...auth("alice"),
      "Content-Type": "application/x-www-form-urlencoded",
    }, auth("alice")]
  ) {
    for (const path of [recordsPath(t.name), `${recordsPath(t.name)}:batch`]) {
      const res = await app.request(path, { method: "POST", headers, body });
      assert.equal(res.status, 415);
      assert.equal((await errorBody(res)).error_code, 415);
    }
  }
  for (const empty of ["", "  \n\t "]) {
    for (const path of [recordsPath(t.name), `${recordsPath(t.name)}:batch`]) {
      const res = await app.request(path, { method: "POST", headers: json("alice"), body: empty });
      assert.equal(res.status, 422);
      assert.equal((await errorBody(res)).error_code, 422);
    }
  }
  const chunkedEmpty = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), ...chunked([]) });
  assert.equal(chunkedEmpty.status, 422);
});

// About 4 s on its own (a 1 s delivery timeout, a 1 s readiness bound, reconnects): over Bun's 5 s default on a busy machine.
test("503 / 50003 with Retry-After when the broker is down (delivery timed out) and once the registry is closing", { timeout: 30_000 }, async () => {
  const t = topic("down");
  const app = buildApp({ topics: [t], retryAfterSeconds: 7 });
  const body = (id: string) => JSON.stringify({ value: { data: { id, total: 1 } } });
  const warm = await app.request(recordsPath(t.name), { method: "POST", headers: json("fragile"), body: body("before") });
  assert.equal(warm.status, 200);
  assert.equal((await app.request("/readyz")).status, 200);
  brokerC.brokerDown(1);
  try {
    const down = await app.request(recordsPath(t.name), { method: "POST", headers: json("fragile"), body: body("lost") });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("Retry-After"), "7");
    assert.deepEqual(await errorBody(down), { error_code: 50003, message: "Delivery to Kafka timed out" });
    const notReady = await app.request("/readyz");
    assert.equal(notReady.status, 503);
    assert.ok(notReady.headers.get("Retry-After"));
  } finally {
    brokerC.brokerUp(1);
  }
  // A registry that is closing hands out no producer: 503, not a fallback.
  const closing = createRegistry({ logger });
  const closingApp = buildApp({ topics: [t], registry: closing });
  await closing.close();
  const closed = await closingApp.request(recordsPath(t.name), { method: "POST", headers: json("alice"), body: body("late") });
  assert.equal(closed.status, 503);
  assert.ok(closed.headers.get("Retry-After"));
  assert.equal((await errorBody(closed)).error_code, 50003);
  assert.equal((await closingApp.request("/readyz")).status, 503);
});

test("streaming mode: 100 records in one chunked request get 100 results in order, each with its own error_code", async () => {
  const t = topic("stream");
  const app = buildApp({ topics: [t] });
  // One key: one partition, so the offsets show the order the broker stored them in.
  const records = Array.from(
    { length: 100 },
    (_, n) =>
      JSON.stringify(
        n === 42
          ? { key: { type: "STRING", data: "same" }, value: { data: { id: "bad", total: "NaN" } } }
          : { key: { type: "STRING", data: "same" }, value: { data: { id: `s-${n}`, total: n } } },
      ),
  );
  // Records split across chunks at arbitrary points, separated by varied whitespace.
  const text = records.join("\n ");
  const parts = Array.from({ length: Math.ceil(text.length / 97) }, (_, i) => text.slice(i * 97, (i + 1) * 97));
  const res = await app.request(recordsPath(t.name), { method: "POST", headers: json("alice"), ...chunked(parts) });
  assert.equal(res.status, 200);
  const results = lines(await res.text());
  assert.equal(results.length, 100);
  assert.equal(results[42]!.error_code, 400);
  assert.match(results[42]!.message as string, /value\.data\.total/);
  const delivered = results.filter((_, n) => n !== 42);
  assert.ok(delivered.every((r) => r.error_code === 200 && r.partition_id === delivered[0]!.partition_id));
  const offsets = delivered.map((r) => r.offset as number);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
  assert.equal(new Set(offsets).size, 99);
  const stored = await kcatRead(brokerA.bootstrapServers, t.name);
  assert.deepEqual(
    stored.sort((a, b) => a.offset - b.offset).map((r) => JSON.parse(r.payload!).id),
    Array.from({ length: 100 }, (_, n) => `s-${n}`).filter((id) => id !== "s-42"),
  );
});

test("batch: one invalid entry is in failures (207), the others are delivered; ids are required, unique, at most maxBatchEntries", async () => {
  const t = topic("batch");
  const app = buildApp({ topics: [t] });
  const path = `${recordsPath(t.name)}:batch`;
  const entries = Array.from({ length: 10 }, (_, n) => ({
    id: `e${n}`,
    key: { type: "STRING", data: `k${n}` },
    headers: [{ name: "n", value: b64(String(n)) }],
    value: { data: n === 3 ? { id: "x" } : { id: `b-${n}`, total: n } },
  }));
  const res = await app.request(path, { method: "POST", headers: json("alice"), body: JSON.stringify({ entries }) });
  assert.equal(res.status, 207);
  const { successes, failures } = await res.json() as {
    successes: Array<{ id: string; offset: number; partition_id: number; topic_name: string }>;
    failures: Array<{ id: string; error_code: number; message: string }>;
  };
  assert.deepEqual(successes.map((s) => s.id), ["e0", "e1", "e2", "e4", "e5", "e6", "e7", "e8", "e9"]);
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.id, "e3");
  assert.equal(failures[0]!.error_code, 400);
  assert.match(failures[0]!.message, /value\.data\.total/);
  const stored = await kcatRead(brokerA.bootstrapServers, t.name);
  assert.equal(stored.length, 9);
  for (const r of stored) {
    const n = Number(r.key!.slice(1));
    assert.deepEqual(JSON.parse(r.payload!), { id: `b-${n}`, total: n });
    assert.deepEqual(r.headers, ["n", String(n)]);
  }
  const rejected: Array<[unknown, RegExp]> = [
    [
      { entries: [{ id: "a", value: { data: { id: "a", total: 1 } } }, { id: "a", value: { data: { id: "b", total: 1 } } }] },
      /unique/,
    ],
    [{ entries: [{ id: "", value: { data: { id: "a", total: 1 } } }] }, /id/],
    [{ entries: [{ id: "  ", value: { data: { id: "a", total: 1 } } }] }, /id/],
    [{ entries: [{ value: { data: { id: "a", total: 1 } } }] }, /id/],
    [{ entries: Array.from({ length: 11 }, (_, n) => ({ id: `x${n}`, value: { data: { id: "a", total: 1 } } })) }, /at most 10/],
    [{ entries: [] }, /at least one/],
    [{ records: [] }, /entries/],
  ];
  for (const [body, message] of rejected) {
    const bad = await app.request(path, { method: "POST", headers: json("alice"), body: JSON.stringify(body) });
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.match((await errorBody(bad)).message, message);
  }
  const malformed = await app.request(path, { method: "POST", headers: json("alice"), body: '{"entries": [' });
  assert.equal(malformed.status, 400);
  await errorBody(malformed);
  const wide = buildApp({ topics: [t], maxBatchEntries: 50 });
  const fifty = Array.from({ length: 50 }, (_, n) => ({ id: `w${n}`, value: { data: { id: `w-${n}`, total: n } } }));
  const ok = await wide.request(path, { method: "POST", headers: json("alice"), body: JSON.stringify({ entries: fifty }) });
  assert.equal(ok.status, 207);
  assert.equal((await ok.json() as { successes: unknown[] }).successes.length, 50);
  assert.throws(() => publishRoutes({ topics: [t], maxBatchEntries: 51 }), /maxBatchEntries/);
  assert.equal(stored.length + 50, (await kcatRead(brokerA.bootstrapServers, t.name)).length);
});

test("two tenants get two producers; 1,000 requests from one tenant reuse one producer", async () => {
  const t = topic("reuse");
  const own = createRegistry({ logger });
  const app = buildApp({ topics: [t], registry: own });
  const send = async (user: string, n: number) =>
    await app.request(recordsPath(t.name), {
      method: "POST",
      headers: json(user),
      body: JSON.stringify({ value: { data: { id: `${user}-${n}`, total: n } } }),
    });
  for (let wave = 0; wave < 10; wave++) {
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => send("alice", wave * 100 + i).then((r) => r.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  }
  assert.equal((await send("bob", 0)).status, 200);
  const stats = own.stats().contexts;
  const fingerprints = Object.keys(stats);
  assert.equal(fingerprints.length, 2);
  const alice = Object.values(stats).find((s) => s.description.includes("client=tenant-alice"))!;
  const bob = Object.values(stats).find((s) => s.description.includes("client=tenant-bob"))!;
  assert.equal(alice.clientsCreated, 1);
  assert.equal(alice.liveProducers, 1);
  assert.equal(alice.handlesReused, 999);
  assert.equal(bob.clientsCreated, 1);
  assert.equal((await kcatRead(brokerA.bootstrapServers, t.name)).length, 1000);
  assert.equal((await kcatRead(brokerB.bootstrapServers, t.name)).length, 1);
  await own.close();
});

test("a request resolved to tenant A cannot publish with tenant B's context, whatever headers, path or body it sends", async () => {
  const t = topic("isolation");
  const own = createRegistry({ logger });
  const metrics = createMetrics();
  const app = buildApp({ topics: [t], registry: own, metrics });
  const bobFingerprint = (await own.producer(contexts.get("bob")!)).fingerprint;
  const bobBefore = own.stats().contexts[bobFingerprint]!;
  const attempts: Array<{ path: string; headers: Record<string, string>; extra: object; batch?: boolean }> = [
    {
      path: recordsPath(t.name),
      headers: { "X-Tenant": "bob", "X-Kafka-Client-Id": "tenant-bob", "X-Forwarded-User": "bob" },
      extra: {},
    },
    {
      path: recordsPath(t.name),
      headers: { "X-Bootstrap-Servers": brokerB.bootstrapServers },
      extra: { headers: [{ name: "tenant", value: b64("bob") }] },
    },
    { path: `${recordsPath(t.name)}?user=bob&tenant=bob`, headers: { Cookie: "user=bob" }, extra: { partition_id: 0 } },
    {
      path: `${recordsPath(t.name)}:batch`,
      headers: { "X-Tenant": "bob", "X-Kafka-Context": bobFingerprint },
      extra: {},
      batch: true,
    },
  ];
  for (const [n, { path, headers, extra, batch }] of attempts.entries()) {
    const record = { ...extra, key: { type: "STRING", data: `a-${n}` }, value: { data: { id: `a-${n}`, total: n } } };
    const res = await app.request(path, {
      method: "POST",
      headers: { ...json("alice"), ...headers },
      body: JSON.stringify(batch ? { entries: [{ id: "1", ...record }] } : record),
    });
    assert.equal(res.status, batch ? 207 : 200, path);
    if (batch) assert.equal((await res.json() as { successes: unknown[] }).successes.length, 1);
  }
  // Two credentials in one Authorization header are no credentials at all.
  const both = await app.request(recordsPath(t.name), {
    method: "POST",
    headers: {
      Authorization: `${auth("alice").Authorization}, ${auth("bob").Authorization}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({ value: { data: { id: "both", total: 1 } } }),
  });
  assert.equal(both.status, 401);
  const bobAfter = own.stats().contexts[bobFingerprint]!;
  assert.deepEqual(bobAfter, bobBefore, "bob's producer was used");
  assert.equal((await kcatRead(brokerB.bootstrapServers, t.name)).length, 0, "a record reached bob's cluster");
  const onA = await kcatRead(brokerA.bootstrapServers, t.name);
  assert.deepEqual(onA.map((r) => r.key).sort(), attempts.map((_, n) => `a-${n}`));
  assert.deepEqual(metrics.publishes()[t.name], { 200: attempts.length });
  await own.close();
});

test("over a real socket: single, streaming (chunked) and batch requests", async () => {
  const t = topic("socket");
  const app = buildApp({ topics: [t] });
  const server = await serve(app.fetch, { hostname: "127.0.0.1", port: 0 });
  try {
    const url = `${server.url}${recordsPath(t.name)}`;
    const single = await fetch(url, {
      method: "POST",
      headers: json("alice"),
      body: JSON.stringify({ value: { data: { id: "w-0", total: 0 } } }),
    });
    assert.equal(single.status, 200);
    assert.equal((await single.json() as { error_code: number }).error_code, 200);
    const streamParts = Array.from(
      { length: 20 },
      (_, n) => JSON.stringify({ key: { type: "STRING", data: "k" }, value: { data: { id: `w-${n + 1}`, total: n } } }),
    );
    const streamed = await fetch(url, { method: "POST", headers: json("alice"), ...chunked(streamParts) } as RequestInit);
    assert.equal(streamed.status, 200);
    const results = lines(await streamed.text());
    assert.equal(results.length, 20);
    assert.ok(results.every((r) => r.error_code === 200));
    const batch = await fetch(`${url}:batch`, {
      method: "POST",
      headers: json("alice"),
      body: JSON.stringify({
        entries: [{ id: "a", value: { data: { id: "w-21", total: 1 } } }, { id: "b", value: { data: { id: "w-22" } } }],
      }),
    });
    assert.equal(batch.status, 207);
    const { successes, failures } = await batch.json() as { successes: { id: string }[]; failures: { id: string }[] };
    assert.deepEqual([successes.map((s) => s.id), failures.map((f) => f.id)], [["a"], ["b"]]);
    const anonymous = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    assert.equal((await kcatRead(brokerA.bootstrapServers, t.name)).length, 22);
  } finally {
    await server.close(5_000);
  }
});

test("ops: /healthz, /readyz, /metrics (publishes, latency, connections per fingerprint, in flight) and /openapi.json", async () => {
  const t = topic("ops");
  const own = createRegistry({ logger });
  const metrics = createMetrics();
  const app = buildApp({ topics: [t], registry: own, metrics });
  assert.deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  const ready = await app.request("/readyz");
  assert.equal(ready.status, 200);
  assert.equal((await ready.json() as { status: string }).status, "ready");
  for (const total of [1, 2, -1]) {
    await app.request(recordsPath(t.name), {
      method: "POST",
      headers: json("alice"),
      body: JSON.stringify({ value: { data: { id: "m", total } } }),
    });
  }
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const alice = (await own.producer(contexts.get("alice")!)).fingerprint;
  const fragile = (await own.producer(contexts.get("fragile")!)).fingerprint;
  assert.match(text, new RegExp(`^kshare_publishes_total\\{topic="${t.name}",status="200"\\} 2$`, "m"));
  assert.match(text, new RegExp(`^kshare_publishes_total\\{topic="${t.name}",status="400"\\} 1$`, "m"));
  assert.match(text, new RegExp(`^kshare_publish_duration_seconds_count\\{topic="${t.name}"\\} 2$`, "m"));
  assert.match(text, new RegExp(`^kshare_publish_duration_seconds_bucket\\{topic="${t.name}",le="\\+Inf"\\} 2$`, "m"));
  assert.match(text, new RegExp(`^kshare_clients_created_total\\{context="${alice}"\\} 1$`, "m"));
  // The third request's value is refused before its producer is asked for: two handles, one of them reused.
  assert.match(text, new RegExp(`^kshare_handles_reused_total\\{context="${alice}"\\} 1$`, "m"));
  assert.match(text, new RegExp(`^kshare_live_producers\\{context="${fragile}"\\} 1$`, "m"));
  assert.match(text, /^kshare_http_requests_in_flight 0$/m);
  assert.match(text, /^kshare_publishes_in_flight 0$/m);
  for (const leak of ["alice", "tenant-", "127.0.0.1", SECRET]) assert.ok(!text.includes(leak), `metrics mention ${leak}`);
  const doc = await (await app.request("/openapi.json")).json() as {
    openapi: string;
    paths: Record<string, unknown>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };
  assert.equal(doc.openapi, "3.1.0");
  // Every GET and POST route publishRoutes serves is in the document.
  assert.ok(doc.paths["/v3/clusters"]);
  assert.ok(doc.paths["/v3/clusters/{cluster_id}"]);
  assert.ok(doc.paths[`/v3/clusters/{cluster_id}/topics/${t.name}/records`]);
  assert.ok(doc.paths[`/v3/clusters/{cluster_id}/topics/${t.name}/records:batch`]);
  const value = doc.components.schemas[`${t.name}.value`]!;
  assert.deepEqual(value.required, ["id", "total"]);
  assert.deepEqual(value.properties!.total, { type: "number", minimum: 0 });
  assert.match(JSON.stringify(doc.components.schemas[`${t.name}.record`]), /"minimum":0/);
  await own.close();
  const closing = await app.request("/readyz");
  assert.equal(closing.status, 503);
  assert.equal((await closing.json() as { reason: string }).reason, "shutting down");
});

test("metrics of a batch that fails in part: each record counted by its outcome, the delivered ones' latency observed", async () => {
  const t = topic("batch-metrics");
  const metrics = createMetrics();
  const app = new Hono()
    .use(kafka({ registry, metrics, resolveContext: () => contexts.get("alice") }))
    .post("/batch", async (c) => {
      // The second record names a partition the topic does not have (it has 3).
      const records = [{ value: { id: "a", total: 1 } }, { value: { id: "b", total: 2 }, partition: 99 }];
      return c.text(await c.var.kafka.publishBatch(t, records).then(() => "delivered", (error: Error) => error.name));
    });
  assert.equal(await (await app.request("/batch", { method: "POST" })).text(), "PublishBatchError");
  const counted = metrics.publishes()[t.name]!;
  assert.equal(counted[200], 1, JSON.stringify(counted));
  assert.equal(Object.values(counted).reduce((a, b) => a + b, 0), 2, JSON.stringify(counted));
  assert.match(metrics.render(), new RegExp(`^kshare_publish_duration_seconds_count\\{topic="${t.name}"\\} 1$`, "m"));
});

test("no input is answered with a 500", async () => {
  const t = topic("fuzz");
  const app = buildApp({ topics: [t] });
  const bodies = [
    "{",
    "}",
    "{}",
    "null",
    "0",
    '""',
    "[]",
    "{}{}{",
    '{"value":{"data":1e999}}',
    '{"value":{"type":"JSON"}}',
    '{"key":{"type":"STRING","data":1}}',
    '{"key":{"type":"BINARY","data":"=="}}',
    '{"headers":{}}',
    '{"headers":[null]}',
    '{"timestamp":-5}',
    '{"partition_id":"0"}',
    '{"value":{"data":{"id":"x","total":1}},"__proto__":{"polluted":1}}',
    '{"value":{"data":{"id":"\\ud800","total":1}}}',
    "\u0000",
    '{"value":{"data":{"id":"x","total":1}}} garbage',
    '{"entries":[{"id":"1","value":{"type":"BINARY","data":"x"}}]}',
  ];
  for (const body of bodies) {
    for (const path of [recordsPath(t.name), `${recordsPath(t.name)}:batch`]) {
      const res = await app.request(path, { method: "POST", headers: json("alice"), body });
      assert.ok(res.status < 500, `${path} ${JSON.stringify(body)} → ${res.status}`);
      const text = await res.text();
      assert.doesNotMatch(text, /\bat .+:\d+:\d+/);
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
