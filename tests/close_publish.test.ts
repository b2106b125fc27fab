// registry.close() lets handlers in flight publish: consumers are closed first,
// and the producers they publish through take records until every consumer has
// closed; only then are they flushed and closed. Against the embedded broker,
// kcat writing the input and reading the output back.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, createRegistry, defineTopic, type Producer } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, gate, kcat, kcatRead, quietLogger } from "./_helpers.ts";
import { FakeDriver } from "./_fake_driver.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
// The mock coordinator holds a rebalance after a member left for the session timeout minus 1 s: short sessions.
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 } };
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
after(() => broker.stop());

const Order = v.object({ id: v.string() });
const input = defineTopic({ name: "close-publish-in", schema: Order });
const output = defineTopic({ name: "close-publish-out", schema: Order });
broker.createTopic(input.name, 2);
broker.createTopic(output.name, 1);

/** Write one `{ id }` record to `partition` of the input topic with kcat. */
function write(partition: number, id: string): Promise<string> {
  return kcat(["-b", broker.bootstrapServers, "-P", "-t", input.name, "-p", String(partition)], JSON.stringify({ id }) + "\n");
}

test("handlers in flight at registry.close() publish through the registry's producers; their input is committed", async () => {
  const group = "close-publish";
  const kafka = createRegistry({ logger });
  const held: Producer = await kafka.producer(ctx);
  const started = new Countdown();
  const release = gate();
  const failures: string[] = [];
  // Partitions are handled concurrently: the record of partition 0 publishes through the
  // handle the handler holds, that of partition 1 through `registry.producer(ctx)` called in flight.
  kafka.consumer(ctx, group).subscribe(input, async (m) => {
    started.increment();
    await release.wait;
    try {
      const producer = m.partition === 0 ? held : await kafka.producer(ctx);
      await producer.publish(output, { id: `out-${m.value.id}` });
    } catch (error) {
      failures.push(`${m.value.id}: ${(error as Error).name}`);
      throw error;
    }
  });
  await write(0, "a");
  await write(1, "b");
  await kafka.consumer(ctx, group).start();
  await started.reached(2);

  const closing = kafka.close();
  assert.equal(kafka.closed, true);
  // While consumers drain: a new context does not connect; an existing producer still publishes.
  await assert.rejects(kafka.producer({ ...ctx, isolation: "new during close" }), ClosedError);
  await held.publish(output, { id: "outside" });
  release.open();
  await closing;

  assert.deepEqual(failures, []);
  // After close(): refused.
  await assert.rejects(held.publish(output, { id: "late" }), ClosedError);
  await assert.rejects(kafka.producer(ctx), ClosedError);
  const published = (await kcatRead(broker.bootstrapServers, output.name)).map((r) => JSON.parse(r.payload!).id).sort();
  assert.deepEqual(published, ["out-a", "out-b", "outside"]);

  // Committed: a new member of the group starts after "a" and "b". With nothing committed it
  // would start at the beginning (auto.offset.reset=earliest) and see them before the markers.
  await write(0, "marker-0");
  await write(1, "marker-1");
  const next = createRegistry({ logger });
  try {
    const seen: string[] = [];
    const markers = new Countdown();
    next.consumer(ctx, group).subscribe(input, (m) => {
      seen.push(m.value.id);
      if (m.value.id.startsWith("marker-")) markers.increment();
    });
    await next.consumer(ctx, group).start();
    await markers.reached(2);
    assert.deepEqual(seen.sort(), ["marker-0", "marker-1"]);
  } finally {
    await next.close();
  }
});

test("a producer connect under way when close() is called is refused, and its client is closed by the time close() resolves", async () => {
  const driver = new FakeDriver();
  const held = gate();
  driver.gate = held.wait;
  const reached = gate();
  const createProducer = driver.createProducer.bind(driver);
  driver.createProducer = (config, events) => (reached.open(), createProducer(config, events));
  const kafka = createRegistry({ driver, logger: quietLogger() });
  const connecting = kafka.producer(ctx);
  await reached.wait; // the connect is past every earlier check, in the driver
  const closing = kafka.close();
  held.open();
  await assert.rejects(connecting, ClosedError);
  await closing;
  assert.equal(driver.producers.length, 1);
  assert.equal(driver.producers[0]!.closed, true);
});
