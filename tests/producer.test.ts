// The producer handle against an in-memory driver: validation, encoding, keys, headers, serializers.
// Kafka itself is exercised in kafka.test.ts against the embedded broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic, ValidationError } from "../mod.ts";
import { FakeDriver } from "./_fake_driver.ts";

const silent = { warn() {}, error() {} };
const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });

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
