/**
 * The embedded broker against a real, independent client (kcat) over real
 * sockets. Uses only `node:test`, `node:assert` and `node:child_process`, so
 * the same file runs on the three runtimes:
 *
 *   node --import tsx --test tests/embedded_broker.test.ts
 *   npx deno test -A tests/embedded_broker.test.ts
 *   npx bun test tests/embedded_broker.test.ts
 */
import { test } from "node:test";
import { runKcat as kcat } from "./_helpers.ts";
import assert from "node:assert/strict";
import { startEmbeddedBroker } from "../src/embedded_broker.ts";

test("kcat produces to and consumes from the embedded broker", async () => {
  const kafka = await startEmbeddedBroker();
  try {
    assert.deepEqual(kafka.brokerIds, [1, 2, 3]);
    assert.match(kafka.bootstrapServers, /^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/);
    kafka.createTopic("t1", 3);

    const metadata = await kcat(["-b", kafka.bootstrapServers, "-L", "-J", "-t", "t1"]);
    assert.equal(metadata.code, 0, metadata.stderr);
    const listed = JSON.parse(metadata.stdout) as {
      brokers: { id: number }[];
      topics: { topic: string; partitions: unknown[] }[];
    };
    assert.deepEqual(listed.brokers.map((b) => b.id).sort(), [1, 2, 3]);
    assert.equal(listed.topics[0]?.topic, "t1");
    assert.equal(listed.topics[0]?.partitions.length, 3);

    const produced = await kcat(["-b", kafka.bootstrapServers, "-P", "-t", "t1", "-K", ":"], "k1:one\nk2:two\nk3:three\n");
    assert.equal(produced.code, 0, produced.stderr);

    const consumed = await kcat([
      "-b",
      kafka.bootstrapServers,
      "-C",
      "-t",
      "t1",
      "-e",
      "-o",
      "beginning",
      "-q",
      "-f",
      "%k=%s\n",
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split("\n").sort(), ["k1=one", "k2=two", "k3=three"]);
  } finally {
    await kafka.stop();
  }
});

test("connectionsOpened counts kcat's connections", async () => {
  const kafka = await startEmbeddedBroker({ brokers: 1 });
  try {
    kafka.startRequestTracking();
    assert.equal(kafka.connectionsOpened(), 0);

    const first = await kcat(["-b", kafka.bootstrapServers, "-L"]);
    assert.equal(first.code, 0, first.stderr);
    const afterFirst = kafka.connectionsOpened();
    assert.ok(afterFirst >= 1, `expected a connection, saw ${afterFirst}`);

    const second = await kcat(["-b", kafka.bootstrapServers, "-L"]);
    assert.equal(second.code, 0, second.stderr);
    assert.ok(kafka.connectionsOpened() > afterFirst);

    const requests = kafka.requests();
    assert.ok(requests.every((r) => r.brokerId === 1));
    assert.ok(requests.some((r) => r.apiKey === 3), "kcat -L sends Metadata (ApiKey 3)");

    kafka.clearRequests();
    assert.deepEqual(kafka.requests(), []);
    assert.equal(kafka.connectionsOpened(), 0);
  } finally {
    await kafka.stop();
  }
});

test("pushed request errors reach the client", async () => {
  const kafka = await startEmbeddedBroker({ brokers: 1 });
  try {
    kafka.createTopic("t2", 1);
    // Every Produce attempt (kcat retries) fails with TOPIC_AUTHORIZATION_FAILED (29), not retriable.
    kafka.pushRequestErrors(0, [29, 29, 29, 29, 29]);
    const produced = await kcat(["-b", kafka.bootstrapServers, "-P", "-t", "t2"], "denied\n");
    assert.match(produced.stderr, /authoriz/i);
  } finally {
    await kafka.stop();
  }
});

test("createTopic and broker control report bad input", async () => {
  const kafka = await startEmbeddedBroker({ brokers: 2 });
  try {
    kafka.createTopic("dup", 1);
    assert.throws(() => kafka.createTopic("dup", 1), /"dup".*already exists/);
    assert.throws(() => kafka.createTopic("zero", 0), /"zero"/);
    assert.throws(() => kafka.brokerDown(7), /unknown broker id 7/);
    kafka.setRtt(-1, 0);
    kafka.brokerDown(2);
    kafka.brokerUp(2);
  } finally {
    await kafka.stop();
  }
});

test("setAdvertisedAddress: Metadata names the broker there; bad input is refused", async () => {
  const kafka = await startEmbeddedBroker({ brokers: 2 });
  try {
    kafka.setAdvertisedAddress(2, "kafka-2.test", 19093);
    const first = kafka.bootstrapServers.split(",")[0]!;
    const metadata = await kcat(["-b", first, "-L", "-J"]);
    assert.equal(metadata.code, 0, metadata.stderr);
    const { brokers } = JSON.parse(metadata.stdout) as { brokers: Array<{ id: number; name: string }> };
    assert.deepEqual(brokers.sort((a, b) => a.id - b.id), [{ id: 1, name: first }, { id: 2, name: "kafka-2.test:19093" }]);

    assert.throws(() => kafka.setAdvertisedAddress(3, "localhost", 9093), /unknown broker id 3/);
    assert.throws(() => kafka.setAdvertisedAddress(1, " ", 9093), /broker 1: host must be a non-empty string/);
    assert.throws(() => kafka.setAdvertisedAddress(1, "localhost", 70000), /broker 1: port must be an integer in 1\.\.65535, got 70000/);
  } finally {
    await kafka.stop();
  }
});

test("stop is idempotent and ends the cluster", async () => {
  const kafka = await startEmbeddedBroker({ brokers: 1 });
  const { bootstrapServers } = kafka;
  await Promise.all([kafka.stop(), kafka.stop()]);
  await kafka.stop();
  await kafka[Symbol.asyncDispose]();
  assert.throws(() => kafka.createTopic("late", 1), /stopped/);
  assert.throws(() => kafka.requests(), /stopped/);

  // Nothing listens any more: kcat cannot fetch metadata.
  const after = await kcat(["-b", bootstrapServers, "-L", "-m", "2"]);
  assert.notEqual(after.code, 0);
});
