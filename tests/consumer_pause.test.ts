// Which partitions the consumer pauses and resumes, and when. librdkafka
// keeps a pause across a partition's revocation, and every pause or resume
// call starts the partition's fetcher over: so the consumer calls them for
// the partitions it paused itself, resumes the ones a revocation takes away,
// and leaves an assignment of a flowing topic alone. Pure consumer logic:
// the fake driver records the calls and keeps pauses as librdkafka does.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { type FakeConsumer, FakeDriver } from "./_fake_driver.ts";
import { Countdown, gate, quietLogger } from "./_helpers.ts";

const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), consumer: { maxBufferedMessages: 2 } });
const at = (partition: number) => ({ topic: "orders", partition });

function record(partition: number, offset: number) {
  return { topic: "orders", partition, offset, key: null, value: new TextEncoder().encode(JSON.stringify({ id: `o-${offset}` })), headers: [] };
}

/** A consumer of `orders` whose handler holds every record until `release` opens. */
async function heldConsumer() {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: quietLogger() });
  const release = gate();
  const started = new Countdown();
  const handled = new Countdown();
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, async () => {
    started.increment();
    await release.wait;
    handled.increment();
  });
  await consumer.start();
  const client = driver.consumerClients[0]!;
  return { kafka, consumer, client, release, started, handled };
}

test("an assignment of a flowing topic neither pauses nor resumes anything", { timeout: 10_000 }, async () => {
  const { kafka, client, release } = await heldConsumer();
  client.events.onAssign([at(0), at(1), at(2)]);
  assert.deepEqual(client.pauseCalls, []);
  release.open();
  await kafka.close();
});

test(
  "a partition revoked while its topic is paused is resumed then; assigned again after the topic resumed, it is not paused",
  { timeout: 10_000 },
  async () => {
    const { kafka, consumer, client, release, started, handled } = await heldConsumer();
    client.events.onAssign([at(0), at(1)]);
    client.inbox.push(record(0, 0), record(0, 1)); // the topic's bound: it pauses
    await started.reached(1);
    assert.deepEqual(client.pauseCalls, [{ call: "pause", partitions: ["orders[0]", "orders[1]"] }]);
    assert.deepEqual(consumer.stats().paused, ["orders"]);

    await client.events.onRevoke([at(1)]);
    assert.deepEqual(client.pauseCalls.at(-1), { call: "resume", partitions: ["orders[1]"] }, "the revoked partition is resumed at its revocation");
    assert.deepEqual([...client.paused], ["orders[0]"]);

    const resumed = nextCall(client, "resume");
    release.open();
    await handled.reached(2);
    await resumed;
    assert.deepEqual(client.pauseCalls.at(-1), { call: "resume", partitions: ["orders[0]"] }, "the topic resumes what it paused and still owns");
    assert.deepEqual(consumer.stats().paused, []);

    const calls = client.pauseCalls.length;
    client.events.onAssign([at(1)]);
    assert.equal(client.pauseCalls.length, calls, "the assignment made a pause or resume call");
    assert.deepEqual([...client.paused], [], "a partition came back paused");
    await kafka.close();
  },
);

test("a topic paused when a partition is assigned pauses that partition too, and resumes it with the others", { timeout: 10_000 }, async () => {
  const { kafka, client, release, started, handled } = await heldConsumer();
  client.events.onAssign([at(0)]);
  client.inbox.push(record(0, 0), record(0, 1));
  await started.reached(1);
  client.events.onAssign([at(2)]);
  assert.deepEqual(client.pauseCalls.at(-1), { call: "pause", partitions: ["orders[2]"] });
  assert.deepEqual([...client.paused].sort(), ["orders[0]", "orders[2]"]);
  const resumed = nextCall(client, "resume");
  release.open();
  await handled.reached(2);
  await resumed;
  assert.deepEqual(client.pauseCalls.at(-1), { call: "resume", partitions: ["orders[0]", "orders[2]"] });
  assert.deepEqual([...client.paused], []);
  await kafka.close();
});

test("a partition of a paused topic that still yields messages (its pause did not hold) is paused again", { timeout: 10_000 }, async () => {
  const { kafka, client, release, started } = await heldConsumer();
  client.events.onAssign([at(0), at(1)]);
  client.inbox.push(record(0, 0), record(0, 1));
  await started.reached(1);
  assert.deepEqual(client.pauseCalls, [{ call: "pause", partitions: ["orders[0]", "orders[1]"] }]);
  const paused = nextCall(client, "pause");
  client.inbox.push(record(1, 0)); // as if librdkafka had dropped the pause of orders[1]
  await paused;
  assert.deepEqual(client.pauseCalls.at(-1), { call: "pause", partitions: ["orders[1]"] });
  release.open();
  await kafka.close();
});

test("a topic that drains resumes while the poll in flight (every topic paused: a poll for one message) still waits", { timeout: 10_000 }, async () => {
  const { kafka, consumer, client, release, started, handled } = await heldConsumer();
  client.events.onAssign([at(0)]);
  client.inbox.push(record(0, 0), record(0, 1)); // the topic's bound: it pauses
  const polls = gate();
  client.pollsHeld = polls.wait; // the poll in flight takes the records; the next stays in flight until the end of the test
  const held = gate();
  const poll = client.poll.bind(client);
  client.poll = (max, timeoutMs) => {
    if (client.inbox.length === 0) held.open();
    return poll(max, timeoutMs);
  };
  await started.reached(1);
  await held.wait;
  const resumed = nextCall(client, "resume");
  release.open();
  await handled.reached(2);
  await resumed; // before, the resume waited for the poll in flight to return
  assert.deepEqual(client.pauseCalls.at(-1), { call: "resume", partitions: ["orders[0]"] });
  assert.deepEqual(consumer.stats().paused, []);
  polls.open();
  await kafka.close();
});

test("a driver whose resume throws (a client closing) is logged, and nothing goes unhandled", { timeout: 10_000 }, async () => {
  const driver = new FakeDriver();
  const warned = gate();
  const warnings: string[] = [];
  const logger = {
    warn(message: string, fields?: unknown) {
      warnings.push(`${message} ${JSON.stringify(fields)}`);
      if (message.includes("could not resume")) warned.open();
    },
    error() {},
  };
  const kafka = createRegistry({ driver, logger });
  const release = gate();
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => release.wait);
  await consumer.start();
  const client = driver.consumerClients[0]!;
  client.events.onAssign([at(0)]);
  client.resume = () => {
    throw new Error("Local: Erroneous state (the client is closing)");
  };
  client.inbox.push(record(0, 0), record(0, 1)); // the topic's bound: it pauses
  release.open();
  await warned.wait;
  assert.ok(warnings.some((line) => /could not resume a drained topic.*client is closing/.test(line)), warnings.join("\n"));
  await kafka.close();
});

/** Resolves at the client's next `call`. */
function nextCall(client: FakeConsumer, call: "pause" | "resume"): Promise<void> {
  const called = gate();
  const original = client[call];
  client[call] = (partitions) => {
    client[call] = original;
    original(partitions);
    called.open();
  };
  return called.wait;
}
