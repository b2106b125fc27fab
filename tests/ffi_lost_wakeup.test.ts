/**
 * The FFI driver when a queue's wake-up signal never arrives. librdkafka
 * signals a queue only when it goes from empty to non-empty, so a lost
 * signal used to leave a producer's delivery reports unread for good, and
 * every publish waiting for one hung (Bun's thread-safe callbacks, which
 * carry the signal there, are not meant for threads Bun does not know).
 * Here the runtime loses every signal: a publish is still delivered, and a
 * consumer still receives it, each a moment later.
 *
 *   npx deno test -A tests/ffi_lost_wakeup.test.ts
 *   npx bun test tests/ffi_lost_wakeup.test.ts
 *   node --import tsx --test tests/ffi_lost_wakeup.test.ts   (koffi)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createFfiConsumer } from "../src/drivers/ffi/_consumer.ts";
import { createFfiProducer } from "../src/drivers/ffi/_producer.ts";
import type { NativeRuntime } from "../src/drivers/ffi/_native_types.ts";
import { type Librdkafka, loadLibrdkafka } from "../src/drivers/ffi/library.ts";
import type { IncomingMessage } from "../src/driver.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { kcatRead } from "./_helpers.ts";

/** `rdkafka` on a runtime whose queue wake-ups (pipe or thread-safe callback) never reach JavaScript. */
function losingEveryWakeUp(rdkafka: Librdkafka): Librdkafka {
  const native = rdkafka.native;
  const lossy: NativeRuntime = {
    ...native,
    ...(native.wakePipe ? { wakePipe: () => native.wakePipe!(() => {}) } : {}),
    callback: (spec, _fn, options) => native.callback(spec, () => {}, options),
  };
  return { ...rdkafka, native: lossy };
}

/** `promise`, or a rejection naming `what` once `ms` passed (instead of a test that hangs). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms))),
  ]);
}

test("every queue wake-up lost: a publish is still delivered, and a consumer still receives it", { timeout: 60_000 }, async () => {
  await using broker = await startEmbeddedBroker({ brokers: 1 });
  broker.createTopic("lost-wakeups", 1);
  const rdkafka = losingEveryWakeUp(await loadLibrdkafka());
  const properties = { "bootstrap.servers": broker.bootstrapServers };
  const events = { onFatal: (error: Error) => assert.fail(error), onError: () => {} };
  const producer = await within(
    createFfiProducer(rdkafka, { properties, label: "lost-wakeups", secretProperties: [] }, events),
    20_000,
    "connecting a producer",
  );
  try {
    const report = await within(
      producer.produce({ topic: "lost-wakeups", value: new TextEncoder().encode("still here"), key: null }),
      20_000,
      "the delivery report",
    );
    assert.equal(report.offset, 0);
    assert.deepEqual((await kcatRead(broker.bootstrapServers, "lost-wakeups")).map((r) => r.payload), ["still here"]);
  } finally {
    await producer.close(5_000);
  }

  const assigned: unknown[] = [];
  const consumer = await within(
    createFfiConsumer(
      rdkafka,
      {
        properties: { ...properties, "group.id": "lost-wakeups", "auto.offset.reset": "earliest", "enable.auto.offset.store": "false" },
        label: "lost-wakeups",
        secretProperties: [],
        groupId: "lost-wakeups",
      },
      { ...events, onAssign: (partitions) => assigned.push(...partitions), onRevoke: () => {} },
    ),
    20_000,
    "connecting a consumer",
  );
  try {
    await consumer.subscribe(["lost-wakeups"]);
    const received: IncomingMessage[] = [];
    await within(
      (async () => {
        while (received.length === 0) received.push(...await consumer.poll(10, 100));
      })(),
      30_000,
      "the message",
    );
    assert.equal(new TextDecoder().decode(received[0]!.value!), "still here");
  } finally {
    await consumer.close();
  }
});
