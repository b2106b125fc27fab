/**
 * The FFI producer's `onSettled`: the registry counts a context's publishes
 * in flight by it (no promise chained per publish), so it must be told
 * exactly once for every record of `produce()` however the record ends, and
 * never for a record of `send()`. Against the embedded broker; runs on the
 * three runtimes:
 *
 *   npx deno test -A tests/ffi_settled.test.ts
 *   npx bun test tests/ffi_settled.test.ts
 *   node --import tsx --test tests/ffi_settled.test.ts   (koffi)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { OutgoingRecord, ProducerClient, ProducerConfig } from "../src/driver.ts";
import { ffiDriver } from "../src/drivers/ffi/driver.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "../src/embedded_broker.ts";

const encoder = new TextEncoder();
const events = { onFatal: (error: Error) => assert.fail(`unexpected fatal error: ${error.message}`) };

/** A producer whose settled records are counted; each record's outcome is noted with the count when its promise's reaction ran. */
async function counted(kafka: EmbeddedBroker, config: Partial<ProducerConfig> = {}, properties: Record<string, string> = {}) {
  const driver = await ffiDriver();
  const producer: ProducerClient = await driver.createProducer({
    properties: { "bootstrap.servers": kafka.bootstrapServers, ...properties },
    label: "test",
    secretProperties: [],
    ...config,
  }, events);
  let settled = 0;
  assert.ok(producer.onSettled, "the FFI producer tells settled records");
  producer.onSettled((): void => void settled++);
  return {
    producer,
    get settled() {
      return settled;
    },
    /** produce(), resolving with its outcome and how many were told settled by the time its reaction ran. */
    produce(record: OutgoingRecord): Promise<{ outcome: string; settledBefore: number }> {
      return producer.produce(record).then(
        () => ({ outcome: "delivered", settledBefore: settled }),
        (error: Error) => ({ outcome: error.name === "Error" ? error.message : error.name, settledBefore: settled }),
      );
    },
  };
}

/**
 * An embedded broker with `topic` (one partition) and a counted producer on it, for `body`; the producer is
 * closed and the broker stopped afterwards, however `body` ends.
 */
async function withCounted(
  topic: string,
  settings: { config?: Partial<ProducerConfig>; properties?: Record<string, string> },
  body: (counter: Awaited<ReturnType<typeof counted>>, kafka: EmbeddedBroker) => Promise<void>,
): Promise<void> {
  const kafka = await startEmbeddedBroker({ brokers: 1 });
  try {
    kafka.createTopic(topic, 1);
    const counter = await counted(kafka, settings.config, settings.properties);
    try {
      await body(counter, kafka);
    } finally {
      await counter.producer.close(200);
    }
  } finally {
    await kafka.stop();
  }
}

test("onSettled is told once per delivered record, before the record's promise reactions run; never for send()", () =>
  withCounted("told", {}, async (counter) => {
    const { producer, produce } = counter;
    const outcomes = await Promise.all([1, 2, 3].map((i) => produce({ topic: "told", value: encoder.encode(`${i}`) })));
    assert.deepEqual(outcomes.map((o) => o.outcome), ["delivered", "delivered", "delivered"]);
    for (const { settledBefore } of outcomes) assert.ok(settledBefore >= 1, `a reaction ran before its record was told settled (${settledBefore})`);
    assert.equal(counter.settled, 3);
    let sent!: () => void;
    const forgotten = new Promise<void>((resolve) => (sent = resolve));
    producer.send!({ topic: "told", value: encoder.encode("forgotten") }, () => sent());
    await forgotten;
    assert.equal(counter.settled, 3, "a record of send() is not one of produce()'s");
  }));

test("onSettled is told for records refused at once, dropped while waiting for room, failed at close, and produced after close", () =>
  // Room for one record in librdkafka's queue and one waiting beside it.
  withCounted("refused", { config: { maxWaitingRecords: 1 }, properties: { "queue.buffering.max.messages": "1" } }, async (counter, kafka) => {
    const { producer, produce } = counter;
    await produce({ topic: "refused", value: encoder.encode("first") }); // connected, leader known
    assert.equal(counter.settled, 1);
    kafka.brokerDown(kafka.brokerIds[0]!);
    const inQueue = produce({ topic: "refused", value: encoder.encode("in the queue") });
    const waiting = produce({ topic: "refused", value: encoder.encode("waiting"), deadline: Date.now() + 100 });
    const refused = await produce({ topic: "refused", value: encoder.encode("refused") });
    assert.equal(refused.outcome, "QueueFullError");
    assert.equal(counter.settled, 2, "told for the refused record");
    const dropped = await waiting; // no room before its deadline
    assert.match(dropped.outcome, /Queue full/);
    assert.equal(counter.settled, 3, "told for the record dropped while waiting");
    await producer.close(200); // the flush gives up; what the broker never took fails
    assert.equal((await inQueue).outcome, "ClosedError");
    assert.equal(counter.settled, 4, "told for the record failed at close");
    assert.equal((await produce({ topic: "refused", value: encoder.encode("late") })).outcome, "ClosedError");
    assert.equal(counter.settled, 5, "told for a record produced after close");
  }));

test("onSettled is told for a record of produce() that fails in delivery, never for one of send() that does", () =>
  withCounted("lost", { properties: { "message.timeout.ms": "300" } }, async (counter, kafka) => {
    const { producer, produce } = counter;
    await produce({ topic: "lost", value: encoder.encode("first") }); // connected, leader known
    assert.equal(counter.settled, 1);
    kafka.brokerDown(kafka.brokerIds[0]!);
    // Both are taken by librdkafka, then fail with its delivery timeout: their reports carry the error.
    let told!: (error: Error | undefined) => void;
    const forgotten = new Promise<Error | undefined>((resolve) => (told = resolve));
    producer.send!({ topic: "lost", value: encoder.encode("forgotten") }, (error) => told(error));
    const awaited = produce({ topic: "lost", value: encoder.encode("awaited") });
    assert.match(String((await forgotten)?.message), /timed out/i);
    assert.notEqual((await awaited).outcome, "delivered");
    assert.equal(counter.settled, 2, "told for the awaited record, not for the forgotten one");
  }));
