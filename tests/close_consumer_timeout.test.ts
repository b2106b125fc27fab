// registry.close() keeps its bound when a broker never answers: the consumer's leaving its
// group (librdkafka's consumer close) is bounded by closeTimeoutMs on every driver, and the
// registry says it gave up waiting rather than hanging. Against the embedded broker, whose
// brokers are made to hold every response (setRtt) once the member is in its group.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { gate, kcat, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());
// The mock coordinator holds a rebalance after a member left for the session timeout minus 1 s: short sessions.
// socket.timeout.ms: how long librdkafka itself waits for the held requests; Bun destroys a client on its JavaScript
// thread, which then waits that long however short the close bound is (the FFI driver documents it).
const ctx = {
  bootstrapServers: broker.bootstrapServers,
  consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500, "socket.timeout.ms": 10_000 },
};
const topic = defineTopic({ name: "close-timeout", schema: v.object({ id: v.string() }) });
broker.createTopic(topic.name, 1);

// The guard is the test's own timeout: before the bound, the Confluent client's close waited for the
// unanswered LeaveGroup forever and the FFI driver's for 60 s, whatever closeTimeoutMs said.
test("registry.close() settles within closeTimeoutMs while the group coordinator never answers; the consumer's close is reported as timed out", {
  timeout: 45_000,
}, async () => {
  const logger = quietLogger();
  const kafka = createRegistry({ logger, closeTimeoutMs: 1_000 });
  const handled = gate();
  kafka.consumer(ctx, "close-timeout").subscribe(topic, () => handled.open());
  await kcat(["-b", broker.bootstrapServers, "-P", "-t", topic.name], JSON.stringify({ id: "a" }) + "\n");
  await kafka.consumer(ctx, "close-timeout").start();
  await handled.wait; // a member of the group, its partition assigned

  broker.setRtt(-1, 3_600_000); // every broker holds every response for an hour
  try {
    await kafka.close();
    const failure = logger.lines.find((line) => line.startsWith("warn kshare: closing a consumer failed"));
    assert.ok(failure, logger.lines.join("\n"));
    assert.match(failure, /"group":"close-timeout".*did not finish within 1000 ms/);
    const stats = Object.values(kafka.stats().contexts);
    assert.deepEqual(stats.map((s) => s.liveConsumers), stats.map(() => 0));
  } finally {
    broker.setRtt(-1, 0); // the abandoned close can finish and free its client
  }
});
