// The REST Proxy driver against the kshare gateway (its own process, on this runtime) in front of the
// embedded broker, in streaming and batch modes: publishes go out over fetch only, kcat reads back what
// the gateway wrote. Small HTTP
// servers in this process (gateway/serve.ts, the runtime-neutral one) stand between them where a test
// needs answers the gateway does not give: 429/503 with Retry-After, an OAuth token endpoint, a held request.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import * as v from "valibot";
import {
  ClosedError,
  ConnectError,
  createRegistry,
  defineTopic,
  type DeliveryReport,
  resolveSecurityContext,
  restProxyDriver,
  type SecurityContext,
  ValidationError,
} from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { producerConfig } from "../src/_client_config.ts";
import { type RunningServer, serve } from "../gateway/serve.ts";
import { Countdown, denoBinary, gate, kcatRead, quietLogger } from "./_helpers.ts";
import { basic, startGateway } from "./_gateway.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("orders", 3);
broker.createTopic("payments", 3);
const PASSWORD = "alice-gateway-pw-7f3e";
const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers, GATEWAY_USERS: `alice:${PASSWORD}` });
const gatewayUrl = await gateway.url();
const servers: RunningServer[] = [];
const gates: Array<() => void> = [];
// (tests/_gateway.ts stops the gateway.)
after(async () => {
  for (const open of gates) open();
  await Promise.all(servers.map((s) => s.close(5_000)));
  await broker.stop();
});
const logger = quietLogger();

// The gateway's topics, as a client defines them (gateway/topics.ts).
const orders = defineTopic({
  name: "orders",
  schema: v.object({ id: v.string(), customer: v.string(), total: v.number() }),
});

/** A context publishing to the REST endpoint at `url` as `user`, over plain HTTP. */
function contextFor(url: string, password = PASSWORD, extra: Partial<SecurityContext> = {}): SecurityContext {
  return {
    bootstrapServers: new URL(url).host,
    securityProtocol: "SASL_PLAINTEXT",
    sasl: { mechanism: "PLAIN", username: "alice", password },
    ...extra,
  };
}

/** A `fetch` that records each request as "METHOD /path", and each request body as text ("" for none). */
function recordingFetch(): { requests: string[]; bodies: string[]; fetch: (url: string, init: RequestInit) => Promise<Response> } {
  const requests: string[] = [];
  const bodies: string[] = [];
  const fetchAndRecord = (url: string, init: RequestInit) => {
    requests.push(`${init.method} ${new URL(url).pathname}`);
    bodies.push(init.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : "");
    return fetch(url, init);
  };
  return { requests, bodies, fetch: fetchAndRecord };
}

/** The number of entries of each `records:batch` body among `bodies` (after checking that its ids are unique). */
function batchSizes(bodies: readonly string[]): number[] {
  return bodies.filter((body) => body !== "").map((body) => {
    const { entries } = JSON.parse(body) as { entries: Array<{ id: string }> };
    assert.equal(new Set(entries.map((e) => e.id)).size, entries.length, `entry ids repeat in ${body}`);
    return entries.length;
  });
}

/** The driver's modes, each with the options that select it. */
const modes = [
  { mode: "streaming", options: {} },
  { mode: "batch", options: { mode: "batch" } },
] as const;

/** Forward a request to the gateway, with `authorization` (default: the request's own). */
async function forward(request: Request, authorization = request.headers.get("authorization")): Promise<Response> {
  const { pathname, search } = new URL(request.url);
  const headers: Record<string, string> = { "Content-Type": request.headers.get("content-type") ?? "application/json" };
  if (authorization) headers["Authorization"] = authorization;
  const answer = await fetch(`${gatewayUrl}${pathname}${search}`, {
    method: request.method,
    headers,
    ...(request.method === "POST" && { body: await request.arrayBuffer() }),
  });
  const headersOut: Record<string, string> = { "Content-Type": answer.headers.get("content-type") ?? "application/json" };
  const retryAfter = answer.headers.get("retry-after");
  if (retryAfter) headersOut["Retry-After"] = retryAfter;
  return new Response(await answer.arrayBuffer(), { status: answer.status, headers: headersOut });
}

/** Serve `handler` on loopback until the file's tests end. */
async function server(handler: (request: Request) => Response | Promise<Response>): Promise<string> {
  const running = await serve(handler, { hostname: "127.0.0.1", port: 0 });
  servers.push(running);
  return running.url;
}

/** The stored records of `topic` whose key starts with `prefix`, by key. */
async function stored(topic: string, prefix: string) {
  const records = await kcatRead(broker.bootstrapServers, topic) as Array<Awaited<ReturnType<typeof kcatRead>>[number] & { ts: number }>;
  return new Map(records.filter((r) => r.key?.startsWith(prefix)).map((r) => [r.key!, r]));
}

for (const { mode, options } of modes) {
  const title = mode === "streaming"
    ? "streaming mode: publishes in flight share one request"
    : "batch mode: publishes in flight go as records:batch requests of at most 10 entries";
  test(`${title}; every record, key, header, partition and timestamp is in Kafka as sent, offsets as reported`, async () => {
    const { requests, bodies, fetch } = recordingFetch();
    const kafka = createRegistry({ driver: restProxyDriver({ url: gatewayUrl, clusterId: "kshare", fetch, ...options }), logger });
    const producer = await kafka.producer(contextFor(gatewayUrl));
    assert.deepEqual(requests, ["GET /v3/clusters/kshare"], "a new producer checks the cluster and the credentials");

    const encoder = new TextEncoder();
    const prefix = `${mode}-share-`;
    const sent = Array.from({ length: 35 }, (_, i) => ({
      value: { id: `${prefix}${i}`, customer: "c-7", total: i + 0.5 },
      // Text keys, some not ASCII, and byte keys: each goes as BINARY, its bytes exactly.
      key: i % 2 === 0 ? `${prefix}${i}-ключ` : encoder.encode(`${prefix}${i}-bytes`),
      headers: [["trace", "a"], ["trace", "b"], ["n", encoder.encode(String(i))]] as Array<[string, string | Uint8Array]>,
      partition: i % 3,
      timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 678) + i,
    }));
    // Published in one turn: all of them wait for the first request.
    const reports = await Promise.all(sent.map(({ value, ...publish }) => producer.publish(orders, value, publish)));
    if (mode === "streaming") {
      assert.deepEqual(requests.slice(1), ["POST /v3/clusters/kshare/topics/orders/records"], "one request carries them together");
    } else {
      const sizes = batchSizes(bodies);
      assert.ok(requests.slice(1).every((r) => r === "POST /v3/clusters/kshare/topics/orders/records:batch"), requests.join("\n"));
      assert.ok(sizes.length >= 4 && sizes.every((n) => n <= 10), `entries per request: ${sizes}`);
      assert.equal(sizes.reduce((a, b) => a + b), sent.length);
    }
    // One request in flight per topic: each partition's records were written in publish order.
    for (const partition of [0, 1, 2]) {
      const offsets = reports.filter((r) => r.partition === partition).map((r) => r.offset);
      assert.ok(offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]!), `partition ${partition}: offsets ${offsets}`);
    }

    const byKey = await stored("orders", prefix);
    assert.equal(byKey.size, sent.length);
    sent.forEach((record, i) => {
      const key = typeof record.key === "string" ? record.key : new TextDecoder().decode(record.key);
      const kafkaRecord = byKey.get(key);
      assert.ok(kafkaRecord, `${key} is not in Kafka`);
      const report: DeliveryReport = reports[i]!;
      assert.deepEqual(
        [report.topic, report.partition, report.offset, report.timestamp],
        ["orders", record.partition, kafkaRecord.offset, record.timestamp],
      );
      assert.equal(kafkaRecord.partition, record.partition);
      assert.equal(kafkaRecord.ts, record.timestamp);
      assert.deepEqual(kafkaRecord.headers, ["trace", "a", "trace", "b", "n", String(i)]);
      assert.deepEqual(JSON.parse(kafkaRecord.payload!), record.value);
    });

    const stats = kafka.stats();
    assert.deepEqual(stats.driver, { name: "rest-proxy", librdkafkaVersion: "none" });
    assert.match(Object.values(stats.contexts)[0]!.description, /sasl=PLAIN user=alice password=\[redacted\]/);
    assert.ok(!JSON.stringify(stats).includes(PASSWORD));
    await kafka.close();
  });
}

test("batch mode: a records:batch body holds as many entries as maxRequestBytes allows, and no more", async () => {
  /** Publish ten records of one size in one turn; the entries of each request. */
  async function publishTen(run: string, limits: { maxBatchEntries: number; maxRequestBytes?: number }) {
    const { bodies, fetch } = recordingFetch();
    const driver = restProxyDriver({ url: gatewayUrl, clusterId: "kshare", fetch, mode: "batch", ...limits });
    const kafka = createRegistry({ driver, logger });
    const producer = await kafka.producer(contextFor(gatewayUrl));
    const ids = Array.from({ length: 10 }, (_, i) => `fit-${run}-${i}`);
    await Promise.all(ids.map((id) => producer.publish(orders, { id, customer: "c-7", total: 1 }, { key: id })));
    await kafka.close();
    return { sizes: batchSizes(bodies), bytes: bodies.filter((body) => body !== "").map((body) => new TextEncoder().encode(body).length) };
  }
  // The size of a body of five such entries, as sent...
  const five = await publishTen("a", { maxBatchEntries: 5 });
  assert.deepEqual(five.sizes, [5, 5]);
  const bytes = five.bytes[0]!;
  // ...is exactly what the next two runs allow: five fit; one byte less, four.
  assert.deepEqual((await publishTen("b", { maxBatchEntries: 50, maxRequestBytes: bytes })).sizes, [5, 5]);
  const tighter = await publishTen("c", { maxBatchEntries: 50, maxRequestBytes: bytes - 1 });
  assert.deepEqual(tighter.sizes, [4, 4, 2]);
  assert.ok(tighter.bytes.every((size) => size < bytes), `body sizes: ${tighter.bytes}`);
  assert.equal((await stored("orders", "fit-")).size, 30);
});

for (const { mode, options } of modes) {
  test(`${mode} mode: a record the REST Proxy refuses rejects its own publish only; one the topic's schema refuses is never sent`, async () => {
    const { requests, bodies, fetch } = recordingFetch();
    const driverOptions = mode === "batch" ? { ...options, maxBatchEntries: 3 } : options;
    const kafka = createRegistry({ driver: restProxyDriver({ url: gatewayUrl, clusterId: "kshare", fetch, ...driverOptions }), logger });
    const producer = await kafka.producer(contextFor(gatewayUrl));
    // Looser than the gateway's schema, which wants amount > 0 and a known currency.
    const payments = defineTopic({
      name: "payments",
      schema: v.object({ id: v.string(), orderId: v.string(), amount: v.number(), currency: v.string() }),
      key: (p) => p.id,
    });
    const prefix = `refuse-${mode}-`;
    // In batch mode, [-1, 5, 7] and [9, -2]: a failure first, before the successes of its request, and one last.
    const amounts = [-1, 5, 7, 9, -2];
    const settled = await Promise.allSettled(
      amounts.map((amount) => producer.publish(payments, { id: `${prefix}${amount}`, orderId: "o-1", amount, currency: "EUR" })),
    );
    if (mode === "streaming") assert.deepEqual(requests.slice(1), ["POST /v3/clusters/kshare/topics/payments/records"]);
    else {
      assert.deepEqual(requests.slice(1), Array(2).fill("POST /v3/clusters/kshare/topics/payments/records:batch"));
      assert.deepEqual(batchSizes(bodies), [3, 2]);
    }
    assert.deepEqual(settled.map((s) => s.status), ["rejected", "fulfilled", "fulfilled", "fulfilled", "rejected"]);
    for (const i of [0, 4]) {
      const refused = (settled[i] as PromiseRejectedResult).reason as Error & { errorCode?: number };
      assert.equal(refused.errorCode, 400);
      assert.match(refused.message, /refused a record for topic "payments" \(error_code 400\): .*value\.data\.amount/);
    }
    const byKey = await stored("payments", prefix);
    assert.deepEqual([...byKey.keys()].sort(), [5, 7, 9].map((amount) => `${prefix}${amount}`));
    for (const i of [1, 2, 3]) {
      const report = (settled[i] as PromiseFulfilledResult<DeliveryReport>).value;
      const kafkaRecord = byKey.get(`${prefix}${amounts[i]}`)!;
      assert.deepEqual([report.partition, report.offset], [kafkaRecord.partition, kafkaRecord.offset]);
    }

    // A topic the gateway does not host: the whole (one-record) request is answered 404 / 40403.
    const invoices = defineTopic({ name: "invoices", schema: v.object({ id: v.string() }) });
    const path = mode === "streaming" ? "records" : "records:batch";
    await assert.rejects(producer.publish(invoices, { id: "i-1" }), (e: Error & { status?: number; errorCode?: number }) => {
      assert.deepEqual([e.name, e.status, e.errorCode], ["RestProxyError", 404, 40403]);
      assert.match(e.message, new RegExp(`POST http://\\S+/topics/invoices/${path}: the REST Proxy answered 404`));
      return true;
    });

    const before = requests.length;
    await assert.rejects(producer.publish(orders, { id: "x", customer: "c", total: "lots" } as never), ValidationError);
    assert.equal(requests.length, before, "a value the schema refuses was sent");
    await kafka.close();
  });
}

test("batch mode: a batch over the REST endpoint's entry limit is refused whole, the limit named", async () => {
  const driver = restProxyDriver({ url: gatewayUrl, clusterId: "kshare", mode: "batch", maxBatchEntries: 11 });
  const kafka = createRegistry({ driver, logger });
  const producer = await kafka.producer(contextFor(gatewayUrl));
  const ids = Array.from({ length: 11 }, (_, i) => `over-${i}`);
  const settled = await Promise.allSettled(ids.map((id) => producer.publish(orders, { id, customer: "c", total: 1 }, { key: id })));
  for (const result of settled) {
    assert.equal(result.status, "rejected");
    const error = (result as PromiseRejectedResult).reason as Error & { status?: number };
    assert.equal(error.status, 400);
    assert.match(error.message, /records:batch: the REST Proxy answered 400 .*at most 10 entries per batch/);
  }
  assert.equal((await stored("orders", "over-")).size, 0);
  await kafka.close();
});

test("batch mode: an entry a 207 answers twice, or not at all, is rejected as not known to be written; an unknown id settles nothing", async () => {
  const url = await server(async (request) => {
    if (request.method !== "POST") return forward(request);
    const { entries } = await request.json() as { entries: Array<{ id: string }> };
    assert.deepEqual(entries.map((e) => e.id), ["0", "1", "2", "3"]);
    const success = (id: string, offset: number) => ({ id, cluster_id: "kshare", topic_name: "orders", partition_id: 1, offset });
    return Response.json({
      successes: [success("2", 8), success("0", 7), success("2", 9), success("4", 10), success("03", 11)],
      failures: [{ id: "1", error_code: 50003, message: "not now" }],
    }, { status: 207 });
  });
  const kafka = createRegistry({ driver: restProxyDriver({ url, clusterId: "kshare", mode: "batch" }), logger });
  const producer = await kafka.producer(contextFor(url));
  const settled = await Promise.allSettled(
    [0, 1, 2, 3].map((i) => producer.publish(orders, { id: `odd-${i}`, customer: "c", total: 1 }, { key: `odd-${i}` })),
  );
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "rejected", "rejected"]);
  assert.deepEqual((settled[0] as PromiseFulfilledResult<DeliveryReport>).value, { topic: "orders", partition: 1, offset: 7 });
  const [refused, twice, missing] = settled.slice(1)
    .map((s) => (s as PromiseRejectedResult).reason as Error & { errorCode?: number; status?: number });
  assert.equal(refused!.errorCode, 50003);
  assert.match(refused!.message, /refused a record for topic "orders" \(error_code 50003\): not now/);
  for (const error of [twice!, missing!]) {
    assert.equal(error.status, 207);
    assert.match(error.message, /records:batch: the REST Proxy answered 2 of 4 records; whether the others were written is not known/);
  }
  await kafka.close();
});

/** A REST endpoint that answers the first produce requests from `script`, and passes everything else on to the gateway. */
async function scriptedProxy(script: Array<{ status: 429 | 503; retryAfter?: string }>) {
  const posts = new Countdown();
  /** The path of each produce request. */
  const paths: string[] = [];
  const url = await server((request) => {
    if (request.method !== "POST") return forward(request);
    posts.increment();
    paths.push(new URL(request.url).pathname);
    const next = script.shift();
    if (!next) return forward(request);
    const headers: Record<string, string> = next.retryAfter === undefined ? {} : { "Retry-After": next.retryAfter };
    return Response.json({ error_code: next.status === 429 ? 42901 : 50003, message: "not now" }, { status: next.status, headers });
  });
  return { url, posts, paths };
}

for (const { mode, options } of modes) {
  test(`${mode} mode: 429 and 503 are retried after their Retry-After, within the publish's deadline; each record is written once`, async () => {
    const proxy = await scriptedProxy([{ status: 429, retryAfter: "0" }, { status: 503, retryAfter: "1" }, { status: 503 }]);
    const driverOptions = mode === "batch" ? { ...options, maxBatchEntries: 2 } : options;
    const kafka = createRegistry({ driver: restProxyDriver({ url: proxy.url, clusterId: "kshare", ...driverOptions }), logger });
    const producer = await kafka.producer(contextFor(proxy.url));
    const ids = [0, 1, 2].map((i) => `retry-${mode}-${i}`);
    const reports = await Promise.all(
      ids.map((id) => producer.publish(orders, { id, customer: "c", total: 1 }, { key: id, timeoutMs: 20_000 })),
    );
    // Three answers asking to retry the first request, then the gateway's (in batch mode, to two requests of 2 and 1 entries).
    assert.equal(proxy.posts.count, mode === "streaming" ? 4 : 5);
    const path = `/v3/clusters/kshare/topics/orders/${mode === "streaming" ? "records" : "records:batch"}`;
    assert.deepEqual(proxy.paths, Array(proxy.posts.count).fill(path));
    const byKey = await stored("orders", `retry-${mode}-`);
    assert.equal(byKey.size, ids.length);
    ids.forEach((id, i) => {
      assert.deepEqual([byKey.get(id)!.partition, byKey.get(id)!.offset], [reports[i]!.partition, reports[i]!.offset]);
    });
    await kafka.close();
  });

  test(`${mode} mode: a Retry-After past the record's deadline fails the publish at once with a timed-out error, nothing written`, async () => {
    const proxy = await scriptedProxy([{ status: 503, retryAfter: "30" }, { status: 429, retryAfter: "30" }]);
    const kafka = createRegistry({ driver: restProxyDriver({ url: proxy.url, clusterId: "kshare", ...options }), logger });
    const isTimedOut = (e: Error & { code?: number }) => {
      // The driver's error, not the core's PublishTimeoutError: it did not wait for the deadline to pass.
      assert.deepEqual([e.name, e.code], ["RestProxyError", -192]);
      assert.match(e.message, /timed out: the REST Proxy answered (503|429) with Retry-After 30 s, past the record's deadline/);
      return true;
    };
    const late = (n: number) => `late-${mode}-${n}`;
    // The publish's own deadline...
    const producer = await kafka.producer(contextFor(proxy.url));
    await assert.rejects(producer.publish(orders, { id: late(1), customer: "c", total: 1 }, { key: late(1), timeoutMs: 10_000 }), isTimedOut);
    // ...and the delivery timeout of the context's producer settings.
    const bounded = await kafka.producer(contextFor(proxy.url, PASSWORD, { producer: { "message.timeout.ms": 10_000 } }));
    await assert.rejects(bounded.publish(orders, { id: late(2), customer: "c", total: 1 }, { key: late(2) }), isTimedOut);
    assert.equal(proxy.posts.count, 2);
    assert.equal((await stored("orders", `late-${mode}-`)).size, 0);
    await kafka.close();
  });
}

test("wrong credentials: a ConnectError naming the 401 and the user, never the password; stats keep no secret", async () => {
  const { requests, fetch } = recordingFetch();
  const kafka = createRegistry({ driver: restProxyDriver({ url: gatewayUrl, clusterId: "kshare", fetch }), logger });
  const wrong = "not-alices-password-91c2";
  await assert.rejects(kafka.producer(contextFor(gatewayUrl, wrong)), (e: Error) => {
    assert.ok(e instanceof ConnectError);
    assert.match(e.message, /the REST Proxy answered 401 Unauthorized .*check the credentials of .*user=alice password=\[redacted\]/);
    assert.ok(!e.message.includes(wrong) && !e.message.includes(btoa(`alice:${wrong}`)), e.message);
    return true;
  });
  assert.deepEqual(requests, ["GET /v3/clusters/kshare"]);
  const stats = JSON.stringify(kafka.stats());
  assert.match(stats, /"connectFailures":1/);
  assert.ok(!stats.includes(wrong));
  assert.ok(!logger.lines.join("\n").includes(wrong));
  await kafka.close();

  // A careless REST endpoint whose 401 repeats what it was sent: the password and the header are redacted.
  const echo = await server((request) => {
    const authorization = request.headers.get("authorization") ?? "";
    const message = `refused ${authorization} (${atob(authorization.replace("Basic ", ""))})`;
    return Response.json({ error_code: 401, message }, { status: 401 });
  });
  const careless = createRegistry({ driver: restProxyDriver({ url: echo, clusterId: "kshare" }), logger });
  await assert.rejects(careless.producer(contextFor(echo, wrong)), (e: Error) => {
    assert.match(e.message, /\(error_code 401: refused Basic \[redacted\] \(alice:\[redacted\]\)\)/);
    return true;
  });
  await careless.close();
});

test("OAUTHBEARER: a token from the token endpoint, sent as Bearer, fetched once, and again after a 401; a wrong secret is named, not shown", async () => {
  const clientSecret = "oidc-client-secret-5d1a";
  const tokens: string[] = [];
  const seen: string[] = [];
  let revoked = "";
  const url = await server(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/token") {
      const form = new URLSearchParams(await request.text());
      const ok = request.headers.get("authorization") === basic("svc", clientSecret) &&
        form.get("grant_type") === "client_credentials" && form.get("scope") === "kafka";
      // A careless endpoint: its error repeats the secret it was sent.
      const sent = atob((request.headers.get("authorization") ?? "").replace("Basic ", ""));
      if (!ok) return Response.json({ error: "invalid_client", error_description: `unknown client ${sent}` }, { status: 401 });
      tokens.push(`token-${tokens.length + 1}`);
      return Response.json({ access_token: tokens.at(-1), token_type: "Bearer", expires_in: 3600 });
    }
    const authorization = request.headers.get("authorization") ?? "";
    seen.push(authorization);
    if (!tokens.includes(authorization.replace("Bearer ", "")) || authorization === `Bearer ${revoked}`) {
      return Response.json({ error_code: 401, message: `${authorization} was revoked` }, { status: 401 });
    }
    return forward(request, basic("alice", PASSWORD));
  });
  const oauth = (secret: string): SecurityContext => ({
    bootstrapServers: new URL(url).host,
    securityProtocol: "SASL_PLAINTEXT",
    sasl: { mechanism: "OAUTHBEARER", clientId: "svc", clientSecret: secret, tokenEndpointUrl: `${url}/token`, scope: "kafka" },
  });
  const kafka = createRegistry({ driver: restProxyDriver({ url, clusterId: "kshare" }), logger });
  const producer = await kafka.producer(oauth(clientSecret));
  for (const id of ["oauth-1", "oauth-2"]) await producer.publish(orders, { id, customer: "c", total: 1 }, { key: id });
  assert.deepEqual(tokens, ["token-1"]);
  assert.deepEqual(seen, ["Bearer token-1", "Bearer token-1", "Bearer token-1"]);

  revoked = "token-1";
  await assert.rejects(producer.publish(orders, { id: "oauth-3", customer: "c", total: 1 }, { key: "oauth-3" }), (e: Error) => {
    assert.match(
      e.message,
      /answered 401 Unauthorized \(error_code 401: Bearer \[redacted\] was revoked\); check the credentials of .*sasl=OAUTHBEARER client=svc secret=\[redacted\]/,
    );
    assert.ok(!e.message.includes("token-1"), e.message);
    return true;
  });
  await producer.publish(orders, { id: "oauth-4", customer: "c", total: 1 }, { key: "oauth-4" });
  assert.deepEqual(tokens, ["token-1", "token-2"]);
  assert.equal(seen.at(-1), "Bearer token-2");
  assert.deepEqual([...(await stored("orders", "oauth-")).keys()].sort(), ["oauth-1", "oauth-2", "oauth-4"]);

  const wrong = "not-the-client-secret-0b7e";
  await assert.rejects(kafka.producer(oauth(wrong)), (e: Error) => {
    assert.ok(e instanceof ConnectError);
    assert.match(
      e.message,
      /OAuth token for client svc from http:\S+\/token: the token endpoint answered 401 \(invalid_client: unknown client svc:\[redacted\]\)/,
    );
    assert.ok(!e.message.includes(wrong), e.message);
    return true;
  });
  await kafka.close();
});

test("a context the REST Proxy driver cannot honour is refused before any request, saying what to write", async () => {
  const { requests, fetch } = recordingFetch();
  const kafka = createRegistry({ driver: restProxyDriver({ url: gatewayUrl, clusterId: "kshare", fetch }), logger });
  const host = new URL(gatewayUrl).host;
  const refusals: Array<[SecurityContext, RegExp]> = [
    [{ bootstrapServers: "localhost:9092" }, new RegExp(`bootstrapServers must be "${host}", got "localhost:9092"`)],
    [
      { bootstrapServers: host, sasl: { mechanism: "PLAIN", username: "alice", password: PASSWORD } },
      /securityProtocol SASL_SSL asks for TLS, but the REST Proxy URL is http: write securityProtocol "SASL_PLAINTEXT"/,
    ],
    [contextFor(gatewayUrl, PASSWORD, { sasl: { mechanism: "SCRAM-SHA-256", username: "alice", password: PASSWORD } }), /SCRAM-SHA-256 has no HTTP form/],
    [{ bootstrapServers: host, securityProtocol: "SSL", tls: { ca: "-----BEGIN CERTIFICATE-----" } }, /asks for TLS/],
  ];
  for (const [ctx, message] of refusals) {
    await assert.rejects(kafka.producer(ctx), (e: Error) => e instanceof ConnectError && message.test(e.message) && !e.message.includes(PASSWORD));
  }
  assert.deepEqual(requests, []);
  await kafka.close();

  const https = createRegistry({ driver: restProxyDriver({ url: "https://rest.example.com/kafka", clusterId: "lkc-1", fetch }), logger });
  await assert.rejects(
    https.producer({ bootstrapServers: "rest.example.com:443", tls: { ca: "-----BEGIN CERTIFICATE-----" } }),
    /tls ca, cert and key cannot be given to fetch/,
  );
  await assert.rejects(https.producer({ bootstrapServers: "rest.example.com:443", tls: { verifyHostname: false } }), /fetch always verifies the host/);
  assert.deepEqual(requests, []);
  await https.close();

  assert.throws(() => restProxyDriver({ url: "ftp://rest.example.com", clusterId: "c" }), /url must be an http or https URL/);
  assert.throws(() => restProxyDriver({ url: `https://alice:${PASSWORD}@rest.example.com`, clusterId: "c" }), (e: Error) => {
    assert.match(e.message, /url must not hold credentials/);
    return !e.message.includes(PASSWORD);
  });
  assert.throws(() => restProxyDriver({ url: gatewayUrl, clusterId: "" }), /clusterId must be a non-empty string/);
  assert.throws(() => restProxyDriver({ url: gatewayUrl, clusterId: "c", auth: { username: "alice", password: "" } }), /auth needs a non-empty/);
  assert.throws(() => restProxyDriver({ url: gatewayUrl, clusterId: "c", mode: "bulk" as never }), /mode must be "streaming" or "batch", got "bulk"/);
  for (const maxBatchEntries of [0, 2.5, Infinity]) {
    assert.throws(
      () => restProxyDriver({ url: gatewayUrl, clusterId: "c", mode: "batch", maxBatchEntries }),
      new RegExp(`maxBatchEntries must be a whole number > 0, got ${maxBatchEntries}`),
    );
  }
  assert.throws(() => restProxyDriver({ url: gatewayUrl, clusterId: "c", maxBatchEntries: 5 }), /maxBatchEntries applies to mode "batch" only/);
});

test("a consumer needs a TCP driver: start() says so", async () => {
  const kafka = createRegistry({ driver: restProxyDriver({ url: gatewayUrl, clusterId: "kshare" }), logger });
  const consumer = kafka.consumer(contextFor(gatewayUrl), "rest-group").subscribe(orders, () => {});
  await assert.rejects(consumer.start(), (e: Error) => {
    assert.ok(e instanceof ConnectError);
    assert.match(e.message, /The REST Proxy driver publishes only: a consumer needs a TCP driver \(the FFI or Confluent driver\)/);
    return true;
  });
  await kafka.close();
});

test("flush waits for the request in flight; close refuses new records, waits at most its bound and fails what is left", async () => {
  const held = new Countdown();
  let release = gate();
  /** Whether a held request goes on to the gateway once released (else it is answered 503). */
  let passOn = true;
  const url = await server(async (request) => {
    if (request.method !== "POST") return forward(request);
    held.increment();
    await release.wait;
    return passOn ? forward(request) : Response.json({ error_code: 50003, message: "gone" }, { status: 503 });
  });
  gates.push(() => release.open());
  const driver = restProxyDriver({ url, clusterId: "kshare" });
  const client = await driver.createProducer(producerConfig(resolveSecurityContext(contextFor(url))), { onFatal: () => {} });
  const value = (id: string) => JSON.stringify({ id, customer: "c", total: 1 });

  let delivered = false;
  const first = client.produce({ topic: "orders", key: "hold-1", value: value("hold-1") });
  void first.then(() => (delivered = true));
  await held.reached(1);
  await assert.rejects(client.flush(50), /Flush timed out with 1 records undelivered/);
  const flushed = client.flush(30_000);
  release.open();
  await flushed;
  assert.equal(delivered, true, "flush resolved before the record in flight was delivered");

  release = gate();
  passOn = false;
  const inFlight = client.produce({ topic: "orders", key: "hold-2", value: value("hold-2") });
  let inFlightSettled = false;
  inFlight.catch(() => (inFlightSettled = true));
  await held.reached(2);
  const closing = client.close(100);
  await assert.rejects(client.produce({ topic: "orders", key: "hold-3", value: value("hold-3") }), ClosedError);
  assert.equal(inFlightSettled, false, "the record produced during close was refused only when close failed what was left");
  await closing; // with its request still held
  await assert.rejects(inFlight, ClosedError);
  await assert.rejects(client.produce({ topic: "orders", key: "hold-4", value: value("hold-4") }), ClosedError);
  assert.deepEqual([...(await stored("orders", "hold-")).keys()], ["hold-1"]);
  release.open();
});

const deno = denoBinary();
test("the driver's modules are web-standard: no runtime module, no package, no runtime global", { skip: deno ? false : "no deno binary" }, () => {
  const entry = new URL("../src/drivers/rest_proxy.ts", import.meta.url);
  const run = spawnSync(deno!, ["info", "--json", entry.href], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  assert.equal(run.status, 0, run.stderr);
  const modules = (JSON.parse(run.stdout) as { modules: Array<{ specifier: string }> }).modules.map((m) => m.specifier);
  const src = new URL("../src/", import.meta.url).href;
  assert.ok(modules.includes(new URL("_rest_producer.ts", entry).href), modules.join("\n"));
  // Declarations (valibot's, for a type-only import; Node's, which deno adds to every graph) are no code at run time.
  const code = modules.filter((m) => !/\.d\.m?ts$/.test(m));
  assert.deepEqual(code.filter((m) => !m.startsWith(src)), [], "imports other than kshare's own modules");
  for (const module of code) {
    // Code only: the JSDoc examples may show a Node import.
    const text = readFileSync(new URL(module), "utf8").split("\n").filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n");
    assert.doesNotMatch(text, /\b(Deno|Bun|process|Buffer|require)\b/, module);
  }
});
