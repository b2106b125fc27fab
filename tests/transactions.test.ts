// Transactional publishing against the embedded broker, read back with kcat.
// The registry uses the runtime's default driver (Confluent on Node, FFI on Deno and Bun).
//
// What librdkafka's mock cluster (2.15.1) does and does not do for transactions:
// it runs the protocol (InitProducerId, AddPartitionsToTxn, EndTxn, with commit
// and abort markers), but its Fetch answers name no aborted transaction and
// put the last stable offset at the end of the log, so a read_committed
// reader sees an aborted transaction's records too; and InitProducerId of a
// transactional id already held gives a new producer id instead of bumping
// the old one's epoch, so it fences no one. So: an abort is checked by its
// marker (an offset of its own) and its rethrown error, and fencing by the
// broker's answer to the fenced producer, PRODUCER_FENCED, pushed as the
// broker's next answer to AddPartitionsToTxn.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, createRegistry, defineTopic, TransactionError, ValidationError } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { defaultDriver } from "../src/_default_driver.ts";
import { gate, kcat, kcatRead, kcatWrite, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
const ctx = { bootstrapServers: broker.bootstrapServers };
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();
const kafka = createRegistry({ logger });
after(async () => {
  await kafka.close();
  await broker.stop();
});

/** Kafka ApiKey of AddPartitionsToTxn, and the broker's PRODUCER_FENCED error code. */
const ADD_PARTITIONS_TO_TXN = 24;
/** Kafka ApiKeys of the requests that put a group's offsets in a transaction. */
const ADD_OFFSETS_TO_TXN = 25;
const TXN_OFFSET_COMMIT = 28;
const PRODUCER_FENCED = 90;
/** librdkafka's ERR__PURGE_QUEUE: a record dropped from the queue before it was sent. */
const ERR_PURGE_QUEUE = -152;

const Order = v.object({ id: v.string(), n: v.number() });
let seq = 0;
/** A fresh one-partition topic per test (offsets then count every record and marker in order). */
function topic(prefix: string) {
  const name = `${prefix}-${++seq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Order, key: (o) => o.id });
}
const transactionalId = (prefix: string) => `${prefix}-${++seq}`;
const payloads = (records: { payload: string | null }[]) => records.map((r) => (JSON.parse(r.payload!) as { id: string }).id);

/** The end offset of partition 0 of `name`: every record and transaction marker written. */
async function endOffset(name: string): Promise<number> {
  const out = await kcat(["-b", broker.bootstrapServers, "-Q", "-t", `${name}:0:-1`]);
  const match = /offset (\d+)/.exec(out);
  assert.ok(match, `kcat -Q said: ${out}`);
  return Number(match[1]);
}

test("a committed transaction's records are visible to a read_committed reader; transaction() resolves with the work's result", async () => {
  const t = topic("txn-commit");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("commit") });
  const result = await producer.transaction(async (tx) => {
    const first = await tx.publish(t, { id: "a", n: 1 });
    const batch = await tx.publishBatch(t, [{ value: { id: "b", n: 2 } }, { value: { id: "c", n: 3 } }]);
    return [first.offset, ...batch.map((r) => r.offset)];
  });
  assert.deepEqual(result, [0, 1, 2]);
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_committed" })), ["a", "b", "c"]);
  // The commit marker takes the offset after the records.
  assert.equal(await endOffset(t.name), 4);
});

test("a throw in the work aborts the transaction and is rethrown unchanged; its records were written, then ended by a marker", async () => {
  const t = topic("txn-abort");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("abort") });
  const thrown = new Error("the work failed");
  await assert.rejects(
    producer.transaction(async (tx) => {
      await tx.publish(t, { id: "x", n: 1 });
      await tx.publish(t, { id: "y", n: 2 });
      throw thrown;
    }),
    (error) => error === thrown,
  );
  // Written (a read_uncommitted reader sees them) and ended on the broker: the abort marker is at offset 2.
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_uncommitted" })), ["x", "y"]);
  assert.equal(await endOffset(t.name), 3);
  // The producer goes on: the next transaction commits after the marker.
  const [report] = await producer.transaction((tx) => Promise.all([tx.publish(t, { id: "z", n: 3 })]));
  assert.equal(report!.offset, 3);
  assert.equal(producer.retired, false);
});

test("an invalid record rejects its publish with ValidationError, nothing sent; rethrown, it aborts the transaction", async () => {
  const t = topic("txn-invalid");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("invalid") });
  await assert.rejects(
    producer.transaction(async (tx) => {
      await tx.publish(t, { id: "ok", n: 1 });
      await tx.publish(t, { id: "bad", n: "not a number" } as unknown as { id: string; n: number });
    }),
    ValidationError,
  );
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_uncommitted" })), ["ok"]);
  // Caught inside the work, it leaves the transaction to commit what was sent.
  await producer.transaction(async (tx) => {
    await assert.rejects(tx.publish(t, { id: "bad", n: "nope" } as unknown as { id: string; n: number }), ValidationError);
    await tx.publish(t, { id: "good", n: 2 });
  });
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_committed" })).slice(-1), ["good"]);
});

test("a record not delivered aborts the transaction, even if the work went on: TransactionError, and the producer goes on", async () => {
  const t = topic("txn-undelivered");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("undelivered") });
  // Over message.max.bytes (1 MB by default): librdkafka refuses it.
  const huge = "x".repeat(1_100_000);
  const error = await producer.transaction(async (tx) => {
    await tx.publish(t, { id: "kept", n: 1 });
    await tx.publish(t, { id: huge, n: 2 }).catch(() => {}); // the work swallows the failure
    return "committed?";
  }).then(() => assert.fail("a transaction missing a record committed"), (e: unknown) => e);
  assert.ok(error instanceof TransactionError, String(error));
  assert.match(error.message, /was aborted: 1 of 2 records were not delivered/);
  assert.equal(error.fatal, false);
  assert.equal(producer.retired, false);
  // "kept" was written, then the abort marker.
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_uncommitted" })), ["kept"]);
  assert.equal(await endOffset(t.name), 2);
  await producer.transaction((tx) => tx.publish(t, { id: "next", n: 3 }));
  assert.equal(await endOffset(t.name), 4);
});

test("transactions of concurrent callers run one after the other, never interleaved", async () => {
  const t = topic("txn-serial");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("serial") });
  const events: string[] = [];
  const firstStarted = gate();
  const release = gate();
  const first = producer.transaction(async (tx) => {
    events.push("first begins");
    await tx.publish(t, { id: "f1", n: 1 });
    firstStarted.open();
    await release.wait;
    await tx.publish(t, { id: "f2", n: 2 });
    events.push("first ends");
  });
  await firstStarted.wait;
  const second = producer.transaction(async (tx) => {
    events.push("second begins");
    await tx.publish(t, { id: "s1", n: 3 });
    events.push("second ends");
  });
  // The second waits for its turn: releasing the first lets both finish, in order.
  release.open();
  await Promise.all([first, second]);
  assert.deepEqual(events, ["first begins", "first ends", "second begins", "second ends"]);
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_committed" })), ["f1", "f2", "s1"]);
});

test("a publish through a transaction that has ended rejects with TransactionError, nothing sent", async () => {
  const t = topic("txn-over");
  const producer = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("over") });
  let kept: Parameters<Parameters<typeof producer.transaction>[0]>[0] | undefined;
  await producer.transaction(async (tx) => {
    kept = tx;
    await tx.publish(t, { id: "in", n: 1 });
  });
  await assert.rejects(kept!.publish(t, { id: "late", n: 2 }), (error) => error instanceof TransactionError && /is over/.test(error.message));
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_uncommitted" })), ["in"]);
});

test("one transactional producer per (context, transactional id), apart from the shared producer; stats list it", async () => {
  const id = transactionalId("shared");
  const [a, b] = await Promise.all([kafka.transactionalProducer(ctx, { transactionalId: id }), kafka.transactionalProducer(ctx, { transactionalId: id })]);
  assert.equal(a, b);
  const other = await kafka.transactionalProducer(ctx, { transactionalId: transactionalId("shared") });
  assert.notEqual(other, a);
  const shared = await kafka.producer(ctx);
  assert.equal(shared.fingerprint, a.fingerprint);
  const stats = kafka.stats().contexts[a.fingerprint]!;
  assert.ok(stats.transactionalProducers.includes(id));
  assert.ok(stats.transactionalProducers.includes(other.transactionalId));
  assert.equal(stats.liveProducers, 1, "the shared producer is counted apart");
  await assert.rejects(kafka.transactionalProducer(ctx, { transactionalId: " " }), /transactionalId must be a non-empty string/);
});

test("fenced: the producer's transaction fails with a fenced TransactionError, it is retired, and the next call connects one that works", async () => {
  const t = topic("txn-fenced");
  const id = transactionalId("fenced");
  const first = await kafka.transactionalProducer(ctx, { transactionalId: id });
  await first.transaction((tx) => tx.publish(t, { id: "before", n: 1 }));
  // Another instance (a registry of its own) registers the same transactional id;
  // the broker answers the first producer's next transaction with PRODUCER_FENCED.
  await using other = createRegistry({ logger: quietLogger() });
  const second = await other.transactionalProducer(ctx, { transactionalId: id });
  broker.pushRequestErrors(ADD_PARTITIONS_TO_TXN, [PRODUCER_FENCED]);
  const error = await first.transaction((tx) => tx.publish(t, { id: "zombie", n: 2 })).then(
    () => assert.fail("the fenced producer committed"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TransactionError, String(error));
  assert.equal(error.fenced, true, error.message);
  assert.equal(error.fatal, true);
  assert.equal(error.transactionalId, id);
  assert.match(error.message, /fenced by a newer producer with the same transactional id/);
  assert.equal(first.retired, true);
  assert.ok(!kafka.stats().contexts[first.fingerprint]!.transactionalProducers.includes(id));
  // A retired producer refuses further transactions with the same clear error.
  await assert.rejects(first.transaction(() => {}), (e) => e instanceof TransactionError && e.fenced && /retired/.test(e.message));
  // A new call connects a fresh producer, which registers the id again and commits.
  const fresh = await kafka.transactionalProducer(ctx, { transactionalId: id });
  assert.notEqual(fresh, first);
  await fresh.transaction((tx) => tx.publish(t, { id: "after", n: 3 }));
  assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_committed" })).filter((p) => p !== "zombie"), [
    "before",
    "after",
  ]);
  assert.equal(second.retired, false);
});

test("driver: aborting with a record still queued purges it, and the client is not taken for dead", async () => {
  const t = topic("txn-purge");
  const driver = await defaultDriver();
  const fatal: Error[] = [];
  const client = await driver.createProducer(
    {
      // A long linger keeps the record in librdkafka's queue until the abort.
      properties: { "bootstrap.servers": broker.bootstrapServers, "transactional.id": transactionalId("purge"), "linger.ms": "10000" },
      label: "test",
      secretProperties: [],
    },
    { onFatal: (error) => fatal.push(error) },
  );
  try {
    const transactions = client.transactions!;
    await transactions.init(30_000);
    await transactions.begin();
    // Its outcome is taken at once: the purge may reject it while the abort is under way.
    const queued = client.produce({ topic: t.name, value: '{"id":"q","n":1}' }).then(() => undefined, (error: unknown) => error);
    await transactions.abort(30_000);
    const purged = await queued;
    assert.equal((purged as { code?: number } | undefined)?.code, ERR_PURGE_QUEUE, String(purged));
    assert.deepEqual(fatal, []);
    // Alive: the next transaction commits (the commit delivers what lingers first).
    await transactions.begin();
    const sent = client.produce({ topic: t.name, value: '{"id":"c","n":2}' });
    await transactions.commit(30_000);
    assert.equal((await sent).topic, t.name);
    assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, t.name, { isolation: "read_committed" })), ["c"]);
    assert.deepEqual(fatal, []);
  } finally {
    await client.close(1_000);
  }
});

test("driver: a consumer's offsets go into a transaction (AddOffsetsToTxn, TxnOffsetCommit) with the records it produced", async () => {
  const input = topic("txn-ctp-in");
  const output = topic("txn-ctp-out");
  await kcatWrite(broker.bootstrapServers, input.name, ['a:{"id":"a","n":1}', 'b:{"id":"b","n":2}']);
  const driver = await defaultDriver();
  const assigned = gate();
  const consumer = await driver.createConsumer(
    {
      properties: {
        "bootstrap.servers": broker.bootstrapServers,
        "group.id": `ctp-${seq}`,
        "auto.offset.reset": "earliest",
        "enable.auto.offset.store": "false",
      },
      label: "test",
      secretProperties: [],
      groupId: `ctp-${seq}`,
    },
    { onFatal: () => {}, onAssign: () => assigned.open(), onRevoke: () => {} },
  );
  const producer = await driver.createProducer(
    { properties: { "bootstrap.servers": broker.bootstrapServers, "transactional.id": transactionalId("ctp") }, label: "test", secretProperties: [] },
    { onFatal: () => {} },
  );
  try {
    await consumer.subscribe([input.name]);
    const consumed: string[] = [];
    while (consumed.length < 2) for (const m of await consumer.poll(10, 1_000)) consumed.push(new TextDecoder().decode(m.value!));
    await assigned.wait;
    const transactions = producer.transactions!;
    await transactions.init(30_000);
    await transactions.begin();
    await Promise.all(consumed.map((value) => producer.produce({ topic: output.name, value })));
    broker.clearRequests();
    await transactions.sendOffsets!([{ topic: input.name, partition: 0, offset: 2 }], consumer, 30_000);
    const apiKeys = new Set(broker.requests().map((r) => r.apiKey));
    assert.ok(apiKeys.has(ADD_OFFSETS_TO_TXN), `requests: ${[...apiKeys]}`);
    assert.ok(apiKeys.has(TXN_OFFSET_COMMIT), `requests: ${[...apiKeys]}`);
    await transactions.commit(30_000);
    assert.deepEqual(payloads(await kcatRead(broker.bootstrapServers, output.name, { isolation: "read_committed" })), ["a", "b"]);
    // A client that is not this driver's consumer is refused, nothing sent.
    const foreign = { ...consumer };
    await transactions.begin();
    await assert.rejects(transactions.sendOffsets!([{ topic: input.name, partition: 0, offset: 2 }], foreign, 30_000), TypeError);
    await transactions.abort(30_000);
  } finally {
    await producer.close(1_000);
    await consumer.close();
  }
});

test("once the registry closed, transaction() and transactionalProducer() reject with ClosedError", async () => {
  const own = createRegistry({ logger: quietLogger() });
  const producer = await own.transactionalProducer(ctx, { transactionalId: transactionalId("closed") });
  await own.close();
  await assert.rejects(producer.transaction(() => {}), ClosedError);
  await assert.rejects(own.transactionalProducer(ctx, { transactionalId: "any" }), ClosedError);
});
