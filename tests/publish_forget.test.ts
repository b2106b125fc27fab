// publishAndForget against a real Kafka-protocol broker (librdkafka's mock cluster, in-process),
// with kcat as the independent reader: every record taken lands once close() resolved, what
// refuses a record is thrown at once, and a record that is not delivered reaches onDeliveryError,
// the context's stats and /metrics. The registry uses the runtime's default driver (Confluent on
// Node, FFI on Deno and Bun). The failure injected is a topic that does not exist, with automatic
// topic creation off: the broker never stores such a record, so no acknowledgement can hide it.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, createRegistry, defineTopic, QueueFullError, type RegistryOptions, resolveSecurityContext, ValidationError } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { createMetrics, opsRoutes } from "../hono.ts";
import { Countdown, kcatRead, quietLogger } from "./_helpers.ts";
import { FakeDriver } from "./_fake_driver.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
after(() => broker.stop());
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();

const Item = v.object({ n: v.number() });
let topicSeq = 0;
/** A fresh topic on the broker. */
function topic(prefix: string, partitions = 1) {
  const name = `forget-${prefix}-${++topicSeq}`;
  broker.createTopic(name, partitions);
  return defineTopic({ name, schema: Item });
}
/** A topic the broker does not have, and that a producer of {@link strict} may not create. */
const missing = defineTopic({ name: "forget-missing", schema: Item });
/** No automatic topic creation, and a record undelivered after 1.5 s fails. */
const strict = {
  bootstrapServers: broker.bootstrapServers,
  producer: { "allow.auto.create.topics": false, "message.timeout.ms": 1500 },
};

type Failure = { error: Error; topic: string; fingerprint: string; description: string };
/** A registry whose onDeliveryError records each failure. */
function recording(options: RegistryOptions = {}) {
  const failures: Failure[] = [];
  const reported = new Countdown();
  const kafka = createRegistry({
    logger,
    ...options,
    onDeliveryError: (error, record) => {
      failures.push({ error, ...record });
      reported.increment();
    },
  });
  return { kafka, failures, reported };
}

test("10,000 forgotten records all land once close() resolved: kcat reads each once, in publish order per partition", { timeout: 60_000 }, async () => {
  const t = topic("many", 3);
  const { kafka, failures } = recording();
  const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers });
  for (let n = 0; n < 10_000; n++) assert.equal(producer.publishAndForget(t, { n }), undefined);
  await kafka.close();

  const records = await kcatRead(broker.bootstrapServers, t.name);
  assert.equal(records.length, 10_000);
  const numbers = records.map((r) => JSON.parse(r.payload!).n as number);
  assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: 10_000 }, (_, n) => n));
  for (let partition = 0; partition < 3; partition++) {
    const mine = records.filter((r) => r.partition === partition).map((r) => JSON.parse(r.payload!).n as number);
    assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `partition ${partition} out of order`);
  }
  const stats = kafka.stats().contexts[producer.fingerprint]!;
  assert.equal(stats.forgottenRecords, 10_000);
  assert.equal(stats.forgottenFailures, 0);
  assert.deepEqual(failures, []);
});

test("an undelivered record reaches onDeliveryError once, with its topic and context, and is counted in stats and /metrics", { timeout: 30_000 }, async () => {
  const good = topic("good");
  const { kafka, failures, reported } = recording();
  const producer = await kafka.producer(strict);
  producer.publishAndForget(missing, { n: 1 });
  producer.publishAndForget(good, { n: 2 });
  await reported.reached(1);

  assert.equal(failures.length, 1);
  const [failure] = failures;
  assert.equal(failure!.topic, missing.name);
  assert.equal(failure!.fingerprint, producer.fingerprint);
  assert.equal(failure!.description, resolveSecurityContext(strict).description);
  assert.ok(failure!.error instanceof Error);
  assert.match(failure!.error.message, /timed out|unknown topic/i);
  const stats = kafka.stats().contexts[producer.fingerprint]!;
  assert.equal(stats.forgottenRecords, 2);
  assert.equal(stats.forgottenFailures, 1);

  // The gateway publishes awaited (a REST Proxy answer carries each record's offset); its
  // /metrics shows the counters of whatever else publishes through the same registry.
  const app = opsRoutes({ registry: kafka, metrics: createMetrics() });
  const text = await (await app.request("/metrics")).text();
  assert.match(text, new RegExp(`^kshare_forgotten_records_total\\{context="${producer.fingerprint}"\\} 2$`, "m"));
  assert.match(text, new RegExp(`^kshare_forgotten_failures_total\\{context="${producer.fingerprint}"\\} 1$`, "m"));

  await kafka.close();
  assert.equal(failures.length, 1);
  assert.deepEqual((await kcatRead(broker.bootstrapServers, good.name)).map((r) => JSON.parse(r.payload!).n), [2]);
});

test("without a hook an undelivered record is logged as an error with its topic and the context's redacted description", { timeout: 30_000 }, async () => {
  const errors: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];
  const logged = new Countdown();
  const kafka = createRegistry({
    logger: {
      warn: () => {},
      error: (message, fields) => {
        errors.push({ message, fields });
        logged.increment();
      },
    },
  });
  const producer = await kafka.producer(strict);
  producer.publishAndForget(missing, { n: 1 });
  await logged.reached(1);
  assert.match(errors[0]!.message, /not delivered/);
  assert.equal(errors[0]!.fields?.topic, missing.name);
  assert.equal(errors[0]!.fields?.context, producer.fingerprint);
  assert.equal(errors[0]!.fields?.description, resolveSecurityContext(strict).description);
  assert.equal(kafka.stats().contexts[producer.fingerprint]!.forgottenFailures, 1);
  await kafka.close();
});

test("records close() gives up on (the broker down) reach the hook before close() resolves", { timeout: 30_000 }, async () => {
  const t = topic("down");
  const { kafka, failures } = recording({ closeTimeoutMs: 300 });
  const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers });
  for (const id of broker.brokerIds) broker.brokerDown(id);
  try {
    for (let n = 0; n < 3; n++) producer.publishAndForget(t, { n });
    await kafka.close();
  } finally {
    for (const id of broker.brokerIds) broker.brokerUp(id);
  }
  assert.equal(failures.length, 3);
  for (const failure of failures) {
    assert.equal(failure.topic, t.name);
    assert.ok(failure.error instanceof Error);
  }
  assert.equal(kafka.stats().contexts[producer.fingerprint]!.forgottenFailures, 3);
  assert.deepEqual(await kcatRead(broker.bootstrapServers, t.name), []);
});

test(
  "what refuses a record is thrown at once, nothing sent: its schema, timeoutMs, a full queue (flush() makes room), a closed registry",
  { timeout: 30_000 },
  async () => {
    const t = topic("refused");
    // librdkafka's queue holds one record, none may wait beside it, and the broker answers late:
    // the second record of a synchronous burst finds no room.
    broker.setRtt(-1, 50);
    const { kafka, failures } = recording({ maxWaitingRecords: 0 });
    try {
      const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers, producer: { "queue.buffering.max.messages": 1 } });
      assert.throws(() => producer.publishAndForget(t, { n: "one" } as unknown as { n: number }), ValidationError);
      assert.throws(
        () => producer.publishAndForget(t, { n: 0 }, { timeoutMs: 100 } as never),
        (e: Error) => e instanceof TypeError && /timeoutMs/.test(e.message) && /message\.timeout\.ms/.test(e.message),
      );
      assert.throws(() => producer.publishAndForget(t, { n: 0 }, { partition: -1 }), TypeError);
      producer.publishAndForget(t, { n: 1 });
      assert.throws(
        () => producer.publishAndForget(t, { n: 2 }),
        (e: Error) => e instanceof QueueFullError && e.message.includes(t.name),
      );
      await producer.flush();
      producer.publishAndForget(t, { n: 3 });
      await producer.flush();
      const stats = kafka.stats().contexts[producer.fingerprint]!;
      assert.equal(stats.forgottenRecords, 2);
      assert.equal(stats.forgottenFailures, 0);
      await kafka.close();
      assert.throws(() => producer.publishAndForget(t, { n: 4 }), ClosedError);
      await assert.rejects(producer.flush(), ClosedError);
    } finally {
      broker.setRtt(-1, 0);
      await kafka.close();
    }
    assert.deepEqual(failures, []);
    assert.deepEqual((await kcatRead(broker.bootstrapServers, t.name)).map((r) => JSON.parse(r.payload!).n), [1, 3]);
  },
);

test("a driver without send: a rejected produce goes to the hook; a hook that throws is logged; a retired handle forwards", async () => {
  // Pure registry logic: the fallback for drivers that have no `send` (the REST Proxy driver, a custom one).
  const driver = new FakeDriver();
  const lines = quietLogger();
  let calls = 0;
  const kafka = createRegistry({
    driver,
    logger: lines,
    maxContexts: 1,
    onDeliveryError: () => {
      calls++;
      throw new Error("hook bug");
    },
  });
  const ctx = { bootstrapServers: "fake:9092" };
  const producer = await kafka.producer(ctx);
  const client = driver.producers[0]!;
  const produce = client.produce;
  client.produce = (record) => record.topic === missing.name ? Promise.reject(new Error("Broker: Unknown topic (fake)")) : produce(record);
  producer.publishAndForget(missing, { n: 1 });
  const t = defineTopic({ name: "forget-fake", schema: Item });
  producer.publishAndForget(t, { n: 2 });
  await producer.flush();
  assert.equal(calls, 1);
  assert.equal(kafka.stats().contexts[producer.fingerprint]!.forgottenFailures, 1);
  assert.ok(lines.lines.some((line) => line.includes("onDeliveryError hook threw") && line.includes("hook bug")));

  // Another context takes the only place: the first is closed and its handle retired; a record
  // forgotten on it goes to the context's new client.
  await kafka.producer({ bootstrapServers: "other:9092" });
  assert.equal(producer.retired, true);
  producer.publishAndForget(t, { n: 3 });
  await (await kafka.producer(ctx)).flush();
  const fresh = driver.producers.at(-1)!;
  assert.notEqual(fresh, client);
  assert.deepEqual(fresh.records.map((r) => JSON.parse(r.value as string).n), [3]);
  await kafka.close();
});
