// A revoked partition's handler in progress and its retries, with two members of one group (two
// registries, two processes' worth) on the embedded broker. The group hands a partition to its next
// owner only after the previous owner's revocation completed, so if member B handles a partition
// while member A's handler of it still runs, A's revocation completed too early. Every start and end
// of a handler run of either member is one step of one logical sequence, so the check does not
// depend on clocks. With the eager ("range") and the cooperative ("cooperative-sticky") protocol.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());

const PARTITIONS = 2;
const SESSION_TIMEOUT_MS = 2500;
/**
 * How long A's straggler waits, at most, counted from B's start, for B to handle its partition. A
 * consumer that completes a revocation only once its handlers of the partition finished holds B off
 * until then (no overlap); one that does not lets B handle it while the straggler waits (an
 * overlap). The mock elects a leader session.timeout.ms − 1 s after a member joins, so without the
 * wait B handles its partition then (eager), or after a second such round (cooperative: the moved
 * partition is revoked after the first). Eager bound: the mock, unlike a broker, does not count a
 * heartbeat during a rebalance as activity, so it evicts a member still revoking at the election +
 * session.timeout.ms. On a machine too slow to rebalance within the bound the check passes without
 * proving anything: it never fails for slowness.
 */
const STRAGGLER_BOUND_MS: Record<string, number> = { range: 2_800, "cooperative-sticky": 4_500 };

const memberCtx = (strategy: string) => ({
  bootstrapServers: broker.bootstrapServers,
  // Short sessions: the mock holds a rebalance for session.timeout.ms − 1 s (see kafka.test.ts).
  consumer: { "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 300, "partition.assignment.strategy": strategy },
});

let seq = 0;
function freshTopic(prefix: string) {
  const name = `${prefix}-${++seq}`;
  broker.createTopic(name, PARTITIONS);
  return defineTopic({ name, schema: v.object({ id: v.string(), poison: v.optional(v.boolean()) }) });
}

type Member = "A" | "B";

/** Handler runs of both members on one logical sequence, and waits for conditions on it. */
class Runs {
  step = 0;
  readonly log: Array<{ member: Member; partition: number; offset: number; start: number; end: number }> = [];
  readonly overlaps: string[] = [];
  #waiters: Array<() => boolean> = [];

  start(member: Member, partition: number, offset: number): () => void {
    const other = member === "A" ? "B" : "A";
    const run = { member, partition, offset, start: ++this.step, end: Infinity };
    const busy = this.log.find((r) => r.member === other && r.partition === partition && r.end === Infinity);
    if (busy) {
      this.overlaps.push(`member ${member} started partition ${partition} offset ${offset} while member ${other}'s handler of offset ${busy.offset} still ran`);
    }
    this.log.push(run);
    this.changed();
    return () => {
      run.end = ++this.step;
      this.changed();
    };
  }

  /** Re-check the waits: after every run's start and end, and after anything else a wait looks at. */
  changed(): void {
    this.#waiters = this.#waiters.filter((check) => !check());
  }

  /**
   * Resolves once `condition` holds (checked at every change); rejects naming `what` after `boundMs`,
   * so that a wait that never ends says which it was (inside the test's own timeout).
   */
  until(condition: () => boolean, what = "a condition", boundMs = 45_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`gave up after ${boundMs} ms waiting for ${what}`));
      }, boundMs);
      const check = () => condition() && (clearTimeout(timer), resolve(), true);
      this.#waiters.push(check);
    });
  }

  /** Like {@link until}, at most `ms`: true when the condition held. */
  async within(condition: () => boolean, ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    try {
      return await Promise.race([this.until(condition, "a condition", ms + 1_000).then(() => true as const, () => false as const), bound]);
    } finally {
      clearTimeout(timer);
    }
  }
}

for (const strategy of ["range", "cooperative-sticky"]) {
  test(`(${strategy}) a partition's next owner never handles it while the revoked owner's handler of it still runs; every record is handled`, {
    timeout: 60_000,
  }, async () => {
    const t = freshTopic(`revoke-${strategy}`);
    const group = `revoke-${strategy}-${seq}`;
    const ctx = memberCtx(strategy);
    const runs = new Runs();
    const handled = new Set<string>();
    const handledByB = new Set<number>();
    let straggle = false;
    let released = false;
    let bStarted!: () => void;
    const bStart = new Promise<void>((resolve) => (bStarted = resolve));
    const straggling = new Set<number>();
    const handler = (member: Member) => async (m: { partition: number; offset: number; value: { id: string } }) => {
      const end = runs.start(member, m.partition, m.offset);
      if (member === "A" && straggle && !straggling.has(m.partition)) {
        // The straggler: A's first handler of each partition once B is about to join.
        straggling.add(m.partition);
        runs.changed();
        await bStart;
        await runs.within(() => released || handledByB.has(m.partition), STRAGGLER_BOUND_MS[strategy]!);
      }
      await Promise.resolve();
      end();
      if (member === "B") handledByB.add(m.partition);
      handled.add(m.value.id);
      runs.changed();
    };
    const producers = createRegistry({ logger: quietLogger() });
    const a = createRegistry({ logger: quietLogger() });
    const b = createRegistry({ logger: quietLogger() });
    let published = 0;
    const ids: string[] = [];
    const publishRound = async () => {
      const producer = await producers.producer(ctx);
      const round = Array.from({ length: PARTITIONS }, (_, partition) => ({ id: `r-${published++}`, partition }));
      ids.push(...round.map((r) => r.id));
      await Promise.all(round.map(({ id, partition }) => producer.publish(t, { id }, { partition })));
    };
    const allHandled = () => ids.every((id) => handled.has(id));
    try {
      await a.consumer(ctx, group).subscribe(t, handler("A")).start();
      await publishRound();
      await runs.until(allHandled, "every record to be handled");
      straggle = true;
      await publishRound();
      await runs.until(() => straggling.size === PARTITIONS, "A to be handling every partition"); // A's handler of every partition is in progress
      await b.consumer(ctx, group).subscribe(t, handler("B")).start();
      bStarted();
      // Rounds of records until B handled some: it then owns a partition that A had to give up.
      for (let round = 0; handledByB.size === 0; round++) {
        assert.ok(round < 50, "member B never handled a record");
        await publishRound();
        await runs.until(() => allHandled() || handledByB.size > 0, "the round to be handled, or B to handle a record");
      }
      await publishRound();
      await runs.until(allHandled, "every record to be handled");
      assert.deepEqual(runs.overlaps, [], "a handler ran for a partition after its revocation completed");
      assert.deepEqual(ids.filter((id) => !handled.has(id)), [], "every record is handled at least once");
    } finally {
      released = true;
      bStarted();
      runs.changed();
      await Promise.all([a.close(), b.close(), producers.close()]);
    }
  });

  test(
    `(${strategy}) a retry loop on a revoked partition stops: its message is left uncommitted, to the partition's next owner`,
    { timeout: 60_000 },
    async () => {
      const t = freshTopic(`revoke-retry-${strategy}`);
      const group = `revoke-retry-${strategy}-${seq}`;
      const ctx = memberCtx(strategy);
      const runs = new Runs();
      const attemptsByA = new Map<number, number>();
      const poisonHandledByB = new Map<number, number>(); // partition -> offset
      const stopped: Array<{ partition: number; offset: number }> = [];
      const logger = {
        warn: (message: string, fields?: Record<string, unknown>) => {
          if (/retries stopped/.test(message)) {
            stopped.push({ partition: Number(fields?.partition), offset: Number(fields?.offset) });
            runs.changed();
          }
        },
        error: () => {},
      };
      // A fails every poison record (retried until it succeeds: the default); B handles it.
      const handler = (member: Member) => async (m: { partition: number; offset: number; value: { poison?: boolean } }) => {
        const end = runs.start(member, m.partition, m.offset);
        await Promise.resolve();
        end();
        if (member === "A" && m.value.poison) {
          attemptsByA.set(m.partition, (attemptsByA.get(m.partition) ?? 0) + 1);
          runs.changed();
          throw new Error("poison");
        }
        if (member === "B" && m.value.poison) {
          poisonHandledByB.set(m.partition, m.offset);
          runs.changed();
        }
      };
      const options = { retryBackoffMs: 1 };
      const producers = createRegistry({ logger: quietLogger() });
      const a = createRegistry({ logger });
      const b = createRegistry({ logger: quietLogger() });
      try {
        const producer = await producers.producer(ctx);
        const poison = await Promise.all(
          Array.from({ length: PARTITIONS }, (_, partition) => producer.publish(t, { id: `poison-${partition}`, poison: true }, { partition })),
        );
        await a.consumer(ctx, group).subscribe(t, handler("A"), options).start();
        await runs.until(() => [...Array(PARTITIONS).keys()].every((p) => (attemptsByA.get(p) ?? 0) >= 2), "A to retry each poison record"); // A retries each
        await b.consumer(ctx, group).subscribe(t, handler("B"), options).start();
        await runs.until(() => poisonHandledByB.size > 0, "B to handle a poison record");
        const [partition, offset] = [...poisonHandledByB][0]!;
        assert.equal(offset, poison[partition]!.offset, "B handled the record A was retrying: A did not commit it");
        const takenOver = runs.log.find((r) => r.member === "B" && r.partition === partition)!.start;
        const retriedAfter = () => runs.log.some((r) => r.member === "A" && r.partition === partition && r.start > takenOver);
        // A's retries of that partition stopped before its revocation completed (so before B took over);
        // had they not, A's next attempt comes within its backoff.
        await runs.until(
          () => retriedAfter() || stopped.some((s) => s.partition === partition),
          `A to retry partition ${partition} or report its retries stopped`,
        );
        assert.equal(retriedAfter(), false, `member A retried partition ${partition} after member B took it over`);
        assert.ok(stopped.some((s) => s.partition === partition && s.offset === offset), "A reported that it stopped retrying the revoked partition");
        assert.deepEqual(runs.overlaps, []);
      } finally {
        await Promise.all([a.close(), b.close(), producers.close()]);
      }
    },
  );
}
