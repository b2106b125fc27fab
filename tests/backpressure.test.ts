// Back-pressure against a real Kafka-protocol broker (librdkafka's mock cluster, in-process, over
// loopback sockets), with kcat as the independent reader. The registry uses the runtime's default
// driver: Confluent on Node, FFI on Deno and Bun. librdkafka's own queue is kept tiny
// (`queue.buffering.max.messages: 5`) and the broker slow (an emulated RTT), so records wait in JS.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, createRegistry, defineTopic, type Producer, PublishTimeoutError, QueueFullError, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { gatewayConfig, GatewayConfigError } from "../gateway/config.ts";
import { kcatRead, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
broker.setRtt(-1, 20);
after(() => broker.stop());

const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const tiny = { bootstrapServers: broker.bootstrapServers, producer: { "queue.buffering.max.messages": 5 } };

const Item = v.object({ n: v.number() });
let topicSeq = 0;
/** A fresh topic of one partition: offsets then follow the order records were queued. */
function topic(prefix: string) {
  const name = `${prefix}-${++topicSeq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Item });
}

/** Start `count` publishes at once (in `n` order) and wait until every one settled. */
function publishAll(producer: Producer, t: ReturnType<typeof topic>, count: number, timeoutMs?: number) {
  return Promise.allSettled(Array.from({ length: count }, (_, n) => producer.publish(t, { n }, { timeoutMs })));
}

/** Every broker down while `body` runs; up again after it. */
async function brokersDown<T>(body: () => Promise<T>): Promise<T> {
  for (const id of broker.brokerIds) broker.brokerDown(id);
  try {
    return await body();
  } finally {
    for (const id of broker.brokerIds) broker.brokerUp(id);
  }
}

/** The `n` of each record kcat reads back, in offset order. */
async function storedNumbers(topicName: string): Promise<number[]> {
  return (await kcatRead(broker.bootstrapServers, topicName)).map((r) => JSON.parse(r.payload!).n);
}

test("queue full: 100 concurrent publishes to one partition all settle, in publish order, and kcat reads exactly those back", { timeout: 30_000 }, async () => {
  const t = topic("order");
  const kafka = createRegistry({ logger });
  try {
    const producer = await kafka.producer(tiny);
    const results = await publishAll(producer, t, 100);
    const rejected = results.flatMap((r, n) => r.status === "rejected" ? [`${n}: ${r.reason}`] : []);
    assert.deepEqual(rejected, []);
    const offsets = results.map((r) => (r as PromiseFulfilledResult<{ offset: number }>).value.offset);
    // Each record after the one published before it: none overtook another.
    assert.deepEqual(offsets, offsets.map((_, n) => offsets[0]! + n));
    const stored = await kcatRead(broker.bootstrapServers, t.name);
    assert.deepEqual(stored.map((r) => [r.offset, JSON.parse(r.payload!).n]), offsets.map((offset, n) => [offset, n]));
  } finally {
    await kafka.close();
  }
});

test("close() while records wait for queue space: every publish settles, delivered (close flushes) in order", { timeout: 30_000 }, async () => {
  const t = topic("close-flush");
  const kafka = createRegistry({ logger });
  const producer = await kafka.producer(tiny);
  const settled = publishAll(producer, t, 100);
  await kafka.close();
  const results = await settled;
  const rejected = results.flatMap((r, n) => r.status === "rejected" ? [`${n}: ${r.reason}`] : []);
  assert.deepEqual(rejected, []);
  const stored = await kcatRead(broker.bootstrapServers, t.name);
  assert.deepEqual(stored.map((r) => JSON.parse(r.payload!).n), results.map((_, n) => n));
});

test("close() while records wait and no broker answers: every publish settles with ClosedError, none is left pending", { timeout: 30_000 }, async () => {
  const t = topic("close-down");
  const kafka = createRegistry({ logger, closeTimeoutMs: 200 });
  const producer = await kafka.producer(tiny);
  await producer.publish(t, { n: -1 }); // leaders known: the records below queue for the partition
  await brokersDown(async () => {
    const settled = publishAll(producer, t, 100);
    await kafka.close();
    const results = await settled;
    const reasons = results.map((r) => r.status === "rejected" ? (r.reason as Error).name : "fulfilled");
    assert.deepEqual(reasons, results.map(() => ClosedError.name));
  });
  assert.deepEqual(await storedNumbers(t.name), [-1]);
});

test("maxWaitingRecords: past it a publish is refused at once with QueueFullError naming the bound and the topic", { timeout: 30_000 }, async () => {
  const t = topic("cap-records");
  const kafka = createRegistry({ logger, maxWaitingRecords: 10 });
  try {
    const producer = await kafka.producer(tiny);
    // 5 fill librdkafka's queue, 10 wait, the other 15 are refused.
    const results = await publishAll(producer, t, 30);
    const outcome = results.map((r) => r.status === "fulfilled" ? "delivered" : (r.reason as Error).name);
    assert.deepEqual(outcome, [...Array(15).fill("delivered"), ...Array(15).fill("QueueFullError")]);
    const refused = (results[15] as PromiseRejectedResult).reason;
    assert.ok(refused instanceof QueueFullError);
    assert.deepEqual([refused.topic, refused.limit, refused.max], [t.name, "maxWaitingRecords", 10]);
    assert.match(refused.message, new RegExp(`topic "${t.name}".*10 records.*maxWaitingRecords`));
    assert.deepEqual(await storedNumbers(t.name), Array.from({ length: 15 }, (_, n) => n));
  } finally {
    await kafka.close();
  }
});

test("maxWaitingBytes: past it a publish is refused at once with QueueFullError naming the bound and the topic", { timeout: 30_000 }, async () => {
  const name = `cap-bytes-${++topicSeq}`;
  broker.createTopic(name, 1);
  const padded = defineTopic({ name, schema: v.string() });
  const value = (n: number) => `${n}`.padStart(98, "."); // 100 bytes as JSON, quotes included
  const kafka = createRegistry({ logger, maxWaitingBytes: 1000 });
  try {
    const producer = await kafka.producer(tiny);
    // 5 fill librdkafka's queue, 10 × 100 bytes wait, the other 15 are refused.
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, n) => producer.publish(padded, value(n))));
    const outcome = results.map((r) => r.status === "fulfilled" ? "delivered" : (r.reason as Error).name);
    assert.deepEqual(outcome, [...Array(15).fill("delivered"), ...Array(15).fill("QueueFullError")]);
    const refused = (results[15] as PromiseRejectedResult).reason as QueueFullError;
    assert.deepEqual([refused.topic, refused.limit, refused.max], [name, "maxWaitingBytes", 1000]);
    assert.match(refused.message, /1000 bytes of records.*maxWaitingBytes/);
    const stored = await kcatRead(broker.bootstrapServers, name);
    assert.deepEqual(stored.map((r) => JSON.parse(r.payload!)), Array.from({ length: 15 }, (_, n) => value(n)));
  } finally {
    await kafka.close();
  }
});

test("timeoutMs with every broker down: each publish rejects with PublishTimeoutError; records still waiting are never sent", { timeout: 30_000 }, async () => {
  const t = topic("deadline");
  const kafka = createRegistry({ logger });
  try {
    const producer = await kafka.producer(tiny);
    await producer.publish(t, { n: -1 }); // leaders known: the records below queue for the partition
    const results = await brokersDown(() => publishAll(producer, t, 10, 300));
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const error = (r as PromiseRejectedResult).reason;
      assert.ok(error instanceof PublishTimeoutError, String(error));
      assert.deepEqual([error.topic, error.timeoutMs], [t.name, 300]);
    }
    // Brokers back: a later record goes out. The 5 librdkafka held are delivered late (message.timeout.ms
    // bounds them); the 5 that waited for room were dropped at their deadline.
    await producer.publish(t, { n: 100 });
    assert.deepEqual(await storedNumbers(t.name), [-1, 0, 1, 2, 3, 4, 100]);
  } finally {
    await kafka.close();
  }
});

test("gateway: a publish not acknowledged within GATEWAY_PUBLISH_TIMEOUT_MS is answered 503 / 50003 with Retry-After, a cold connect included", {
  timeout: 30_000,
}, async () => {
  const config = gatewayConfig({ GATEWAY_PUBLISH_TIMEOUT_MS: "1000" });
  assert.equal(config.publishTimeoutMs, 1000);
  assert.equal(gatewayConfig({}).publishTimeoutMs, 10_000);
  assert.throws(() => gatewayConfig({ GATEWAY_PUBLISH_TIMEOUT_MS: "0" }), GatewayConfigError);

  const t = topic("gateway");
  const kafka = createRegistry({ logger });
  const contexts = new Map<string, SecurityContext>([
    ["warm", { bootstrapServers: broker.bootstrapServers, clientId: "warm" }],
    ["cold", { bootstrapServers: broker.bootstrapServers, clientId: "cold" }], // first connects while the brokers are down
  ]);
  const app = createGatewayApp({
    registry: kafka,
    users: [{ username: "warm", password: "w-pw" }, { username: "cold", password: "c-pw" }],
    contexts,
    topics: [t],
    clusterId: "kshare",
    publishTimeoutMs: config.publishTimeoutMs,
    logger,
  });
  const post = (user: string, n: number) =>
    app.request(`/v3/clusters/kshare/topics/${t.name}/records`, {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${user}:${user[0]}-pw`)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ value: { data: { n } } }),
    });
  try {
    await kafka.producer(contexts.get("warm")!); // connected before the clock of any request starts
    assert.equal((await post("warm", 1)).status, 200);
    const [warm, cold] = await brokersDown(() => Promise.all([post("warm", 2), post("cold", 3)]));
    for (const res of [warm, cold]) {
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("Retry-After"), "5");
      assert.deepEqual(await res.json(), { error_code: 50003, message: "Delivery to Kafka timed out" });
    }
  } finally {
    await kafka.close();
  }
});
