// Streaming mode (several records in one chunked request, one result per record) returns its response
// before the results are written: the request must count as in flight until its last result is, for
// /metrics and for the gateway's drain at SIGTERM. The broker is embedded here, in the test process, so
// it can hold the publishes (setRtt) while the response is still being written.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { createMetrics, kafka, publishRoutes } from "../hono.ts";
import { quietLogger } from "./_helpers.ts";
import { basic, slowRequest, startGateway } from "./_gateway.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
after(() => broker.stop());
broker.createTopic("orders", 3);
const run = crypto.randomUUID().slice(0, 8);

/** A streaming body: first a record the schema rejects (answered at once), then `ids` as valid orders. */
const streamingBody = (ids: readonly string[]) =>
  [{ value: { data: { id: "bad" } } }, ...ids.map((id) => ({ value: { data: { id, customer: "c", total: 1 } } }))]
    .map((r) => JSON.stringify(r)).join("\n");

test("requests in flight count a streaming request until its last result is written", async () => {
  const orders = defineTopic({
    name: "orders",
    schema: v.object({ id: v.string(), customer: v.string(), total: v.number() }),
    key: (o) => o.id,
  });
  const registry = createRegistry({ logger: quietLogger() });
  after(() => registry.close());
  const metrics = createMetrics();
  const app = new Hono();
  app.use("*", kafka({ registry, metrics, resolveContext: () => ({ bootstrapServers: broker.bootstrapServers }) }));
  app.route("/", publishRoutes({ topics: [orders] }));
  await (await registry.producer({ bootstrapServers: broker.bootstrapServers })).publish(orders, { id: "warm", customer: "c", total: 1 });

  broker.setRtt(-1, 500); // the publishes are still waiting when the response is returned
  try {
    // No Content-Length: the body is read as a stream, as a chunked request's is.
    const response = await app.request("/v3/clusters/kshare/topics/orders/records", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: streamingBody([`${run}-m1`, `${run}-m2`]),
    });
    assert.equal(response.status, 200);
    assert.equal(metrics.inFlightRequests, 1, "the request left the count before its results were written");
    const results = (await response.text()).trim().split("\n").map((line) => JSON.parse(line) as { error_code: number });
    assert.deepEqual(results.map((r) => r.error_code), [400, 200, 200]);
    assert.equal(metrics.inFlightRequests, 0);
  } finally {
    broker.setRtt(-1, 0);
  }
});

test("SIGTERM while a streaming response is being written: the drain waits for its last result, exit 0", async () => {
  const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers, GATEWAY_USERS: "alice:a-pw" });
  const url = await gateway.url();
  const headers = { Authorization: basic("alice", "a-pw"), "Content-Type": "application/json" };
  const warm = await fetch(`${url}/v3/clusters/kshare/topics/orders/records`, {
    method: "POST",
    headers,
    body: JSON.stringify({ value: { data: { id: `${run}-warm`, customer: "c", total: 1 } } }),
  });
  assert.equal(warm.status, 200, await warm.text());

  broker.setRtt(-1, 1_000); // the valid records' results wait for the broker; the rejected one's is written at once
  try {
    const body = streamingBody([`${run}-s1`, `${run}-s2`, `${run}-s3`]);
    const request = slowRequest(url, "/v3/clusters/kshare/topics/orders/records", headers, body.slice(0, 10));
    request.finish(body.slice(10));
    await request.arrived(/"error_code":400/); // the response is under way, its other results not yet written
    gateway.signal("SIGTERM");
    assert.match(await gateway.line(/SIGTERM: stopping/), /finishing 1 request\(s\) in flight/);
    const { status, body: answer } = await request.response;
    assert.equal(status, 200);
    const codes = [...answer.matchAll(/"error_code":(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(codes, [400, 200, 200, 200], answer);
    assert.equal(await gateway.exited, 0, gateway.lines.join("\n"));
  } finally {
    broker.setRtt(-1, 0);
  }
});
