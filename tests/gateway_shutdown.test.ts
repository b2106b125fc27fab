// SIGTERM to the gateway while many requests are in flight: the gateway runs as its own process (on
// this runtime, as tests/gateway.test.ts starts it) and the broker in another (bench/broker.ts), so the
// records outlive the gateway and kcat reads them back after it exited.
//
// The mock broker's implicit-ack artifact (after an injected Produce error it accepts a pipelined later
// batch, and librdkafka reports the earlier records delivered at offset -1001 though they are not in the
// log) cannot enter here: no request error is injected. The faults are the signal itself and, for the
// failure cases, the broker process gone, whose refused connections acknowledge nothing. And every 200
// is checked against the log at the partition and offset it reported, which an implicit ack (-1001)
// would fail.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnBroker } from "../bench/_util.ts";
import { kcatRead } from "./_helpers.ts";
import { basic, type Gateway, slowRequest, startGateway } from "./_gateway.ts";

const PATH = "/v3/clusters/kshare/topics/orders/records";
const headers = { Authorization: basic("alice", "a-pw"), "Content-Type": "application/json" };
const run = crypto.randomUUID().slice(0, 8);

const record = (id: string) => JSON.stringify({ key: { type: "STRING", data: id }, value: { data: { id, customer: "c", total: 1 } } });

/** `count` produce requests whose bodies are half sent, once the gateway counts every one in flight. */
async function requestsInFlight(gateway: Gateway, url: string, prefix: string, count: number) {
  const requests = Array.from({ length: count }, (_, i) => {
    const id = `${run}-${prefix}-${i}`;
    const body = record(id);
    return { id, body, request: slowRequest(url, PATH, headers, body.slice(0, 10)) };
  });
  // The middleware counts a request once it is authenticated, before it reads the body: every one is in flight then.
  const all = new RegExp(`^kshare_http_requests_in_flight ${count}$`, "m");
  let seen = false;
  for (let attempt = 0; attempt < 2_000 && !seen && gateway.child.exitCode === null; attempt++) {
    seen = all.test(await (await fetch(`${url}/metrics`)).text());
  }
  assert.ok(seen, `the gateway never had ${count} requests in flight`);
  return requests;
}

/** A gateway on `bootstrapServers` whose producer is connected (one record published and acknowledged). */
async function connectedGateway(bootstrapServers: string, env: Record<string, string> = {}) {
  const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: bootstrapServers, GATEWAY_USERS: "alice:a-pw", ...env });
  const url = await gateway.url();
  const warm = await fetch(`${url}${PATH}`, { method: "POST", headers, body: record(`${run}-warm-${crypto.randomUUID()}`) });
  assert.equal(warm.status, 200, await warm.text());
  return { gateway, url };
}

test("SIGTERM with 200 requests in flight: every one is answered 200, each record is in the topic exactly once where its answer says, exit 0", async () => {
  const broker = await spawnBroker({ brokers: 1, topics: { orders: 3 } });
  after(() => broker.stop());
  const { gateway, url } = await connectedGateway(broker.bootstrapServers);
  const requests = await requestsInFlight(gateway, url, "ok", 200);

  gateway.signal("SIGTERM");
  await gateway.line(/SIGTERM: stopping; finishing 200 request\(s\) in flight/);
  // The rest of every body after the signal: 200 publishes start during the drain, all at once.
  for (const { body, request } of requests) request.finish(body.slice(10));
  const answers = await Promise.all(requests.map(({ request }) => request.response));
  assert.equal(await gateway.exited, 0, gateway.lines.join("\n"));
  assert.match(gateway.lines.at(-1)!, /stopped$/);

  const stored = (await kcatRead(broker.bootstrapServers, "orders")).filter((r) => r.key?.startsWith(`${run}-ok-`));
  requests.forEach(({ id }, i) => {
    const { status, body } = answers[i]!;
    assert.equal(status, 200, `${id}: ${body}`);
    const answer = JSON.parse(body) as { partition_id: number; offset: number };
    const copies = stored.filter((r) => r.key === id);
    assert.equal(copies.length, 1, `${id} is in the topic ${copies.length} times`);
    assert.deepEqual([copies[0]!.partition, copies[0]!.offset], [answer.partition_id, answer.offset], id);
  });
  assert.equal(stored.length, 200);
});

// The records the requests handed to the producer stay in librdkafka (a publish's deadline cannot recall them), so
// the final flush cannot finish: it runs until the shutdown's deadline, and the exit status says so.
test("the broker gone before SIGTERM: the requests in flight are answered 503, the final flush fails and the gateway exits 3, not 0", async () => {
  const broker = await spawnBroker({ brokers: 1, topics: { orders: 3 } });
  const { gateway, url } = await connectedGateway(broker.bootstrapServers, {
    GATEWAY_PUBLISH_TIMEOUT_MS: "1000",
    GATEWAY_SHUTDOWN_TIMEOUT_MS: "4000",
  });
  const requests = await requestsInFlight(gateway, url, "gone", 20);
  await broker.stop();

  gateway.signal("SIGTERM");
  await gateway.line(/SIGTERM: stopping; finishing 20 request\(s\) in flight/);
  for (const { body, request } of requests) request.finish(body.slice(10));
  const answers = await Promise.all(requests.map(({ request }) => request.response));
  assert.deepEqual(answers.map((a) => a.status), answers.map(() => 503), answers.map((a) => a.body).join("\n"));
  assert.equal(await gateway.exited, 3, gateway.lines.join("\n"));
  assert.match(gateway.lines.join("\n"), /stopped; 20 record\(s\) taken before or during shutdown were not delivered; exit 3/);
});

test("the broker gone and the shutdown deadline shorter than the publishes' own: the requests still waiting are answered 503 before the deadline, exit 3", async () => {
  const broker = await spawnBroker({ brokers: 1, topics: { orders: 3 } });
  const { gateway, url } = await connectedGateway(broker.bootstrapServers, {
    GATEWAY_PUBLISH_TIMEOUT_MS: "600000",
    // Its last quarter (1 s) is kept for failing the waiting publishes and writing their answers: a machine
    // busy enough to delay timers by a quarter of a second left Bun no time to write them (answers cut off).
    GATEWAY_SHUTDOWN_TIMEOUT_MS: "4000",
  });
  const requests = await requestsInFlight(gateway, url, "late", 5);
  await broker.stop();

  gateway.signal("SIGTERM");
  await gateway.line(/SIGTERM: stopping/);
  for (const { body, request } of requests) request.finish(body.slice(10));
  const answers = await Promise.all(requests.map(({ request }) => request.response));
  assert.deepEqual(answers.map((a) => a.status), answers.map(() => 503), answers.map((a) => a.body).join("\n"));
  assert.equal(await gateway.exited, 3, gateway.lines.join("\n"));
  const log = gateway.lines.join("\n");
  assert.match(log, /5 request\(s\) still in flight 1000 ms before the deadline: failing their publishes/);
  assert.match(log, /stopped; 5 record\(s\) taken before or during shutdown were not delivered; exit 3/);
});
