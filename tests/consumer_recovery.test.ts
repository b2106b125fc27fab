// A shared consumer after a fatal error, against an in-memory driver: a new member with the same subscriptions.
// Kafka itself is exercised in faults.test.ts against the embedded broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ConnectError, createRegistry, defineTopic } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";
import { Countdown, gate } from "./_helpers.ts";

const silent = { warn() {}, error() {} };
const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });

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
