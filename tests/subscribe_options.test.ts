// subscribe's options: what is refused before anything is registered.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic, type SubscribeOptions } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";

const silent = { warn() {}, error() {} };
const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });

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
