// A consumer client whose start failed after it was created (its subscribe threw) is closed
// before the error propagates or the next attempt, and never overwritten while open (issue #13).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";
import { gate } from "./_helpers.ts";

const silent = { warn() {}, error() {} };
const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });

function liveConsumers(kafka: ReturnType<typeof createRegistry>): number {
  return Object.values(kafka.stats().contexts)[0]!.liveConsumers;
}

test("a start whose subscribe fails closes its client once; the next start() connects a fresh one", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  driver.failSubscribeNext = 1;
  await assert.rejects(consumer.start(), /Topic authorization failed/);
  const failed = driver.consumerClients[0]!;
  assert.equal(failed.closes, 1);
  assert.equal(liveConsumers(kafka), 0);
  assert.equal(consumer.stats().subscriptions, 0); // a failed subscribe set nothing

  await consumer.start();
  assert.equal(consumer.stats().subscriptions, 1);
  assert.equal(driver.consumerClients.length, 2);
  const fresh = driver.consumerClients[1]!;
  assert.deepEqual(fresh.subscribed, ["orders"]);
  assert.equal(fresh.closed, false);
  assert.equal(liveConsumers(kafka), 1);
  const stats = Object.values(kafka.stats().contexts)[0]!;
  assert.equal(stats.clientsCreated, 2);

  await kafka.close();
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1, 1]);
  assert.equal(liveConsumers(kafka), 0);
});

test("a start whose subscribe fails, then registry.close(): the client is closed exactly once", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  driver.failSubscribeNext = 1;
  await assert.rejects(consumer.start(), /Topic authorization failed/);
  await kafka.close();
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1]);
  assert.equal(liveConsumers(kafka), 0);
});

test("a replacement whose subscribe fails is closed once before the next attempt, which connects a fresh member", async () => {
  const driver = new FakeDriver();
  let retries = 0;
  const retrying = gate();
  const logger = {
    warn: (message: string) => {
      if (/retrying/.test(message)) {
        retries++;
        retrying.open();
      }
    },
    error() {},
  };
  const kafka = createRegistry({ driver, logger });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  await consumer.start();
  const fenced = driver.consumerClients[0]!;

  driver.failSubscribeNext = 1;
  fenced.events.onFatal(new Error("Fatal: fenced (fake)"));
  await retrying.wait;
  // The failed replacement is closed before the retry's backoff, not left open until the next one overwrites it.
  const failed = driver.consumerClients[1]!;
  assert.equal(failed.closes, 1);
  assert.equal(liveConsumers(kafka), 0);

  await consumer.start(); // resolves once a replacement is live
  assert.equal(retries, 1);
  assert.equal(consumer.stats().subscriptions, 2); // the first member's and the fresh one's, not the failed one's
  assert.equal(driver.consumerClients.length, 3);
  const fresh = driver.consumerClients[2]!;
  assert.deepEqual(fresh.subscribed, ["orders"]);
  assert.equal(fresh.closed, false);
  assert.equal(liveConsumers(kafka), 1);

  await kafka.close();
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1, 1, 1]);
  assert.equal(liveConsumers(kafka), 0);
});

test("a client fenced while its subscribe is in flight, which then fails, is closed once, by its one replacement", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: silent });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  driver.fatalAtSubscribe = 1;
  driver.failSubscribeNext = 1;
  await consumer.start(); // the replacement owns the outcome: resolves once it is live
  assert.equal(driver.consumerClients.length, 2);
  assert.equal(driver.consumerClients[0]!.closes, 1);
  assert.deepEqual(driver.consumerClients[1]!.subscribed, ["orders"]);
  assert.equal(liveConsumers(kafka), 1);
  await kafka.close();
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1, 1]);
  assert.equal(liveConsumers(kafka), 0);
});

test("a replacement fenced while its subscribe is in flight, which then fails, hands over to one new member, not two", async () => {
  const driver = new FakeDriver();
  let retries = 0;
  const logger = { warn: (message: string) => void (/retrying/.test(message) && retries++), error() {} };
  const kafka = createRegistry({ driver, logger });
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {});
  await consumer.start();
  driver.fatalAtSubscribe = 1;
  driver.failSubscribeNext = 1;
  driver.consumerClients[0]!.events.onFatal(new Error("Fatal: fenced (fake)"));
  await consumer.start(); // resolves once a replacement is live
  assert.equal(retries, 0);
  assert.equal(driver.consumerClients.length, 3);
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1, 1, 0]);
  assert.deepEqual(driver.consumerClients[2]!.subscribed, ["orders"]);
  assert.equal(liveConsumers(kafka), 1);
  await kafka.close();
  assert.equal(driver.consumerClients.length, 3);
  assert.deepEqual(driver.consumerClients.map((c) => c.closes), [1, 1, 1]);
  assert.equal(liveConsumers(kafka), 0);
});
