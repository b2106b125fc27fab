// Registry logic against an in-memory driver: sharing, retry, retirement, close.
// Kafka itself is exercised in kafka.test.ts against the embedded broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, ConnectError, createRegistry, defineTopic, type SubscribeOptions, ValidationError } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";
import { Countdown, gate } from "./_helpers.ts";

const silent = { warn() {}, error() {} };
const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });

test("100 concurrent first calls share one connection attempt", async () => {
  const driver = new FakeDriver();
  let open!: () => void;
  driver.gate = new Promise((resolve) => (open = resolve));
  const kafka = createRegistry({ driver, logger: silent });
  const calls = Array.from({ length: 100 }, () => kafka.producer({ bootstrapServers: "fake:9092" }));
  open();
  const handles = await Promise.all(calls);
  assert.equal(driver.producers.length, 1);
  assert.equal(new Set(handles).size, 1);
  const stats = Object.values(kafka.stats().contexts)[0]!;
  assert.equal(stats.clientsCreated, 1);
  assert.equal(stats.handlesReused, 99);
  assert.equal(stats.liveProducers, 1);
  await kafka.close();
});

test("a failed connect is not cached: the next call retries after a backoff", async () => {
  const driver = new FakeDriver();
  driver.failNext = 1;
  const kafka = createRegistry({ driver, logger: silent, retryBackoffMs: 1 });
  await assert.rejects(kafka.producer(ctx), (e: unknown) => e instanceof ConnectError && /Broker transport failure/.test(e.message));
  const producer = await kafka.producer(ctx);
  assert.equal(producer.retired, false);
  const stats = Object.values(kafka.stats().contexts)[0]!;
  assert.equal(stats.connectFailures, 1);
  assert.equal(stats.clientsCreated, 1);
  await kafka.close();
});

test("failed contexts are remembered up to a bound: wrong credentials per request cannot grow the registry", async () => {
  const driver = new FakeDriver();
  driver.failNext = 1_000;
  const kafka = createRegistry({ driver, logger: silent, retryBackoffMs: 60_000 });
  const wrong = (i: number) => ({
    bootstrapServers: "fake:9092",
    securityProtocol: "SASL_SSL" as const,
    sasl: { mechanism: "PLAIN" as const, username: "mallory", password: `guess-${i}` },
  });
  for (let i = 0; i < 300; i++) await assert.rejects(kafka.producer(wrong(i)), ConnectError);
  const contexts = Object.values(kafka.stats().contexts);
  assert.equal(contexts.length, 256);
  assert.ok(contexts.every((c) => c.connectFailures === 1 && c.clientsCreated === 0));
  // The most recent failure keeps its backoff: asking again waits instead of connecting at once.
  const attempts = driver.failNext;
  const again = kafka.producer(wrong(299));
  await Promise.resolve();
  assert.equal(driver.failNext, attempts);
  // A context that connects is not a failed one, and outlives the failures.
  driver.failNext = 0;
  await kafka.producer(ctx);
  for (let i = 300; i < 600; i++) {
    driver.failNext = 1;
    await assert.rejects(kafka.producer(wrong(i)), ConnectError);
  }
  const after = Object.values(kafka.stats().contexts);
  assert.equal(after.filter((c) => c.liveProducers === 1).length, 1);
  // 256 failed, the live one, and the one still waiting out its backoff (not forgotten while in use).
  assert.equal(after.length, 258);
  await kafka.close();
  await assert.rejects(again, ClosedError);
});

test("a consumer whose client hit a fatal error is replaced by a new member with the same subscriptions", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const seen: number[] = [];
  const handled = new Countdown();
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, (m) => {
    seen.push(m.value.total);
    handled.increment();
  });
  await consumer.start();
  const first = driver.consumerClients[0]!;
  assert.deepEqual(first.subscribed, ["orders"]);
  const message = (offset: number) => ({
    topic: "orders",
    partition: 0,
    offset,
    key: null,
    value: new TextEncoder().encode(JSON.stringify({ id: `o-${offset}`, total: offset })),
    headers: [],
  });
  first.inbox.push(message(0));
  await handled.reached(1);

  const replaced = driver.nextConsumer();
  first.events.onFatal(new Error("Fatal consumer error: Broker: Static consumer fenced by other consumer with same group.instance.id (fake)"));
  const second = await replaced;
  // The old client's late messages are not handled; the new member's are.
  first.inbox.push(message(1));
  second.inbox.push(message(1), message(2));
  await handled.reached(3);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(first.closed, true);
  assert.deepEqual(second.subscribed, ["orders"]);
  const stats = Object.values(kafka.stats().contexts)[0]!;
  assert.equal(stats.clientsCreated, 2);
  assert.equal(stats.liveConsumers, 1);
  await kafka.close();
  assert.equal(second.closed, true);
  assert.equal(Object.values(kafka.stats().contexts)[0]!.liveConsumers, 0);
});

test("a consumer whose start hits a fatal error is not counted live, and a later start() connects a new member", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  driver.fatalAtConnect = 1;
  await assert.rejects(consumer.start(), (error: Error) => error instanceof ConnectError && /failed at start/.test(error.message));
  assert.equal(driver.consumerClients[0]!.closed, true);
  assert.equal(Object.values(kafka.stats().contexts)[0]!.liveConsumers, 0);
  await consumer.start();
  assert.equal(driver.consumerClients.length, 2);
  assert.deepEqual(driver.consumerClients[1]!.subscribed, ["orders"]);
  assert.equal(Object.values(kafka.stats().contexts)[0]!.liveConsumers, 1);
  await kafka.close();
  assert.equal(Object.values(kafka.stats().contexts)[0]!.liveConsumers, 0);
});

test("start() while a failed member is being replaced waits for the new member, not for one failed attempt", async () => {
  const driver = new FakeDriver();
  const retrying = gate();
  const logger = { warn: (message: string) => /retrying/.test(message) && retrying.open(), error: () => {} };
  const kafka = createRegistry({ driver, logger });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  await consumer.start();
  // The member is fenced, and the first new member fails at start too.
  driver.fatalAtConnect = 1;
  driver.consumerClients[0]!.events.onFatal(new Error("Fatal: fenced (fake)"));
  await retrying.wait;
  await consumer.start(); // resolves once a replacement is live
  assert.equal(driver.consumerClients.length, 3);
  assert.equal(driver.consumerClients[2]!.closed, false);
  assert.deepEqual(driver.consumerClients[2]!.subscribed, ["orders"]);
  assert.equal(Object.values(kafka.stats().contexts)[0]!.liveConsumers, 1);
  await kafka.close();
});

test("a producer that hit a fatal error is retired; the next call gets a fresh client", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const first = await kafka.producer(ctx);
  driver.producers[0]!.events.onFatal(new Error("Fatal: producer fenced (fake)"));
  assert.equal(first.retired, true);
  assert.equal(driver.producers[0]!.closed, true);
  const second = await kafka.producer(ctx);
  assert.notEqual(second, first);
  assert.equal(second.retired, false);
  assert.equal(driver.producers.length, 2);
  // A caller still holding the retired handle is served by the fresh client.
  await first.publish(orders, { id: "o-1", total: 1 });
  assert.equal(driver.producers[0]!.records.length, 0);
  assert.equal(driver.producers[1]!.records.length, 1);
  await kafka.close();
});

test("a warm lookup returns the same settled promise, never after its handle was retired or the registry closed", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const first = await kafka.producer(ctx);
  const warm = kafka.producer(ctx);
  assert.equal(kafka.producer({ bootstrapServers: ["fake:9092"] }), warm);
  assert.equal(await warm, first);
  driver.producers[0]!.events.onFatal(new Error("Fatal: producer fenced (fake)"));
  const afterRetire = kafka.producer(ctx);
  assert.notEqual(afterRetire, warm);
  const second = await afterRetire;
  assert.notEqual(second, first);
  assert.equal(second.retired, false);
  assert.equal(kafka.producer(ctx), kafka.producer(ctx));
  assert.equal(await kafka.producer(ctx), second);
  const stats = Object.values(kafka.stats().contexts)[0]!;
  assert.equal(stats.clientsCreated, 2);
  assert.equal(stats.handlesReused, 5);
  assert.equal(stats.liveProducers, 1);
  await kafka.close();
  await assert.rejects(kafka.producer(ctx), ClosedError);
});

test("a failed connect leaves nothing to serve: concurrent callers share the rejection, the next call connects", async () => {
  const driver = new FakeDriver();
  driver.failNext = 1;
  const kafka = createRegistry({ driver, logger: silent, retryBackoffMs: 1 });
  const calls = [kafka.producer(ctx), kafka.producer(ctx)];
  for (const call of calls) await assert.rejects(call, ConnectError);
  const producer = await kafka.producer(ctx);
  assert.equal(await kafka.producer(ctx), producer);
  assert.equal(driver.producers.length, 1);
  await kafka.close();
});

test("an invalid value is rejected with the schema's issues and nothing is sent", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const producer = await kafka.producer(ctx);
  await assert.rejects(
    // @ts-expect-error: total must be a number
    producer.publish(orders, { id: "o-1", total: "12" }),
    (e: unknown) => e instanceof ValidationError && e.topic === "orders" && e.issues.length === 1 && /total:/.test(e.message),
  );
  await assert.rejects(
    // @ts-expect-error: second record invalid
    producer.publishBatch(orders, [{ value: { id: "a", total: 1 } }, { value: { id: 2, total: 1 } }]),
    (e: unknown) => e instanceof ValidationError && /\[1\]\.id:/.test(e.message),
  );
  assert.equal(driver.producers[0]!.records.length, 0);
  await kafka.close();
});

test("publish encodes JSON, derives the key and merges headers", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const topic = defineTopic({ name: "t", schema: v.object({ id: v.string() }), key: (x) => x.id, headers: { source: "kshare" } });
  const producer = await kafka.producer(ctx);
  await producer.publish(topic, { id: "k1" }, { headers: { trace: "abc" }, partition: 2 });
  const record = driver.producers[0]!.records[0]!;
  const text = (b: Uint8Array | string | null | undefined) => typeof b === "string" || !b ? b : new TextDecoder().decode(b);
  assert.equal(text(record.value), '{"id":"k1"}');
  assert.equal(text(record.key), "k1");
  assert.equal(record.partition, 2);
  assert.deepEqual(record.headers?.map(([n, b]) => [n, text(b)]), [["source", "kshare"], ["trace", "abc"]]);
  await kafka.close();
});

test("publish headers as a list keep their order and repeated names; a name given replaces the topic's; bad pairs are refused", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const topic = defineTopic({ name: "t", schema: v.object({ id: v.string() }), headers: { source: "kshare", env: "test" } });
  const producer = await kafka.producer(ctx);
  const binary = Uint8Array.of(0, 255);
  await producer.publish(topic, { id: "a" }, { headers: [["trace", "1"], ["env", "prod"], ["trace", binary]] });
  const bytes = (text: string) => [...new TextEncoder().encode(text)];
  const [record] = driver.producers[0]!.records;
  assert.deepEqual(record!.headers?.map(([name, value]) => [name, [...value]]), [
    ["source", bytes("kshare")],
    ["trace", bytes("1")],
    ["env", bytes("prod")],
    ["trace", [0, 255]],
  ]);
  await assert.rejects(
    producer.publish(topic, { id: "b" }, { headers: [["ok", "1"], "trace=2" as unknown as [string, string]] }),
    (error: Error) => error instanceof TypeError && /Topic "t": headers must be \[name, value\] pairs.*got string/.test(error.message),
  );
  await assert.rejects(
    producer.publish(topic, { id: "d" }, { headers: new Map([["trace", "1"]]) as unknown as Record<string, string> }),
    (error: Error) => error instanceof TypeError && /Topic "t": headers must be an object or a list of \[name, value\] pairs, got Map/.test(error.message),
  );
  await assert.rejects(
    producer.publish(topic, { id: "c" }, { headers: { count: 3 as unknown as string } }),
    (error: Error) => error instanceof TypeError && /Topic "t": header "count" must be a string or Uint8Array, got number/.test(error.message),
  );
  assert.equal(driver.producers[0]!.records.length, 1, "nothing of a refused publish is sent");
  await kafka.close();
});

test("close is idempotent, closes every client, and later calls are refused", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const producer = await kafka.producer(ctx);
  await kafka.producer({ ...ctx, isolation: "other" });
  const first = kafka.close();
  const second = kafka.close();
  assert.equal(first, second);
  await first;
  assert.ok(driver.producers.every((p) => p.closed));
  await assert.rejects(producer.publish(orders, { id: "x", total: 1 }), ClosedError);
  await assert.rejects(kafka.producer(ctx), ClosedError);
  assert.throws(() => kafka.consumer(ctx, "g"), ClosedError);
});

test("contexts differing only in password or isolation get separate clients", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const sasl = { mechanism: "PLAIN", username: "u", password: "p1" } as const;
  await kafka.producer({ bootstrapServers: "k:9092", sasl });
  await kafka.producer({ bootstrapServers: "k:9092", sasl: { ...sasl, password: "p2" } });
  await kafka.producer({ bootstrapServers: "k:9092", sasl, isolation: "x" });
  await kafka.producer({ bootstrapServers: "k:9092", sasl: { ...sasl } });
  assert.equal(driver.producers.length, 3);
  const stats = JSON.stringify(kafka.stats());
  assert.ok(!stats.includes("p1") && !stats.includes("p2"), stats);
  assert.equal(driver.producers[0]!.config.properties["sasl.password"], "p1");
  await kafka.close();
});

test("one consumer per (context, group)", () => {
  const kafka = createRegistry({ driver: new FakeDriver(), logger: silent });
  const a = kafka.consumer(ctx, "billing");
  assert.equal(kafka.consumer({ bootstrapServers: ["fake:9092"] }, "billing"), a);
  assert.notEqual(kafka.consumer(ctx, "audit"), a);
  assert.throws(() => a.subscribe(orders, () => {}).subscribe(orders, () => {}), /already has a handler/);
  assert.throws(() => kafka.consumer(ctx, " "), /groupId/);
  return kafka.close();
});

test("subscribe refuses options that would silently mean something else, naming the topic and the option", () => {
  const kafka = createRegistry({ driver: new FakeDriver(), logger: silent });
  const consumer = kafka.consumer(ctx, "billing");
  const cases: Array<[object, RegExp]> = [
    [{ retries: -1 }, /Topic "orders": retries must be a whole number ≥ 0, got -1/],
    [{ retries: 1.5 }, /retries must be a whole number ≥ 0, got 1\.5/],
    [{ retries: Number.NaN }, /retries .* got NaN/],
    [{ retryBackoffMs: -100 }, /Topic "orders": retryBackoffMs must be a finite number of ms ≥ 0, got -100/],
    [{ retryBackoffMs: "100" }, /retryBackoffMs .* got 100/],
    [{ onInvalid: "log" }, /Topic "orders": onInvalid must be a function/],
    [{ onError: {} }, /Topic "orders": onError must be a function/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => consumer.subscribe(orders, () => {}, options as SubscribeOptions), message, JSON.stringify(options));
  }
  assert.deepEqual(consumer.stats().topics, [], "a refused subscription registers nothing");
  consumer.subscribe(orders, () => {}, { retries: 0, retryBackoffMs: 0 });
  assert.deepEqual(consumer.stats().topics, ["orders"]);
  return kafka.close();
});

test("a custom serializer encodes values; a bad partition or timestamp is refused before sending", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const csv = defineTopic({
    name: "csv",
    schema: v.tuple([v.string(), v.number()]),
    serializer: {
      serialize: (value) => new TextEncoder().encode((value as [string, number]).join(",")),
      deserialize: (bytes) => new TextDecoder().decode(bytes).split(","),
    },
  });
  const producer = await kafka.producer(ctx);
  await producer.publish(csv, ["a", 1]);
  const value = driver.producers[0]!.records[0]!.value;
  assert.ok(value instanceof Uint8Array, "a custom serializer's bytes go to the driver as they are");
  assert.equal(new TextDecoder().decode(value), "a,1");
  await assert.rejects(producer.publish(csv, ["b", 2], { partition: -1 }), /partition must be a non-negative integer/);
  await assert.rejects(producer.publish(csv, ["b", 2], { timestamp: Number.NaN }), /timestamp must be milliseconds since the epoch.*got NaN/);
  await assert.rejects(producer.publish(csv, ["b", 2], { timestamp: -1 }), /timestamp must be milliseconds since the epoch.*got -1/);
  assert.equal(driver.producers[0]!.records.length, 1);
  await kafka.close();
});

test("defineTopic names what is wrong", () => {
  assert.throws(() => defineTopic({ name: "bad name", schema: v.string() }), /Invalid topic name "bad name"/);
  assert.throws(() => defineTopic({ name: "t", schema: v.string(), consumer: { maxBufferedMessages: 0 } }), /maxBufferedMessages/);
  assert.throws(() => defineTopic({ name: "t", schema: {} as v.GenericSchema }), /valibot schema/);
});
