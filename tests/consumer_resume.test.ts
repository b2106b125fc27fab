// A topic that drained after its bound paused it is fetched again at once. librdkafka's resume
// only clears the partition's pause: the leader's broker thread, idle while all it fetched for
// was paused, would notice on its next wakeup, up to 1 s later, so a consumer with a backlog
// and a handler that awaits something handled about maxBufferedMessages / 2 records a second.
// The driver wakes that thread with a request queued for the leader (a watermark query it does
// not wait for): seen here as the consumer's ListOffsets requests after a resume. How much
// faster that consumes is measured in bench/, not here.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, gate, kcatWrite, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
after(() => broker.stop());

/** Kafka ApiKey of ListOffsets. */
const LIST_OFFSETS = 2;

test("after a paused topic resumes, its partition's leader is woken with a request (ListOffsets) instead of waiting up to 1 s", {
  timeout: 60_000,
}, async () => {
  const name = "resume-wake";
  broker.createTopic(name, 1);
  const topic = defineTopic({ name, schema: v.object({ n: v.number() }), consumer: { maxBufferedMessages: 4 } });
  await kcatWrite(broker.bootstrapServers, name, Array.from({ length: 12 }, (_, n) => `${n}:${JSON.stringify({ n })}`));
  const kafka = createRegistry({ logger: quietLogger() });
  const consumer = kafka.consumer({ bootstrapServers: broker.bootstrapServers }, "resume-wake");
  const first = gate();
  const paused = gate();
  const handled = new Countdown();
  consumer.subscribe(topic, async () => {
    if (handled.count === 0) {
      first.open();
      await paused.wait;
    }
    handled.increment();
  });
  await consumer.start();
  await first.wait;
  // The partition's offset was looked up before its first record came: what follows is the resume's.
  broker.clearRequests();
  // No event tells that the bound was reached: the consumer's stats do, read until they say it.
  while (consumer.stats().paused.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  paused.open();
  await handled.reached(12);
  const wakes = broker.requests().filter((request) => request.apiKey === LIST_OFFSETS).length;
  await kafka.close();
  assert.ok(wakes >= 1, `no ListOffsets request after the topic resumed (${broker.requests().length} requests recorded)`);
});
