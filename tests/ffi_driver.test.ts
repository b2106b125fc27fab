/**
 * The FFI driver against the embedded broker, with kcat as an independent
 * client, over real sockets. Only `node:test`, `node:assert` and
 * `node:child_process`, so the same file runs on the three runtimes:
 *
 *   npx deno test -A tests/ffi_driver.test.ts
 *   npx bun test tests/ffi_driver.test.ts
 *   node --import tsx --test tests/ffi_driver.test.ts   (koffi)
 */
import { test } from "node:test";
import { runKcat as kcat } from "./_helpers.ts";
import assert from "node:assert/strict";
import type { ClientConfig, ConsumerClient, ConsumerConfig, ConsumerEvents, IncomingMessage, KafkaDriver, TopicPartition } from "../src/driver.ts";
import { ffiDriver } from "../src/drivers/ffi/driver.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "../src/embedded_broker.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array | null) => (bytes === null ? null : decoder.decode(bytes));

function producerConfig(kafka: EmbeddedBroker, extra: Record<string, string> = {}): ClientConfig {
  return { properties: { "bootstrap.servers": kafka.bootstrapServers, ...extra }, label: "test", secretProperties: [] };
}

function consumerConfig(kafka: EmbeddedBroker, groupId: string): ConsumerConfig {
  return {
    properties: {
      "bootstrap.servers": kafka.bootstrapServers,
      "group.id": groupId,
      "auto.offset.reset": "earliest",
      "enable.auto.offset.store": "false",
      // librdkafka's mock keeps a group whose last member left "joining" for
      // session.timeout.ms - 1 s before a new member may join (a real broker
      // empties it at once): keep that short for the tests that rejoin a group.
      "session.timeout.ms": "2000",
      "heartbeat.interval.ms": "500",
    },
    label: `test group=${groupId}`,
    secretProperties: [],
    groupId,
  };
}

/** Events that fail the test on a fatal error and record assignments. */
function consumerEvents(onAssign: (partitions: TopicPartition[]) => void = () => {}): ConsumerEvents & {
  errors: Error[];
} {
  const errors: Error[] = [];
  return {
    errors,
    onFatal: (error) => errors.push(error),
    onError: () => {}, // transient broker errors are librdkafka's to recover from
    onAssign,
    onRevoke: () => {},
  };
}

const producerEvents = { onFatal: (error: Error) => assert.fail(`unexpected fatal error: ${error.message}`) };

/**
 * Poll until `done(received)` holds. The bound on polls only turns a broken
 * driver into a failure instead of a hang; nothing here depends on timing.
 */
async function pollUntil(
  consumer: ConsumerClient,
  done: (received: IncomingMessage[]) => boolean,
  received: IncomingMessage[] = [],
): Promise<IncomingMessage[]> {
  for (let polls = 0; !done(received); polls++) {
    assert.ok(polls < 200, `gave up after ${polls} polls with ${received.length} messages`);
    received.push(...await consumer.poll(100, 250));
  }
  return received;
}

async function withSetup(
  fn: (kafka: EmbeddedBroker, driver: KafkaDriver) => Promise<void>,
  brokers = 1,
): Promise<void> {
  const kafka = await startEmbeddedBroker({ brokers, groupInitialRebalanceDelayMs: 0 });
  try {
    await fn(kafka, await ffiDriver());
  } finally {
    await kafka.stop();
  }
}

test("produce with key, headers and partition; kcat reads it back", () =>
  withSetup(async (kafka, driver) => {
    assert.match(driver.name, /^ffi-(deno|bun|node)$/);
    assert.match(driver.librdkafkaVersion, /^\d+\.\d+/);
    kafka.createTopic("orders", 3);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    try {
      const report = await producer.produce({
        topic: "orders",
        partition: 2,
        key: encoder.encode("order-1"),
        value: encoder.encode("total=42"),
        headers: [["source", encoder.encode("ffi")], ["trace", encoder.encode("abc")]],
        timestamp: 1_700_000_000_000,
      });
      assert.deepEqual({ topic: report.topic, partition: report.partition, offset: report.offset }, {
        topic: "orders",
        partition: 2,
        offset: 0,
      });
      // A tombstone (null value), partitioner-chosen partition.
      const tombstone = await producer.produce({ topic: "orders", key: encoder.encode("order-2"), value: null });
      assert.equal(tombstone.topic, "orders");
    } finally {
      await producer.close(5_000);
    }

    const read = await kcat([
      "-b",
      kafka.bootstrapServers,
      "-C",
      "-t",
      "orders",
      "-p",
      "2",
      "-o",
      "0",
      "-c",
      "1",
      "-q",
      "-f",
      "%p|%o|%k|%s|%h|%T\n",
    ]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, "2|0|order-1|total=42|source=ffi,trace=abc|1700000000000\n");
  }));

test("text keys and values go out as their UTF-8 bytes, an empty text as an empty value (not a tombstone)", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("texts", 1);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    try {
      await producer.produce({ topic: "texts", partition: 0, key: "clé-1", value: '{"total":"42 €","note":"ü𝄞"}' });
      await producer.produce({ topic: "texts", partition: 0, key: "k2", value: "" });
      // Larger than the encoder's first scratch buffer (4 KiB): it grows, and the texts after it go to the new one.
      await producer.produce({ topic: "texts", partition: 0, key: "k3", value: "é".repeat(5000) });
      await producer.produce({ topic: "texts", partition: 0, key: "clé-4", value: '{"total":"42 €","note":"ü𝄞"}' });
    } finally {
      await producer.close(5_000);
    }
    // %S: the value's size in bytes (-1 for a tombstone).
    const read = await kcat(["-b", kafka.bootstrapServers, "-C", "-t", "texts", "-o", "0", "-c", "4", "-q", "-f", "%k|%s|%S\n"]);
    assert.equal(read.code, 0, read.stderr);
    const value = '{"total":"42 €","note":"ü𝄞"}';
    const bytes = new TextEncoder().encode(value).length;
    assert.equal(read.stdout, `clé-1|${value}|${bytes}\nk2||0\nk3|${"é".repeat(5000)}|10000\nclé-4|${value}|${bytes}\n`);
  }));

test("an onAssign that throws does not keep the assignment from being applied: the error goes to onError, messages arrive", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("assign-throws", 1);
    const produced = await kcat(["-b", kafka.bootstrapServers, "-P", "-t", "assign-throws"], "a\nb\n");
    assert.equal(produced.code, 0, produced.stderr);
    const reported: Error[] = [];
    const events = {
      ...consumerEvents(() => {
        throw new Error("onAssign failed (test)");
      }),
      onError: (error: Error) => void reported.push(error),
    };
    const consumer = await driver.createConsumer(consumerConfig(kafka, "assign-throws-readers"), events);
    try {
      await consumer.subscribe(["assign-throws"]);
      const received = await pollUntil(consumer, (r) => r.length >= 2);
      assert.deepEqual(received.map((m) => text(m.value)), ["a", "b"]);
      assert.ok(reported.some((e) => /onAssign failed/.test(e.message)), "the throw reached onError");
    } finally {
      await consumer.close();
    }
  }));

test("kcat-produced messages reach poll()", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("inbox", 2);
    const lines = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`);
    const produced = await kcat(
      ["-b", kafka.bootstrapServers, "-P", "-t", "inbox", "-K", ":", "-H", "from=kcat"],
      lines.join("\n") + "\n",
    );
    assert.equal(produced.code, 0, produced.stderr);

    const events = consumerEvents();
    const consumer = await driver.createConsumer(consumerConfig(kafka, "inbox-readers"), events);
    try {
      await consumer.subscribe(["inbox"]);
      const received = await pollUntil(consumer, (r) => r.length >= lines.length);
      assert.equal(received.length, lines.length);
      assert.deepEqual(
        received.map((m) => `${text(m.key)}:${text(m.value)}`).sort(),
        [...lines].sort(),
      );
      for (const message of received) {
        assert.equal(message.topic, "inbox");
        assert.deepEqual(message.headers.map(([name, value]) => [name, text(value)]), [["from", "kcat"]]);
        assert.equal(typeof message.timestamp, "number");
      }
      // Per partition, offsets come in order without gaps.
      for (const partition of [0, 1]) {
        const offsets = received.filter((m) => m.partition === partition).map((m) => m.offset);
        assert.deepEqual(offsets, offsets.map((_, i) => i));
      }
      assert.deepEqual(events.errors, []);
    } finally {
      await consumer.close();
    }
  }));

test("values of every size come out of poll() whole: inside a slab, at its limits and past it", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("sizes", 1);
    // Lengths around the consumer's copy paths: 1024 and 1025 (the sizes made once), half a
    // slab (4096: a buffer of its own), and a value of 70,000 bytes.
    const lengths = [1, 1024, 1025, 4095, 4096, 8193, 70_000];
    const valueOf = (length: number) => Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * 7 + length) % 26))).join("");
    const produced = await kcat(
      ["-b", kafka.bootstrapServers, "-P", "-t", "sizes", "-K", ":"],
      lengths.map((length) => `k${length}:${valueOf(length)}`).join("\n") + "\n",
    );
    assert.equal(produced.code, 0, produced.stderr);
    const consumer = await driver.createConsumer(consumerConfig(kafka, "sizes-readers"), consumerEvents());
    try {
      await consumer.subscribe(["sizes"]);
      const received = await pollUntil(consumer, (r) => r.length >= lengths.length);
      assert.deepEqual(received.map((m) => text(m.key)), lengths.map((length) => `k${length}`));
      for (const [i, length] of lengths.entries()) assert.equal(text(received[i]!.value), valueOf(length), `the value of ${length} bytes`);
    } finally {
      await consumer.close();
    }
  }));

test("pause stops delivery of a partition and resume continues it", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("work", 2);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    const consumer = await driver.createConsumer(consumerConfig(kafka, "workers"), consumerEvents());
    try {
      const send = (partition: number, value: string) => producer.produce({ topic: "work", partition, value: encoder.encode(value) });
      await Promise.all(Array.from({ length: 10 }, (_, i) => send(0, `p0-${i}`)));

      await consumer.subscribe(["work"]);
      // Only partition 0 has records yet; take exactly one before pausing
      // (librdkafka has prefetched more of them by now).
      let first: IncomingMessage | undefined;
      for (let polls = 0; first === undefined; polls++) {
        assert.ok(polls < 200, "no record arrived");
        [first] = await consumer.poll(1, 250);
      }
      assert.deepEqual([first.partition, first.offset], [0, 0]);
      const taken = [first];

      consumer.pause([{ topic: "work", partition: 0 }]);
      // Records keep arriving on both partitions; partition 1's marker comes last.
      await Promise.all(Array.from({ length: 5 }, (_, i) => send(0, `p0-late-${i}`)));
      await send(1, "marker");
      const whilePaused = await pollUntil(consumer, (r) => r.some((m) => text(m.value) === "marker"));
      assert.deepEqual(whilePaused.map((m) => m.partition), [1], "nothing from the paused partition");

      consumer.resume([{ topic: "work", partition: 0 }]);
      const afterResume = await pollUntil(consumer, (r) => r.length >= 15 - taken.length);
      const partition0 = [...taken, ...afterResume];
      assert.deepEqual(partition0.map((m) => m.offset), Array.from({ length: 15 }, (_, i) => i));
      assert.deepEqual(
        partition0.map((m) => text(m.value)),
        [...Array.from({ length: 10 }, (_, i) => `p0-${i}`), ...Array.from({ length: 5 }, (_, i) => `p0-late-${i}`)],
      );
    } finally {
      await consumer.close();
      await producer.close(5_000);
    }
  }));

// Two members of one group, the second joining while the first owns every partition.
// Eager ("range"): at a rebalance a member gives up all of its partitions, then the group
// is assigned anew. Cooperative ("cooperative-sticky"): a member gives up only the
// partitions that move and keeps the rest (rd_kafka_incremental_assign/unassign).
// The mock coordinator may take one rebalance or two to settle; the checks hold for either.
for (const [strategy, protocol] of [["range", "eager"], ["cooperative-sticky", "cooperative"]] as const) {
  test(`a second member takes partitions over (${protocol} rebalance): no partition is owned twice, every record is read`, () =>
    withSetup(async (kafka, driver) => {
      kafka.createTopic("shared", 4);
      const base = consumerConfig(kafka, `pair-${protocol}`);
      const config = { ...base, properties: { ...base.properties, "partition.assignment.strategy": strategy } };
      const owned = [new Set<number>(), new Set<number>()];
      /** Per member, each revocation: what it gave up, and what it owned just before. */
      const revocations: Array<Array<{ gaveUp: number[]; owned: number[] }>> = [[], []];
      const problems: string[] = [];
      const events = (member: number): ConsumerEvents => ({
        onFatal: (error) => problems.push(`member ${member} fatal: ${error.message}`),
        onError: (error) => problems.push(`member ${member} error: ${error.message}`),
        onAssign: (partitions) => {
          for (const { partition } of partitions) {
            if (owned[1 - member]!.has(partition)) problems.push(`partition ${partition} assigned to member ${member} while the other owns it`);
            owned[member]!.add(partition);
          }
        },
        onRevoke: (partitions) => {
          const gaveUp = partitions.map((p) => p.partition).sort();
          revocations[member]!.push({ gaveUp, owned: [...owned[member]!].sort() });
          for (const partition of gaveUp) owned[member]!.delete(partition);
        },
      });
      const members = [await driver.createConsumer(config, events(0))];
      const received: IncomingMessage[][] = [[], []];
      /** Poll every member (rebalance events arrive through poll), checking each record against its member's partitions. */
      const pollAll = async () => {
        const batches = await Promise.all(members.map((member) => member.poll(100, 100)));
        batches.forEach((batch, member) => {
          for (const m of batch) {
            if (!owned[member]!.has(m.partition)) problems.push(`member ${member} read partition ${m.partition}, which it does not own`);
          }
          received[member]!.push(...batch);
        });
      };
      const until = async (done: () => boolean, what: string) => {
        for (let polls = 0; !done(); polls++) {
          assert.ok(polls < 200, `gave up waiting for ${what}`);
          await pollAll();
        }
      };
      const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
      try {
        await members[0]!.subscribe(["shared"]);
        await until(() => owned[0]!.size === 4, "the first member to own all 4 partitions");

        members.push(await driver.createConsumer(config, events(1)));
        await members[1]!.subscribe(["shared"]);
        await until(() => owned[0]!.size === 2 && owned[1]!.size === 2, "the partitions to be split between the two members");

        await Promise.all(Array.from({ length: 40 }, (_, i) => producer.produce({ topic: "shared", partition: i % 4, value: encoder.encode(`r${i}`) })));
        const values = () => new Set([...received[0]!, ...received[1]!].map((m) => text(m.value)));
        await until(() => values().size === 40, "all 40 records");
        assert.ok(received[1]!.length > 0, "the second member read the records of its partitions");

        assert.deepEqual(problems, []);
        assert.ok(revocations[0]!.length > 0, "the first member gave partitions up");
        for (const { gaveUp, owned: before } of revocations[0]!) {
          if (protocol === "eager") {
            assert.deepEqual(gaveUp, before, "eager: a revocation takes every partition the member owns");
          } else {
            assert.ok(gaveUp.length < before.length, `cooperative: gave up ${gaveUp} of ${before}, not all`);
          }
        }
      } finally {
        await Promise.all(members.map((member) => member.close()));
        await producer.close(5_000);
      }
    }));
}

test("commit stores offsets that close commits to the group", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("ledger", 1);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    await Promise.all(Array.from({ length: 6 }, (_, i) => producer.produce({ topic: "ledger", value: encoder.encode(`e${i}`) })));
    await producer.close(5_000);

    const first = await driver.createConsumer(consumerConfig(kafka, "auditors"), consumerEvents());
    await first.subscribe(["ledger"]);
    const all = await pollUntil(first, (r) => r.length >= 6);
    assert.deepEqual(all.map((m) => m.offset), [0, 1, 2, 3, 4, 5]);
    first.commit([{ topic: "ledger", partition: 0, offset: 4 }]); // processed 0..3
    kafka.startRequestTracking();
    await first.close();
    const sent = kafka.requests().map((r) => r.apiKey);
    assert.ok(sent.includes(8), "an OffsetCommit (ApiKey 8) on close");
    assert.ok(sent.includes(13), "a LeaveGroup (ApiKey 13) on close");

    const second = await driver.createConsumer(consumerConfig(kafka, "auditors"), consumerEvents());
    try {
      await second.subscribe(["ledger"]);
      const resumed = await pollUntil(second, (r) => r.length >= 2);
      assert.deepEqual(resumed.map((m) => [m.offset, text(m.value)]), [[4, "e4"], [5, "e5"]]);
    } finally {
      await second.close();
    }
  }));

test("a full local queue is back-pressure, not an error", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("burst", 1);
    const producer = await driver.createProducer(
      producerConfig(kafka, { "queue.buffering.max.messages": "5" }),
      producerEvents,
    );
    try {
      const reports = await Promise.all(
        Array.from({ length: 200 }, (_, i) => producer.produce({ topic: "burst", value: encoder.encode(`${i}`) })),
      );
      assert.deepEqual(reports.map((r) => r.offset).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
      await producer.flush(5_000);
      await producer.ping(5_000);
    } finally {
      await producer.close(5_000);
    }
  }));

test("a fatal error reaches onFatal exactly once", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("guarded", 1);
    // InitProducerId (ApiKey 22) fails with CLUSTER_AUTHORIZATION_FAILED (31):
    // fatal for an idempotent producer, which asks for its id at start.
    kafka.pushRequestErrors(22, [31, 31, 31]);
    const fatals: Error[] = [];
    let reported!: () => void;
    const fatal = new Promise<void>((resolve) => (reported = resolve));
    const producer = await driver.createProducer(producerConfig(kafka, { "enable.idempotence": "true" }), {
      onFatal(error) {
        fatals.push(error);
        reported();
      },
    });
    try {
      await fatal;
      assert.match(fatals[0]!.message, /authorization/i);
      assert.equal((fatals[0] as Error & { code?: number }).code, 31);
      await assert.rejects(producer.produce({ topic: "guarded", value: encoder.encode("x") }), /fatal/);
      await assert.rejects(producer.produce({ topic: "guarded", value: encoder.encode("y") }), /fatal/);
      await producer.ping(5_000); // a round trip through the event queue after the rejections
      assert.equal(fatals.length, 1);
    } finally {
      await producer.close(1_000);
    }
  }));

test("configuration errors name the property and never show a secret value", () =>
  withSetup(async (kafka, driver) => {
    const secret = "hunter2-do-not-print";
    const config: ClientConfig = {
      properties: { "bootstrap.servers": kafka.bootstrapServers, "acks": secret },
      label: "test",
      secretProperties: ["acks"],
    };
    await assert.rejects(driver.createProducer(config, producerEvents), (error: Error) => {
      assert.match(error.message, /acks/);
      assert.ok(!error.message.includes(secret), error.message);
      return true;
    });
    await assert.rejects(
      driver.createProducer({ ...config, properties: { "no.such.property": "x" }, secretProperties: [] }, producerEvents),
      /no\.such\.property/,
    );
  }));

test("close fails the records the broker never took, within its bound, and leaves nothing waiting", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("stranded", 1);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    await producer.produce({ topic: "stranded", value: encoder.encode("delivered") });
    kafka.brokerDown(kafka.brokerIds[0]!);
    const stranded = Array.from({ length: 3 }, (_, i) =>
      producer.produce({ topic: "stranded", value: encoder.encode(`stranded-${i}`) }).then(
        () => "delivered",
        (error: Error) => error.message,
      ));
    await producer.close(300); // the flush gives up after 300 ms; the rest is purged
    assert.deepEqual(await Promise.all(stranded), Array(3).fill("The producer is closed"));
  }));

test("close is clean", () =>
  withSetup(async (kafka, driver) => {
    kafka.createTopic("done", 1);
    const producer = await driver.createProducer(producerConfig(kafka), producerEvents);
    await producer.produce({ topic: "done", value: encoder.encode("last") });
    await producer.close(5_000);
    await assert.rejects(producer.produce({ topic: "done", value: encoder.encode("late") }), /closed/);

    const consumer = await driver.createConsumer(consumerConfig(kafka, "closers"), consumerEvents());
    await consumer.subscribe(["done"]);
    // A poll waiting for records when close() comes ends at once, empty.
    const waiting = consumer.poll(10, 60_000);
    await consumer.close();
    assert.ok(Array.isArray(await waiting));
    assert.deepEqual(await consumer.poll(10, 1_000), []);
  }));
