// Registry logic against an in-memory driver: sharing, retry, retirement, close.
// Kafka itself is exercised in kafka.test.ts against the embedded broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, ConnectError, createRegistry, defineTopic } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";

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
