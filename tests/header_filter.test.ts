// Consumer header filters against a real Kafka-protocol broker (librdkafka's mock cluster,
// in-process), records written by kcat with -H: a record whose headers do not match is never
// decoded, validated or handled, and the group's committed offset passes it (a new member of the
// group, without a filter, starts after it).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, kcat, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());
// The mock coordinator holds a rebalance after a member left for the session timeout minus 1 s: short sessions.
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 } };
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();

const Item = v.object({ id: v.string() });
let topicSeq = 0;
/** A fresh topic of one partition: one ordered stream of offsets. */
function topic(prefix: string) {
  const name = `filter-${prefix}-${++topicSeq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Item });
}

/** Write one record with kcat: `payload` as is, each of `headers` as `-H name=value`. */
function write(topicName: string, payload: string, headers: readonly string[]): Promise<string> {
  return kcat(["-b", broker.bootstrapServers, "-P", "-t", topicName, ...headers.flatMap((h) => ["-H", h])], payload + "\n");
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A record no handler may see: its value is not even JSON, so decoding it would report it invalid. */
const NOT_JSON = "this is not json";

/**
 * After `group` closed: a new member of the group without a filter sees only a marker written
 * now, so the committed offset passed every earlier record (with nothing committed past them it
 * would start at them: auto.offset.reset=earliest).
 */
async function assertCommittedPastAll(topicName: string, group: string): Promise<void> {
  await write(topicName, "marker", []);
  const next = createRegistry({ logger });
  try {
    const seen: string[] = [];
    const marker = new Countdown();
    // Every record as its text, JSON or not: nothing it reads goes to onInvalid instead.
    const raw = defineTopic({
      name: topicName,
      schema: v.string(),
      serializer: { serialize: (s) => utf8.encode(s as string), deserialize: (b) => fromUtf8.decode(b) },
    });
    next.consumer(ctx, group).subscribe(raw, (m) => {
      seen.push(m.value);
      if (m.value === "marker") marker.increment();
    });
    await next.consumer(ctx, group).start();
    await marker.reached(1);
    assert.deepEqual(seen, ["marker"]);
  } finally {
    await next.close();
  }
}

test("a header map: only records whose last header of each name matches (text or pattern) are decoded and handled", { timeout: 60_000 }, async () => {
  const t = topic("map");
  await write(t.name, NOT_JSON, ["tenant=beta", "region=eu-west"]); // wrong tenant
  await write(t.name, JSON.stringify({ id: "a" }), ["tenant=acme", "region=eu-west"]);
  await write(t.name, NOT_JSON, ["tenant=acme"]); // no region
  await write(t.name, NOT_JSON, ["tenant=acme", "region=us-east"]); // region does not match
  await write(t.name, NOT_JSON, ["tenant=acmeX", "region=eu-north"]); // text is exact, not a prefix
  await write(t.name, NOT_JSON, ["tenant=acme", "tenant=beta", "region=eu-north"]); // the last tenant counts
  await write(t.name, JSON.stringify({ id: "b" }), ["tenant=beta", "tenant=acme", "region=eu-north"]);

  const group = "filter-map";
  const kafka = createRegistry({ logger });
  const handled: string[] = [];
  const invalid: number[] = [];
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, group).subscribe(t, (m) => {
    handled.push(m.value.id);
    done.increment();
  }, { headerFilter: { tenant: "acme", region: /^eu-/g }, onInvalid: (m) => void invalid.push(m.offset) });
  await consumer.start();
  await done.reached(2); // "b" is the last record: every one before it was judged, in order
  assert.deepEqual(handled, ["a", "b"]);
  assert.deepEqual(invalid, []);
  assert.deepEqual(consumer.stats().filtered, { [t.name]: 5 });
  await kafka.close();
  await assertCommittedPastAll(t.name, group);
});

test("a predicate over the raw headers: records it refuses, the last ones included, are committed and never handled; one that throws lets the record through", {
  timeout: 60_000,
}, async () => {
  const t = topic("predicate");
  await write(t.name, JSON.stringify({ id: "keep-1" }), ["kind=keep"]);
  await write(t.name, NOT_JSON, ["kind=skip"]);
  await write(t.name, JSON.stringify({ id: "boom" }), ["kind=boom"]);
  await write(t.name, NOT_JSON, []);
  await write(t.name, NOT_JSON, ["kind=skip"]);

  const group = "filter-predicate";
  const lines = quietLogger();
  const kafka = createRegistry({ logger: lines });
  const handled: string[] = [];
  const invalid: number[] = [];
  const judged = new Countdown();
  const text = new TextDecoder();
  const consumer = kafka.consumer(ctx, group).subscribe(t, (m) => void handled.push(m.value.id), {
    headerFilter: (headers) => {
      judged.increment();
      const kind = headers.find(([name]) => name === "kind")?.[1];
      if (kind === undefined) return false;
      if (text.decode(kind) === "boom") throw new Error("filter bug");
      return text.decode(kind) === "keep";
    },
    onInvalid: (m) => void invalid.push(m.offset),
  });
  await consumer.start();
  // Judging a record and finishing it are one synchronous step: once the fifth was judged, it is done.
  await judged.reached(5);
  assert.deepEqual(handled, ["keep-1", "boom"]);
  assert.deepEqual(invalid, []);
  assert.deepEqual(consumer.stats().filtered, { [t.name]: 3 });
  assert.ok(lines.lines.some((line) => line.includes("headerFilter threw") && line.includes("filter bug") && line.includes('"offset":2')));
  await kafka.close();
  await assertCommittedPastAll(t.name, group);
});

test("subscribe refuses a header filter that is neither a predicate nor a map of names to text or patterns, naming the topic and header", () => {
  const kafka = createRegistry({ logger });
  const consumer = kafka.consumer(ctx, "filter-bad");
  const t = defineTopic({ name: "filter-bad", schema: Item });
  assert.throws(
    () => consumer.subscribe(t, () => {}, { headerFilter: 42 as never }),
    (e: Error) => e instanceof TypeError && e.message.includes('"filter-bad"') && e.message.includes("headerFilter"),
  );
  assert.throws(
    () => consumer.subscribe(t, () => {}, { headerFilter: { tenant: 5 } as never }),
    (e: Error) => e instanceof TypeError && e.message.includes('"tenant"'),
  );
  assert.deepEqual(consumer.stats().topics, []);
  return kafka.close();
});
