// Consume-transform-produce (transactionalHandler) against the embedded broker, read back with
// kcat: the output topic as read_committed and read_uncommitted readers see it, and the group's
// committed offset through a kcat group member (-G), which starts where the group committed.
//
// What librdkafka's mock cluster (2.15.1) cannot show (see also transactions.test.ts): its Fetch
// names no aborted transaction and puts the last stable offset at the end of the log, so a
// read_committed reader sees an aborted transaction's records too. An abort is therefore checked
// by its marker (each transaction ends with a marker of its own offset) and by the attempt that
// threw; that a read_committed reader skips the aborted copy is librdkafka's and the broker's
// part, not tested here. Its TxnOffsetCommit stores no offset either: the committed offset a new
// member starts from is the one kshare's consumer commits through its normal path after each
// transaction committed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic, transactionalHandler } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, kcat, kcatRead, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
after(() => broker.stop());
// The mock coordinator holds a rebalance after a member left for its session timeout minus 1 s: short sessions.
const session = { "session.timeout.ms": "2000", "heartbeat.interval.ms": "500" };
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 } };

/** Kafka ApiKeys: EndTxn (a commit or an abort) and TxnOffsetCommit; ILLEGAL_GENERATION, the group's answer to a member that lost its partitions. */
const END_TXN = 26;
const TXN_OFFSET_COMMIT = 28;
const ILLEGAL_GENERATION = 22;

const Item = v.object({ id: v.string() });
let seq = 0;
/** A fresh one-partition topic (offsets then count every record and transaction marker in order). */
function topic(prefix: string) {
  const name = `ctp-${prefix}-${++seq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Item });
}

/** Write `{ id }` records with kcat. */
function write(topicName: string, ids: readonly string[]): Promise<string> {
  return kcat(["-b", broker.bootstrapServers, "-P", "-t", topicName], ids.map((id) => JSON.stringify({ id })).join("\n") + "\n");
}

/** `[offset, id]` of every record of `topicName` as a reader of `isolation` sees it. */
async function read(topicName: string, isolation: "read_committed" | "read_uncommitted"): Promise<Array<[number, string]>> {
  return (await kcatRead(broker.bootstrapServers, topicName, { isolation })).map((r) => [r.offset, (JSON.parse(r.payload!) as { id: string }).id]);
}

/** The end offset of partition 0 of `name`: every record and transaction marker written. */
async function endOffset(name: string): Promise<number> {
  const out = await kcat(["-b", broker.bootstrapServers, "-Q", "-t", `${name}:0:-1`]);
  const match = /offset (\d+)/.exec(out);
  assert.ok(match, `kcat -Q said: ${out}`);
  return Number(match[1]);
}

/**
 * The ids a new member of `group` reads from `topicName` after a marker was written: kcat joins
 * the group and starts at its committed offset (with none, at the beginning), so only the marker
 * means the committed offset was the end of what was consumed.
 */
async function readAsGroup(topicName: string, group: string): Promise<string[]> {
  await write(topicName, ["marker"]);
  const settings = Object.entries({ "auto.offset.reset": "earliest", ...session }).flatMap(([name, value]) => ["-X", `${name}=${value}`]);
  const out = await kcat(["-b", broker.bootstrapServers, "-G", group, ...settings, "-e", "-J", "-q", topicName]);
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => (JSON.parse(JSON.parse(line).payload) as { id: string }).id);
}

test(
  "a handler that fails once is retried in a new transaction: each output committed once, the failed attempt's aborted, the group committed past the input",
  { timeout: 60_000 },
  async () => {
    const input = topic("in");
    const output = topic("out");
    const group = `ctp-retry-${seq}`;
    const transactionalId = `ctp-retry-${seq}`;
    const logger = quietLogger();
    const kafka = createRegistry({ logger });
    const attempts: string[] = [];
    const succeeded = new Countdown();
    let failedOnce = false;
    kafka.consumer(ctx, group).subscribe(
      input,
      transactionalHandler({ transactionalId }, async (message, tx) => {
        attempts.push(message.value.id);
        await tx.publish(output, { id: `out-${message.value.id}` });
        if (message.value.id === "b" && !failedOnce) {
          failedOnce = true;
          throw new Error("the first attempt of b failed after publishing");
        }
        succeeded.increment();
      }),
      { retryBackoffMs: 10 },
    );
    await write(input.name, ["a", "b", "c"]);
    broker.clearRequests();
    await kafka.consumer(ctx, group).start();
    await succeeded.reached(3);
    assert.deepEqual(kafka.stats().contexts[kafka.consumer(ctx, group).fingerprint]!.transactionalProducers, [transactionalId]);
    // Close waits for c's transaction under way (handlers in progress finish), then commits the consumed offsets.
    await kafka.close();

    assert.deepEqual(attempts, ["a", "b", "b", "c"]);
    assert.ok(logger.lines.some((line) => /handler failed; retrying.*the first attempt of b failed/.test(line)), logger.lines.join("\n"));
    assert.ok(!logger.lines.some((line) => /aborting a transaction failed|retired/.test(line)), logger.lines.join("\n"));
    // One transaction per attempt, each ended by its marker: a's, b's aborted one, b's retry, c's.
    assert.deepEqual(await read(output.name, "read_uncommitted"), [[0, "out-a"], [2, "out-b"], [4, "out-b"], [6, "out-c"]]);
    assert.equal(await endOffset(output.name), 8);
    assert.equal(broker.requests().filter((r) => r.apiKey === END_TXN).length, 4);
    // A read_committed reader on a real broker skips offset 2 (aborted). The mock's Fetch hides nothing (see
    // the top of this file), so here it sees what read_uncommitted sees; what is checked is that every
    // committed output is there, at the offsets of the committed transactions.
    const committed = (await read(output.name, "read_committed")).filter(([offset]) => offset !== 2);
    assert.deepEqual(committed, [[0, "out-a"], [4, "out-b"], [6, "out-c"]]);
    // The group's committed offset is the end of the input: a new member starts at the marker.
    assert.deepEqual(await readAsGroup(input.name, group), ["marker"]);
  },
);

test(
  "offsets the group refuses (ILLEGAL_GENERATION, as for a member that lost its partition) abort the transaction; the record is retried and committed once",
  { timeout: 60_000 },
  async () => {
    const input = topic("in");
    const output = topic("out");
    const group = `ctp-refused-${seq}`;
    const logger = quietLogger();
    const kafka = createRegistry({ logger });
    const attempts: string[] = [];
    const succeeded = new Countdown();
    broker.pushRequestErrors(TXN_OFFSET_COMMIT, [ILLEGAL_GENERATION]);
    kafka.consumer(ctx, group).subscribe(
      input,
      transactionalHandler({ transactionalId: `ctp-refused-${seq}` }, async (message, tx) => {
        attempts.push(message.value.id);
        await tx.publish(output, { id: `out-${message.value.id}` });
        succeeded.increment();
      }),
      { retryBackoffMs: 10 },
    );
    await write(input.name, ["x"]);
    await kafka.consumer(ctx, group).start();
    await succeeded.reached(2);
    await kafka.close();

    assert.deepEqual(attempts, ["x", "x"]);
    assert.ok(logger.lines.some((line) => /handler failed; retrying.*generation id is not valid/.test(line)), logger.lines.join("\n"));
    // The first transaction: out-x, then its abort marker; the second: out-x, then its commit marker.
    assert.deepEqual(await read(output.name, "read_uncommitted"), [[0, "out-x"], [2, "out-x"]]);
    assert.equal(await endOffset(output.name), 4);
    assert.deepEqual(await readAsGroup(input.name, group), ["marker"]);
  },
);

test(
  "an attempt past handlerTimeoutMs is aborted even if its handler returns later; the retry's transaction commits the output once",
  { timeout: 60_000 },
  async () => {
    const input = topic("in");
    const output = topic("out");
    const group = `ctp-timeout-${seq}`;
    const kafka = createRegistry({ logger: quietLogger() });
    const attempts: string[] = [];
    const succeeded = new Countdown();
    kafka.consumer(ctx, group).subscribe(
      input,
      transactionalHandler({ transactionalId: `ctp-timeout-${seq}` }, async (message, tx) => {
        attempts.push(message.value.id);
        await tx.publish(output, { id: `out-${message.value.id}` });
        if (attempts.length === 1) {
          // Returns only once the consumer gave the attempt up: its transaction must not commit.
          await new Promise((resolve) => message.signal.addEventListener("abort", resolve, { once: true }));
          return;
        }
        succeeded.increment();
      }),
      { retryBackoffMs: 10, handlerTimeoutMs: 200 },
    );
    await write(input.name, ["t"]);
    await kafka.consumer(ctx, group).start();
    await succeeded.reached(1);
    await kafka.close();

    assert.deepEqual(attempts, ["t", "t"]);
    // The timed-out attempt's transaction: out-t, then its abort marker; the retry's: out-t, then its commit marker.
    assert.deepEqual(await read(output.name, "read_uncommitted"), [[0, "out-t"], [2, "out-t"]]);
    assert.equal(await endOffset(output.name), 4);
    assert.deepEqual(await readAsGroup(input.name, group), ["marker"]);
  },
);

test("transactionalHandler refuses bad arguments, and rejects when called other than as a subscribed handler", async () => {
  assert.throws(
    () => transactionalHandler({ transactionalId: " " }, () => {}),
    (e) => e instanceof TypeError && /options\.transactionalId must be a non-empty string/.test(e.message),
  );
  assert.throws(
    () => transactionalHandler({ transactionalId: "t" }, "nope" as unknown as () => void),
    (e) => e instanceof TypeError && /handler must be a function/.test(e.message),
  );
  const handler = transactionalHandler<{ id: string }>({ transactionalId: "direct-0" }, () => {});
  await assert.rejects(
    Promise.resolve(handler({} as Parameters<typeof handler>[0])),
    (e) => e instanceof TypeError && /"direct-0" runs only as a handler given to consumer.subscribe/.test(e.message),
  );
});
