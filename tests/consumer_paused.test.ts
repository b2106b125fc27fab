// A consumer whose every topic is paused (backpressure) still serves its group:
// librdkafka runs rebalances and enforces max.poll.interval.ms inside poll, so a
// member that stops polling while a handler holds its topic's last free slot is
// evicted, and its records are handled again by the member that rejoins.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());

// librdkafka requires max.poll.interval.ms ≥ session.timeout.ms; the mock needs short sessions (see kafka.test.ts).
const MAX_POLL_INTERVAL_MS = 2000;
const ctx = {
  bootstrapServers: broker.bootstrapServers,
  consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 300, "max.poll.interval.ms": MAX_POLL_INTERVAL_MS },
};

test(
  "a member whose only topic is paused for longer than max.poll.interval.ms stays in its group: no eviction, no record handled twice",
  { timeout: 60_000 },
  async () => {
    const topic = defineTopic({ name: "paused-long", schema: v.object({ n: v.number() }), consumer: { maxBufferedMessages: 1 } });
    broker.createTopic(topic.name, 1);
    const logger = quietLogger();
    const kafka = createRegistry({ logger });
    try {
      const producer = await kafka.producer(ctx);
      await producer.publishBatch(topic, [0, 1, 2].map((n) => ({ value: { n }, partition: 0 })));
      const handled: number[] = [];
      const done = new Countdown();
      const consumer = kafka.consumer(ctx, "paused-long").subscribe(topic, async (m) => {
        // The first record holds the topic's only slot (the topic is paused) for twice the poll interval:
        // the scenario itself, a handler slower than max.poll.interval.ms, not a wait for an event.
        if (m.value.n === 0 && handled.length === 0) await new Promise((resolve) => setTimeout(resolve, 2 * MAX_POLL_INTERVAL_MS + 500));
        handled.push(m.value.n);
        done.increment();
      });
      await consumer.start();
      await done.reached(3);
      await consumer.close();
      assert.deepEqual(handled, [0, 1, 2], "each record handled once, in order");
      const evicted = logger.lines.filter((line) => /poll interval|max\.poll/i.test(line));
      assert.deepEqual(evicted, [], "librdkafka reported the member as not polling");
    } finally {
      await kafka.close();
    }
  },
);
