// A registry's defaults: precedence topic > context > registry defaults > kshare's defaults, per
// level, as stats() shows it and as the broker sees it (librdkafka's acks decide whether a
// delivery report carries an offset; auto.offset.reset where a new group starts), kcat reading
// back. Fingerprints do not move; the one context that needs a key of its own gets one.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic, resolveSecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, kcatRead, kcatWrite, quietLogger } from "./_helpers.ts";
import { FakeDriver } from "./_fake_driver.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const session = { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 };

/** Inherits everything. */
const plain = { bootstrapServers: broker.bootstrapServers, consumer: session };
/**
 * Sets its own compression, and writes kshare's own defaults for acks, idempotence and
 * auto.offset.reset: the same fingerprint as leaving those out, but not the same config
 * under registry defaults that differ.
 */
const explicit = {
  bootstrapServers: broker.bootstrapServers,
  producer: { "compression.type": "lz4", acks: "all", "enable.idempotence": true },
  consumer: { ...session, "auto.offset.reset": "earliest" },
};
const defaults = {
  producer: { acks: 0, "enable.idempotence": false, "compression.type": "gzip", "linger.ms": 5 },
  consumer: { "auto.offset.reset": "latest", "fetch.min.bytes": 2 },
  topic: { maxBufferedMessages: 7 },
};
const KSHARE_PRODUCER = { acks: "all", "enable.idempotence": "true", "linger.ms": "0" };

test("producer tuning: context > registry defaults > kshare's, in stats and on the wire (acks=0 reports no offset)", async () => {
  const t = defineTopic({ name: "defaults-producer", schema: v.object({ by: v.string() }) });
  broker.createTopic(t.name, 1);
  const bare = createRegistry({ logger });
  const kafka = createRegistry({ logger, defaults });
  try {
    const kshareOnly = await bare.producer(plain);
    const inherits = await kafka.producer(plain);
    const own = await kafka.producer(explicit);

    // kshare's defaults alone.
    assert.deepEqual(bare.stats().contexts[kshareOnly.fingerprint]!.producer, KSHARE_PRODUCER);
    // Registry defaults over kshare's: every one of them.
    assert.deepEqual(kafka.stats().contexts[inherits.fingerprint]!.producer, {
      acks: "0",
      "compression.type": "gzip",
      "enable.idempotence": "false",
      "linger.ms": "5",
    });
    // The context's own over the registry's, kshare's values it wrote included; the rest inherited.
    assert.deepEqual(kafka.stats().contexts[own.fingerprint]!.producer, {
      acks: "all",
      "compression.type": "lz4",
      "enable.idempotence": "true",
      "linger.ms": "5",
    });

    // Fingerprints do not move with defaults; the explicit context, whose fingerprint is that of
    // one leaving kshare's defaults out, is registered under a key of its own.
    assert.equal(inherits.fingerprint, kshareOnly.fingerprint);
    assert.equal(inherits.fingerprint, resolveSecurityContext(plain).fingerprint);
    const lz4Only = { bootstrapServers: broker.bootstrapServers, producer: { "compression.type": "lz4" }, consumer: session };
    assert.equal(resolveSecurityContext(explicit).fingerprint, resolveSecurityContext(lz4Only).fingerprint);
    assert.notEqual(own.fingerprint, resolveSecurityContext(explicit).fingerprint);
    assert.equal((await kafka.producer(lz4Only)).fingerprint, resolveSecurityContext(lz4Only).fingerprint);
    assert.equal(kafka.stats().contexts[resolveSecurityContext(lz4Only).fingerprint]!.producer.acks, "0");
    assert.equal(await kafka.producer(explicit), own, "one shared producer per key");

    // What librdkafka got: with acks=0 the broker acknowledges nothing, so no offset comes back.
    const unacknowledged = await inherits.publish(t, { by: "inherits" });
    const acknowledged = await own.publish(t, { by: "own" });
    assert.ok(unacknowledged.offset < 0, `acks=0 gave offset ${unacknowledged.offset}`);
    assert.ok(acknowledged.offset >= 0);
  } finally {
    await kafka.close();
    await bare.close();
  }
  assert.deepEqual((await kcatRead(broker.bootstrapServers, t.name)).map((r) => JSON.parse(r.payload!).by), ["inherits", "own"]);
});

test("consumer tuning: a context's own auto.offset.reset=earliest wins over the registry's latest (a new group reads what kcat wrote before it)", {
  timeout: 30_000,
}, async () => {
  const t = defineTopic({ name: "defaults-consumer", schema: v.object({ id: v.string() }) });
  broker.createTopic(t.name, 1);
  await kcatWrite(broker.bootstrapServers, t.name, [`:${JSON.stringify({ id: "before" })}`]);
  const kafka = createRegistry({ logger, defaults });
  try {
    const seen: string[] = [];
    const one = new Countdown();
    const consumer = kafka.consumer(explicit, "defaults-earliest").subscribe(t, (m) => {
      seen.push(m.value.id);
      one.increment();
    });
    await consumer.start();
    await one.reached(1);
    assert.deepEqual(seen, ["before"]);
    const stats = kafka.stats().contexts[consumer.fingerprint]!;
    assert.equal(stats.consumer["auto.offset.reset"], "earliest");
    assert.equal(stats.consumer["fetch.min.bytes"], "2");
    const latest = kafka.consumer(plain, "defaults-latest");
    assert.equal(kafka.stats().contexts[latest.fingerprint]!.consumer["auto.offset.reset"], "latest");
  } finally {
    await kafka.close();
  }
});

test("the driver is given the tuning in effect: producer and consumer properties per context (pure registry logic)", async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger, defaults });
  await kafka.producer(plain);
  await kafka.producer(explicit);
  await kafka.consumer(plain, "g").start();
  await kafka.consumer(explicit, "g").start();
  const [inherits, own] = driver.producers.map((p) => p.config.properties);
  assert.deepEqual([inherits!["acks"], inherits!["compression.type"], inherits!["linger.ms"]], ["0", "gzip", "5"]);
  assert.deepEqual([own!["acks"], own!["compression.type"], own!["linger.ms"]], ["all", "lz4", "5"]);
  const [c1, c2] = driver.consumers.map((c) => c.properties);
  assert.deepEqual([c1!["auto.offset.reset"], c1!["fetch.min.bytes"], c1!["group.id"]], ["latest", "2", "g"]);
  assert.deepEqual([c2!["auto.offset.reset"], c2!["fetch.min.bytes"]], ["earliest", "2"]);
  await kafka.close();
});

test("topic settings: a topic's own maxBufferedMessages > the registry's defaults.topic > kshare's 1000, in consumer.stats()", async () => {
  const driver = new FakeDriver();
  const inherits = defineTopic({ name: "defaults-topic-inherits", schema: v.unknown() });
  const own = defineTopic({ name: "defaults-topic-own", schema: v.unknown(), consumer: { maxBufferedMessages: 3 } });
  const kafka = createRegistry({ driver, logger, defaults });
  const bare = createRegistry({ driver, logger });
  const consumer = kafka.consumer(plain, "g").subscribe(inherits, () => {}).subscribe(own, () => {});
  const kshareOnly = bare.consumer(plain, "g").subscribe(inherits, () => {}).subscribe(own, () => {});
  assert.deepEqual(consumer.stats().maxBufferedMessages, { [inherits.name]: 7, [own.name]: 3 });
  assert.deepEqual(kshareOnly.stats().maxBufferedMessages, { [inherits.name]: 1000, [own.name]: 3 });
  assert.equal(inherits.consumer.maxBufferedMessages, 1000); // the definition shows kshare's default
  await kafka.close();
  await bare.close();
});

test("bad defaults throw a TypeError naming the field, never its value", () => {
  const refused = (option: unknown, pattern: RegExp) =>
    assert.throws(
      () => createRegistry({ logger, defaults: option as never }),
      (e: Error) => e instanceof TypeError && pattern.test(e.message) && !e.message.includes("hunter2"),
    );
  refused({ producer: { "sasl.password": "hunter2" } }, /defaults\.producer: .*not tuning/);
  refused({ consumer: { "group.id": "hunter2" } }, /defaults\.consumer: /);
  refused({ producer: { "linger.ms": { secret: "hunter2" } } }, /defaults\.producer\.linger\.ms: expected a string, number or boolean/);
  refused({ topic: { maxBufferedMessages: 0 } }, /defaults\.topic\.maxBufferedMessages must be a positive integer/);
  refused({ topic: { maxBuffered: 5 } }, /defaults\.topic\.maxBuffered: unknown field/);
  refused({ produce: {} }, /defaults\.produce: unknown field/);
  refused("hunter2", /defaults must be an object/);
  assert.throws(() => createRegistry({ onDeliveryError: "log" as never }), /onDeliveryError must be a function/);
});
