// kshare against a real Kafka-protocol broker: librdkafka's mock cluster,
// in-process, over real loopback sockets, with kcat as an independent client.
// The registry uses the runtime's default driver (Confluent on Node, FFI on Deno and Bun).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type ConsumedMessage, createRegistry, defineTopic, ValidationError } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, gate, kcat, kcatRead, kcatWrite, quietLogger } from "./_helpers.ts";

// No initial rebalance delay: each test joins fresh groups, and waiting 3 s per group proves nothing here.
const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
// After a member leaves, the mock coordinator holds the rebalance for the session timeout
// minus one second (a real broker completes it at once), so sessions are kept short here.
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 } };
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const kafka = createRegistry({ logger });
after(async () => {
  await kafka.close();
  await broker.stop();
});

const Order = v.object({ id: v.string(), n: v.number() });
let topicSeq = 0;
/** A fresh topic per test, created on the broker with 3 partitions. */
function topic(prefix: string, consumer?: { maxBufferedMessages: number }) {
  const name = `${prefix}-${++topicSeq}`;
  broker.createTopic(name, 3);
  return defineTopic({ name, schema: Order, key: (o) => o.id, consumer });
}

test("100 concurrent producer() calls create one client; 1,000 publishes open no further connection", async () => {
  const t = topic("shared");
  const handles = await Promise.all(Array.from({ length: 100 }, () => kafka.producer(ctx)));
  assert.equal(new Set(handles).size, 1);
  const producer = handles[0]!;
  await producer.ping();
  // Warm up: one record to every partition, so the producer is connected to every leader.
  await Promise.all([0, 1, 2].map((partition) => producer.publish(t, { id: "warm", n: -1 }, { partition })));
  const connectionsAfterWarmUp = broker.connectionsOpened();
  const reports = await Promise.all(Array.from({ length: 1000 }, (_, i) => producer.publish(t, { id: `o-${i}`, n: i })));
  assert.equal(reports.length, 1000);
  assert.equal(broker.connectionsOpened(), connectionsAfterWarmUp, "publishing opened a broker connection");
  const stats = kafka.stats().contexts[producer.fingerprint]!;
  assert.equal(stats.clientsCreated, 1);
  assert.equal(stats.liveProducers, 1);
  assert.ok(stats.handlesReused >= 99);
  assert.equal(kafka.stats().driver?.librdkafkaVersion.split(".")[0], "2");
});

test("bootstrap servers in another order share the client; another isolation label gets its own", async () => {
  const t = topic("isolation");
  const first = await kafka.producer(ctx);
  const reordered = await kafka.producer({ ...ctx, bootstrapServers: broker.bootstrapServers.split(",").reverse().join(", ") });
  assert.equal(reordered, first);
  const before = broker.connectionsOpened();
  const isolated = await kafka.producer({ ...ctx, isolation: "payments" });
  assert.notEqual(isolated, first);
  assert.notEqual(isolated.fingerprint, first.fingerprint);
  await isolated.publish(t, { id: "a", n: 1 });
  assert.ok(broker.connectionsOpened() > before, "the isolated client has connections of its own");
  assert.equal(kafka.stats().contexts[isolated.fingerprint]!.clientsCreated, 1);
});

test("kcat reads all 1,000 published messages with keys and headers intact", async () => {
  const t = topic("kcat-read");
  const producer = await kafka.producer(ctx);
  await producer.publishBatch(
    t,
    Array.from({ length: 1000 }, (_, i) => ({ value: { id: `o-${i}`, n: i }, headers: { "x-seq": String(i), "x-src": "kshare" } })),
  );
  const records = await kcatRead(broker.bootstrapServers, t.name);
  assert.equal(records.length, 1000);
  const seen = new Set<number>();
  for (const r of records) {
    const value = JSON.parse(r.payload!) as { id: string; n: number };
    assert.equal(r.key, value.id);
    assert.deepEqual(r.headers, ["x-seq", String(value.n), "x-src", "kshare"]);
    seen.add(value.n);
  }
  assert.equal(seen.size, 1000);
});

test("an invalid value is rejected before sending, with the schema's issues", async () => {
  const t = topic("invalid");
  const producer = await kafka.producer(ctx);
  await assert.rejects(
    producer.publish(t, { id: "x", n: "not a number" } as unknown as v.InferInput<typeof Order>),
    (e: unknown) => e instanceof ValidationError && e.issues.length === 1 && e.issues[0]!.path?.[0]?.key === "n",
  );
  await producer.publish(t, { id: "ok", n: 1 });
  const records = await kcatRead(broker.bootstrapServers, t.name);
  assert.deepEqual(records.map((r) => r.key), ["ok"]);
});

test("one consumer with three topics is one client and one subscription; each handler gets only its own", async () => {
  const topics = [topic("three-a"), topic("three-b"), topic("three-c")];
  const consumer = kafka.consumer(ctx, "group-three");
  const received = topics.map(() => [] as string[]);
  const done = new Countdown();
  topics.forEach((t, i) =>
    consumer.subscribe(t, (m) => {
      received[i]!.push(`${m.topic}/${m.value.id}`);
      done.increment();
    })
  );
  await consumer.start();
  await consumer.start(); // idempotent
  const producer = await kafka.producer(ctx);
  await Promise.all(topics.flatMap((t) => Array.from({ length: 20 }, (_, i) => producer.publish(t, { id: `${t.name}-${i}`, n: i }))));
  await done.reached(60);
  topics.forEach((t, i) => {
    assert.equal(received[i]!.length, 20);
    assert.ok(received[i]!.every((r) => r.startsWith(`${t.name}/${t.name}-`)), `${t.name} got another topic's message`);
  });
  assert.equal(consumer.stats().subscriptions, 1);
  // The only member of its group owns every partition of each topic.
  assert.deepEqual(consumer.stats().assigned, Object.fromEntries(topics.map((t) => [t.name, [0, 1, 2]])));
  assert.equal(kafka.stats().contexts[consumer.fingerprint]!.liveConsumers, 1);
  // Two topics added after start, in the same tick: one re-subscription, and their messages flow.
  const later = [topic("three-d"), topic("three-e")];
  const laterDone = new Countdown();
  for (const t of later) consumer.subscribe(t, () => laterDone.increment());
  await Promise.all(later.map((t) => producer.publish(t, { id: `${t.name}-0`, n: 0 })));
  await laterDone.reached(2);
  assert.equal(consumer.stats().subscriptions, 2);
  assert.equal(kafka.stats().contexts[consumer.fingerprint]!.clientsCreated, 2, "one producer and one consumer in this context");
  await consumer.close();
  assert.equal(kafka.stats().contexts[consumer.fingerprint]!.liveConsumers, 0);
});

test("backpressure: a slow topic never buffers more than maxBufferedMessages while another keeps flowing", async () => {
  const slow = topic("slow", { maxBufferedMessages: 10 });
  const fast = topic("fast");
  const producer = await kafka.producer(ctx);
  await producer.publishBatch(slow, Array.from({ length: 60 }, (_, i) => ({ value: { id: `s-${i}`, n: i } })));
  const consumer = kafka.consumer(ctx, "group-backpressure");
  const release = gate();
  const slowDone = new Countdown();
  const fastDone = new Countdown();
  const slowStarted = new Countdown();
  consumer.subscribe(slow, async () => {
    slowStarted.increment();
    await release.wait;
    slowDone.increment();
  });
  consumer.subscribe(fast, () => fastDone.increment());
  await consumer.start();
  // The slow topic fills up (its handlers are blocked), then fast records are published and must all arrive.
  await slowStarted.reached(1);
  await producer.publishBatch(fast, Array.from({ length: 200 }, (_, i) => ({ value: { id: `f-${i}`, n: i } })));
  await fastDone.reached(200);
  const stats = consumer.stats();
  assert.equal(slowDone.count, 0);
  assert.ok(stats.peakBuffered[slow.name]! <= 10, `buffered ${stats.peakBuffered[slow.name]}`);
  assert.equal(stats.buffered[slow.name], 10);
  assert.deepEqual(stats.paused, [slow.name]);
  release.open();
  await slowDone.reached(60);
  assert.ok(consumer.stats().peakBuffered[slow.name]! <= 10);
  await consumer.close();
});

test("every message kcat writes reaches its handler exactly once per group", async () => {
  const t = topic("kcat-write");
  const lines = Array.from({ length: 300 }, (_, i) => `k-${i}:${JSON.stringify({ id: `k-${i}`, n: i })}`);
  await kcatWrite(broker.bootstrapServers, t.name, lines);
  const groups = ["group-one", "group-two"].map((group) => {
    const seen: number[] = [];
    const done = new Countdown();
    const consumer = kafka.consumer(ctx, group).subscribe(t, (m) => {
      assert.equal(m.key, m.value.id);
      seen.push(m.value.n);
      done.increment();
    });
    return { consumer, seen, done };
  });
  await Promise.all(groups.map((g) => g.consumer.start()));
  await Promise.all(groups.map((g) => g.done.reached(300)));
  await Promise.all(groups.map((g) => g.consumer.close()));
  for (const g of groups) {
    assert.equal(g.seen.length, 300);
    assert.equal(new Set(g.seen).size, 300);
  }
});

// Two processes' worth of one group: two registries, each with its shared consumer. The second joins
// while records flow; with either assignment protocol every record is handled, and after the join
// both members handle records (kshare's consumer applies eager and incremental assignments alike).
for (const strategy of ["range", "cooperative-sticky"]) {
  test(`a second member of the group (${strategy}) takes partitions over; every record kcat writes is handled`, { timeout: 30_000 }, async () => {
    const t = topic(`pair-${strategy}`);
    const memberCtx = { ...ctx, consumer: { ...ctx.consumer, "partition.assignment.strategy": strategy } };
    const handled = [new Set<number>(), new Set<number>()];
    const done = new Countdown();
    const member = (registry: ReturnType<typeof createRegistry>, index: number) =>
      registry.consumer(memberCtx, `pair-${strategy}`).subscribe(t, (m) => {
        if (!handled[0]!.has(m.value.n) && !handled[1]!.has(m.value.n)) done.increment();
        handled[index]!.add(m.value.n);
      });
    let written = 0;
    const write = async (count: number) => {
      const from = written;
      written += count;
      await kcatWrite(
        broker.bootstrapServers,
        t.name,
        Array.from({ length: count }, (_, i) => `k-${from + i}:${JSON.stringify({ id: `k-${from + i}`, n: from + i })}`),
      );
      await done.reached(written);
    };
    // Both members in registries of their own, closed at the end: a member left running would take
    // request errors other tests push to the broker (its heartbeats).
    const one = createRegistry({ logger });
    const other = createRegistry({ logger });
    try {
      await member(one, 0).start();
      await write(30);
      assert.equal(handled[1]!.size, 0);
      await member(other, 1).start();
      // Rounds of records until the second member handled some: it then owns partitions.
      for (let round = 0; handled[1]!.size === 0; round++) {
        assert.ok(round < 100, "the second member never handled a record");
        await write(30);
      }
      const firstBefore = handled[0]!.size;
      const secondBefore = handled[1]!.size;
      await write(60);
      const all = new Set([...handled[0]!, ...handled[1]!]);
      assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: written }, (_, i) => i));
      assert.ok(handled[0]!.size > firstBefore, "the first member still handles records after the join");
      assert.ok(handled[1]!.size > secondBefore, "and so does the second");
    } finally {
      await Promise.all([one.close(), other.close()]);
    }
  });
}

test("a backlog does not starve the event loop: a timer set at the first message fires before the last is handled", async () => {
  const t = topic("backlog");
  const total = 20_000;
  await kcatWrite(broker.bootstrapServers, t.name, Array.from({ length: total }, (_, i) => `k-${i % 100}:${JSON.stringify({ id: `k-${i % 100}`, n: i })}`));
  let handled = 0;
  let handledWhenTimerFired = -1;
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, "backlog-group").subscribe(t, () => {
    if (handled++ === 0) setTimeout(() => (handledWhenTimerFired = handled), 0);
    done.increment();
  });
  await consumer.start();
  await done.reached(total);
  await consumer.close();
  assert.ok(handledWhenTimerFired > 0, "the timer fired");
  assert.ok(handledWhenTimerFired < total, `the timer fired only after all ${total} messages were handled`);
});

// A few seconds: the fatal error waits for a heartbeat, and the new member's join for the mock coordinator's rebalance delay.
test("a consumer fenced by the broker (a fatal error) is replaced by a new member and goes on consuming", { timeout: 30_000 }, async () => {
  const t = topic("fenced");
  const replaced = gate();
  const lines: string[] = [];
  const record = (level: string) => (message: string, fields?: unknown) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
    if (/a new member replaces it/.test(message)) replaced.open();
  };
  const own = createRegistry({ logger: { warn: record("warn"), error: record("error") } });
  const seen = new Set<number>();
  const done = new Countdown();
  const consumer = own.consumer(ctx, "fenced-group").subscribe(t, (m) => {
    seen.add(m.value.n);
    done.increment();
  });
  let stats;
  try {
    await consumer.start();
    const write = (from: number, to: number) =>
      kcatWrite(
        broker.bootstrapServers,
        t.name,
        Array.from({ length: to - from }, (_, i) => `k-${from + i}:${JSON.stringify({ id: `k-${from + i}`, n: from + i })}`),
      );
    await write(0, 10);
    await done.reached(10);
    // The coordinator answers the next heartbeat with FENCED_INSTANCE_ID, fatal for librdkafka: this member's,
    // as long as it is the only member on the broker (every other test closes its consumers).
    broker.pushRequestErrors(12, /* Heartbeat */ [82 /* FENCED_INSTANCE_ID */]);
    await replaced.wait;
    await write(10, 20);
    while (seen.size < 20) await done.reached(done.count + 1);
    stats = Object.values(own.stats().contexts)[0]!;
  } finally {
    await own.close(); // also when the test fails: a member left running would outlive the test file
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(stats.clientsCreated, 2, lines.join("\n"));
  assert.equal(stats.liveConsumers, 1);
  assert.ok(lines.some((l) => /^error kshare: consumer hit a fatal error/.test(l)), lines.join("\n"));
});

test("bytes a handler keeps stay its own: 3,000 raw values, held until the end, each still reads as written", async () => {
  // A deserializer that hands the handler the fetched bytes themselves (drivers may copy them into shared slabs).
  const name = `raw-bytes-${++topicSeq}`;
  broker.createTopic(name, 3);
  const raw = defineTopic({
    name,
    schema: v.instance(Uint8Array),
    serializer: { serialize: (bytes) => bytes as Uint8Array, deserialize: (bytes) => bytes },
  });
  const total = 3_000;
  // Values of 8 to 160 bytes: every length modulo 4, and either side of 128 (word-by-word and bulk copies in the Bun shim).
  await kcatWrite(broker.bootstrapServers, name, Array.from({ length: total }, (_, i) => `k-${i % 7}:value-${i}-${"x".repeat((i * 3) % 150)}`));
  const kept: Uint8Array[] = [];
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, "raw-bytes-group").subscribe(raw, (m) => {
    kept.push(m.value);
    done.increment();
  });
  await consumer.start();
  await done.reached(total);
  await consumer.close();
  const texts = kept.map((bytes) => new TextDecoder().decode(bytes)).sort();
  const expected = Array.from({ length: total }, (_, i) => `value-${i}-${"x".repeat((i * 3) % 150)}`).sort();
  assert.deepEqual(texts, expected);
});

test("an invalid message goes to onInvalid and the loop goes on", async () => {
  const t = topic("poison");
  await kcatWrite(broker.bootstrapServers, t.name, ["a:not json", 'b:{"id":"b","n":"x"}', 'c:{"id":"c","n":3}']);
  const invalid: string[] = [];
  const done = new Countdown();
  const valid: string[] = [];
  const consumer = kafka.consumer(ctx, "group-poison").subscribe(t, (m) => {
    valid.push(m.value.id);
    done.increment();
  }, {
    onInvalid: (m) => {
      // The record as fetched comes along, so it could be set aside unchanged (a dead-letter topic).
      invalid.push(`${m.key}:${m.error.name}:${new TextDecoder().decode(m.raw.value!)}`);
      done.increment();
    },
  });
  await consumer.start();
  await done.reached(3);
  await consumer.close();
  assert.deepEqual(valid, ["c"]);
  assert.deepEqual(invalid.sort(), ["a:SyntaxError:not json", 'b:ValidationError:{"id":"b","n":"x"}']);
});

test("a handler gets the record as fetched in raw: binary keys and header values, repeated header names, in order", async () => {
  const t = topic("raw-record");
  // kcat writes a key that is not UTF-8 and the same header name twice.
  const binaryKey = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0xff, 0x00, 0x80);
  const line = new Uint8Array([...binaryKey, ...new TextEncoder().encode(':{"id":"k","n":1}\n')]);
  await kcat(["-b", broker.bootstrapServers, "-P", "-t", t.name, "-K", ":", "-H", "trace=first", "-H", "trace=second"], line);
  // kshare writes a header value that is not UTF-8.
  const binaryHeader = Uint8Array.of(0x00, 0xff, 0xc3, 0x28);
  const producer = await kafka.producer(ctx);
  await producer.publish(t, { id: "p", n: 2 }, { key: "p", headers: { bin: binaryHeader } });

  const seen = new Map<string, ConsumedMessage<v.InferOutput<typeof Order>>>();
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, "group-raw").subscribe(t, (m) => {
    seen.set(m.value.id, m);
    done.increment();
  });
  await consumer.start();
  await done.reached(2);
  await consumer.close();

  const fromKcat = seen.get("k")!;
  assert.deepEqual([...fromKcat.raw.key!], [...binaryKey]);
  assert.ok(fromKcat.key!.includes("\uFFFD"), "the text view of a key that is not UTF-8 is lossy; raw is not");
  assert.deepEqual(fromKcat.raw.headers.map(([name, value]) => [name, new TextDecoder().decode(value)]), [["trace", "first"], ["trace", "second"]]);
  assert.deepEqual(fromKcat.headers, { trace: "second" });
  assert.equal(new TextDecoder().decode(fromKcat.raw.value!), '{"id":"k","n":1}');

  const fromKshare = seen.get("p")!;
  assert.deepEqual(fromKshare.raw.headers.map(([name, value]) => [name, [...value]]), [["bin", [...binaryHeader]]]);
  assert.deepEqual([...fromKshare.raw.key!], [...new TextEncoder().encode("p")]);
});

test("an invalid record set aside from onInvalid's raw goes out unchanged: key bytes, value, every header in order", async () => {
  const t = topic("dead-letter-source");
  const deadLetters = defineTopic({
    name: `dead-letters-${++topicSeq}`,
    schema: v.nullable(v.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes")),
    serializer: { serialize: (bytes) => bytes as Uint8Array, deserialize: (bytes) => bytes },
  });
  broker.createTopic(deadLetters.name, 1);
  const line = new Uint8Array([0xfe, 0x01, 0x3b, ...new TextEncoder().encode(":not json\n")]);
  await kcat(["-b", broker.bootstrapServers, "-P", "-t", t.name, "-K", ":", "-H", "trace=first", "-H", "trace=second"], line);
  const producer = await kafka.producer(ctx);
  const forwarded = gate();
  const consumer = kafka.consumer(ctx, "group-dead-letters").subscribe(t, () => {}, {
    onInvalid: async ({ raw }) => {
      await producer.publish(deadLetters, raw.value, { key: raw.key, headers: raw.headers });
      forwarded.open();
    },
  });
  await consumer.start();
  await forwarded.wait;
  await consumer.close();
  // kcat prints the key's length in bytes, the headers in order, and the value.
  const out = await kcat(["-b", broker.bootstrapServers, "-C", "-t", deadLetters.name, "-o", "beginning", "-e", "-q", "-f", "%K|%h|%s\n"]);
  assert.equal(out, "3|trace=first,trace=second|not json\n");
});

test("a failing handler is retried, then onError; offsets are committed only after success", async () => {
  const t = topic("retry");
  const producer = await kafka.producer(ctx);
  await producer.publish(t, { id: "flaky", n: 1 }, { partition: 0 });
  await producer.publish(t, { id: "broken", n: 2 }, { partition: 0 });
  const attempts = new Map<string, number>();
  const failed: string[] = [];
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, "group-retry").subscribe(t, (m) => {
    const n = (attempts.get(m.value.id) ?? 0) + 1;
    attempts.set(m.value.id, n);
    if (m.value.id === "broken" || n < 3) throw new Error(`attempt ${n} failed`);
    done.increment();
  }, {
    retries: 2,
    retryBackoffMs: 1,
    onError: (error, m) => {
      failed.push(`${(m.value as { id: string }).id}: ${(error as Error).message}`);
      done.increment();
    },
  });
  await consumer.start();
  await done.reached(2);
  await consumer.close();
  assert.deepEqual(Object.fromEntries(attempts), { flaky: 3, broken: 3 });
  assert.deepEqual(failed, ["broken: attempt 3 failed"]);
});

test("offsets are committed only after the handler succeeded: a restarted member resumes at the first unfinished message", async () => {
  const t = topic("commit");
  const producer = await kafka.producer(ctx);
  await producer.publishBatch(t, Array.from({ length: 10 }, (_, n) => ({ value: { id: `m-${n}`, n }, partition: 0 })));
  // First member: handles 0..4, then hangs on 5 and is closed (bounded wait) before it finishes.
  const first = createRegistry({ logger: quietLogger(), closeTimeoutMs: 50 });
  const handled = new Countdown();
  const hang = gate();
  first.consumer(ctx, "group-commit").subscribe(t, async (m) => {
    if (m.value.n === 5) {
      handled.increment();
      await hang.wait;
    }
    handled.increment();
  });
  await first.consumer(ctx, "group-commit").start();
  await handled.reached(6);
  await first.close();
  hang.open();
  // Second member of the same group: starts at 5, the first message not finished.
  const seen: number[] = [];
  const rest = new Countdown();
  const second = kafka.consumer(ctx, "group-commit").subscribe(t, (m) => {
    seen.push(m.value.n);
    rest.increment();
  });
  await second.start();
  await rest.reached(5);
  await second.close();
  assert.deepEqual(seen, [5, 6, 7, 8, 9]);
});

test("registry.close() during publishing loses no acknowledged message", async () => {
  const t = topic("close");
  const own = createRegistry({ logger: quietLogger() });
  const producer = await own.producer(ctx);
  const acknowledged: Array<{ partition: number; offset: number; n: number }> = [];
  const firstAcks = new Countdown();
  const publishes = Array.from({ length: 3000 }, (_, n) =>
    producer.publish(t, { id: `c-${n}`, n }).then((r) => {
      acknowledged.push({ partition: r.partition, offset: r.offset, n });
      firstAcks.increment();
    }, () => {}));
  await firstAcks.reached(1);
  await own.close();
  await Promise.all(publishes);
  assert.ok(acknowledged.length > 0);
  const stored = new Map((await kcatRead(broker.bootstrapServers, t.name)).map((r) => [`${r.partition}/${r.offset}`, r]));
  for (const ack of acknowledged) {
    const record = stored.get(`${ack.partition}/${ack.offset}`);
    assert.ok(record, `acknowledged ${ack.partition}/${ack.offset} is missing`);
    assert.equal(JSON.parse(record.payload!).n, ack.n);
  }
});
