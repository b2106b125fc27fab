/**
 * Fault-injection scenarios (issue 13): records flow through kshare's shared
 * producer and shared consumer while the embedded broker is made to fail,
 * then kcat reads the log as an independent judge. One implementation,
 * used by `tests/faults.test.ts` (one round each, asserted) and by
 * `bench/reliability.ts` (N rounds each, tabulated).
 *
 * What is counted, and why it measures kshare rather than the mock:
 * - "Acknowledged" is a publish that resolved with a real offset (≥ 0). The
 *   mock broker does not check the sequence numbers of an idempotent,
 *   non-transactional producer: after an injected Produce error, a
 *   pipelined later batch is accepted and librdkafka acknowledges the
 *   earlier records "implicitly" with offset -1001 though they are not in
 *   the log. Such resolutions are counted apart (`implicitAcks`), never as
 *   acknowledged, and every scenario is shaped so they should not occur:
 *   faults a and b are broker outages (no Produce error is injected), and c
 *   injects its one Produce error on a producer with one request in flight
 *   per connection, so no later batch can be pipelined behind it.
 * - Every acknowledged record must be in kcat's read of the log at the
 *   partition and offset its report named, with its id: the report is
 *   checked, not trusted.
 * - Record ids carry a per-round random run id, so nothing from another
 *   round, test or process can be mistaken for one of this round's.
 *
 * @module
 */
import * as v from "valibot";
import { createRegistry, defineTopic, type Logger, type Producer, type SecurityContext } from "../../mod.ts";
import type { EmbeddedBroker } from "../../testing.ts";
import { runChild } from "../_child.ts";

/** The faults, by the letter of issue 13's list. */
export type FaultName = "leader-outage" | "coordinator-and-members" | "fatal-producer";

/** What one round of a fault left, for assertions and for the table. */
export interface FaultResult {
  readonly fault: FaultName;
  /** Publishes that resolved with a real offset (≥ 0). */
  readonly acknowledged: number;
  /** Acknowledged records kcat found at the partition and offset their report named. */
  readonly foundByKcat: number;
  /** Extra copies of this round's records in the log (a record there n times counts n − 1). */
  readonly duplicates: number;
  /** Acknowledged records some handler ran for at least once. */
  readonly handled: number;
  /** Records in the log (kcat) no handler ran for. */
  readonly logNotHandled: number;
  /** Publishes that rejected, and the distinct messages they rejected with. */
  readonly errors: number;
  readonly errorMessages: readonly string[];
  /** Publishes that resolved with an offset < 0 (the mock's implicit acknowledgement; see the module doc). */
  readonly implicitAcks: number;
  /**
   * Fault b: handler runs of one partition by two members at once. The
   * group gives a partition to its next owner only after the previous
   * owner's revocation completed, so an overlap is a handler that ran after
   * its member's revocation completed. 0 for the other faults.
   */
  readonly overlaps: number;
  /** Everything that broke a promise, in words (empty when the round kept them all). */
  readonly problems: readonly string[];
  /** Fault-specific observations (ids, counts) a test asserts on. */
  readonly notes: Readonly<Record<string, number | string | boolean>>;
}

/** Options every scenario takes. */
export interface FaultOptions {
  /** A broker of 3 brokers, created by the caller; the scenario creates its own topic and group on it. */
  readonly broker: EmbeddedBroker;
  /** Where kshare's warnings and errors go (default: dropped; faults make them on purpose). */
  readonly logger?: Logger;
  /** Bound on each wait for an event (default 60 000 ms): past it the round fails naming what it waited for, never hangs. */
  readonly waitBoundMs?: number;
}

const FaultRecord = v.object({ id: v.string(), n: v.number() });
const silent: Logger = { warn: () => {}, error: () => {} };

/**
 * The consumer settings of issue 13's tests: the mock holds a left member's
 * group for session.timeout.ms − 1 s, so the session is short unless a
 * scenario needs it long (`sessionMs`).
 */
function contextOf(broker: EmbeddedBroker, producer?: Readonly<Record<string, string | number>>, sessionMs = 2_000): SecurityContext {
  return {
    bootstrapServers: broker.bootstrapServers,
    consumer: { "session.timeout.ms": sessionMs, "heartbeat.interval.ms": Math.min(500, sessionMs / 6) },
    ...(producer ? { producer } : {}),
  };
}

/** A fresh id for a round: its topic, group and record ids carry it. */
function runId(): string {
  return Math.random().toString(36).slice(2, 10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waiting on conditions that change with events: every change calls
 * `changed()`, and `until` re-checks its predicate then. The bound turns a
 * promise kshare did not keep into an error naming it, instead of a hang.
 */
class Conditions {
  #waiters = new Set<() => void>();
  readonly #boundMs: number;
  constructor(boundMs: number) {
    this.#boundMs = boundMs;
  }
  changed(): void {
    for (const check of [...this.#waiters]) check();
  }
  until(predicate: () => boolean, what: string, boundMs = this.#boundMs): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`gave up after ${boundMs} ms waiting for ${what}`));
      }, boundMs);
      this.#waiters.add(check);
    });
  }
}

/** A record as `kcat -J` prints it. */
interface LogRecord {
  partition: number;
  offset: number;
  payload: string | null;
}

async function runKcat(args: readonly string[]): Promise<string> {
  const run = await runChild("kcat", args);
  if (run.code !== 0) throw new Error(`kcat ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** The whole topic, from the beginning to the end of every partition, as kcat reads it. */
async function readLog(broker: EmbeddedBroker, topic: string): Promise<LogRecord[]> {
  const out = await runKcat(["-b", broker.bootstrapServers, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"]);
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as LogRecord);
}

/** Partition → leader broker id, from kcat's metadata (the cluster's own answer, not kshare's). */
export async function partitionLeaders(broker: EmbeddedBroker, topic: string): Promise<Map<number, number>> {
  const out = await runKcat(["-b", broker.bootstrapServers, "-L", "-t", topic, "-J"]);
  const metadata = JSON.parse(out) as { topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }> };
  const found = metadata.topics.find((t) => t.topic === topic);
  if (!found) throw new Error(`kcat -L did not list topic ${topic}`);
  return new Map(found.partitions.map((p) => [p.partition, p.leader]));
}

/** One acknowledged publish. */
interface Ack {
  partition: number;
  offset: number;
}

/**
 * Concurrent callers publishing unique records until stopped. Each caller
 * publishes to its own partition (caller index modulo partitions), so while
 * one partition's leader is down the callers of the others keep going; each
 * publishes its next record once the last was answered, paced by `paceMs`
 * so the volume stays moderate on a loaded machine.
 */
class PublishStream {
  readonly acked = new Map<string, Ack>();
  readonly errorMessages = new Map<string, number>();
  errors = 0;
  implicitAcks = 0;
  /** The numbers (`n`) of the records whose publish rejected. */
  readonly failed: number[] = [];
  #n = 0;
  #stopping = false;
  #callers: Promise<void>[] = [];

  constructor(
    readonly id: string,
    readonly conditions: Conditions,
  ) {}

  /** `handleFor(i)` is how caller i gets its producer for each publish (the registry, or a handle it holds). */
  start(
    topic: ReturnType<typeof recordTopic>,
    callers: number,
    partitions: number,
    handleFor: (caller: number) => Promise<Producer>,
    paceMs = 2,
  ): void {
    for (let caller = 0; caller < callers; caller++) {
      this.#callers.push((async () => {
        while (!this.#stopping) {
          const n = this.#n++;
          const record = { id: `${this.id}-${n}`, n };
          try {
            const producer = await handleFor(caller);
            const report = await producer.publish(topic, record, { partition: caller % partitions });
            if (report.offset >= 0) this.acked.set(record.id, { partition: report.partition, offset: report.offset });
            else this.implicitAcks++;
          } catch (error) {
            this.errors++;
            this.failed.push(n);
            const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
            this.errorMessages.set(message, (this.errorMessages.get(message) ?? 0) + 1);
          }
          this.conditions.changed();
          await sleep(paceMs);
        }
      })());
    }
  }

  /** Where the publishes stand, for a failure's message: a stalled producer shows as publishes waiting. */
  describe(): string {
    const answered = this.acked.size + this.errors + this.implicitAcks;
    return `${this.acked.size} publishes acknowledged, ${this.errors} failed, ${this.#n - answered} waiting for an answer`;
  }

  /** The number the next record will get: every record from it on is published after this call. */
  get next(): number {
    return this.#n;
  }

  /** Stop publishing; resolves once every caller's last publish was answered. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#callers);
  }
}

function recordTopic(name: string) {
  return defineTopic({ name, schema: FaultRecord, key: (r) => r.id });
}

/** Handler runs by id, and the waits that depend on them. */
class Handled {
  readonly counts = new Map<string, number>();
  total = 0;
  constructor(readonly conditions: Conditions) {}
  add(id: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.total++;
    this.conditions.changed();
  }
}

/** Compare what was acknowledged and handled with kcat's read of the log; the common half of every result. */
async function judge(
  fault: FaultName,
  broker: EmbeddedBroker,
  topic: string,
  stream: PublishStream,
  handled: Handled,
  conditions: Conditions,
  extra: { overlaps?: number; problems?: string[]; notes?: Record<string, number | string | boolean> } = {},
): Promise<FaultResult> {
  const problems = [...(extra.problems ?? [])];
  // At-least-once: every acknowledged record reaches a handler. Waited for, not assumed.
  // The stream has stopped: the acknowledged set is final. Each check drops what was handled since the
  // last one and stops at the first record still waiting (checking every record on every handled one
  // took most of a round's time).
  const waiting = new Set([...stream.acked.keys()].filter((id) => !handled.counts.has(id)));
  const allHandled = () => {
    for (const id of waiting) {
      if (!handled.counts.has(id)) return false;
      waiting.delete(id);
    }
    return true;
  };
  try {
    await conditions.until(allHandled, "every acknowledged record to be handled");
  } catch (error) {
    problems.push((error as Error).message);
  }
  const log = await readLog(broker, topic);
  const inLog = new Map<string, { copies: number; at: Set<string> }>();
  for (const record of log) {
    const { id } = JSON.parse(record.payload ?? "null") as { id: string };
    const entry = inLog.get(id) ?? { copies: 0, at: new Set<string>() };
    entry.copies++;
    entry.at.add(`${record.partition}/${record.offset}`);
    inLog.set(id, entry);
  }
  let foundByKcat = 0;
  const missing: string[] = [];
  for (const [id, ack] of stream.acked) {
    if (inLog.get(id)?.at.has(`${ack.partition}/${ack.offset}`)) foundByKcat++;
    else missing.push(`${id} at ${ack.partition}/${ack.offset}`);
  }
  let duplicates = 0;
  for (const [id, entry] of inLog) if (entry.copies > 1) duplicates += entry.copies - 1, problems.push(`${id} is in the log ${entry.copies} times`);
  const handledAcked = [...stream.acked.keys()].filter((id) => handled.counts.has(id)).length;
  const logNotHandled = [...inLog.keys()].filter((id) => !handled.counts.has(id));
  if (missing.length > 0) problems.push(`${missing.length} acknowledged records not in the log, e.g. ${missing.slice(0, 5).join(", ")}`);
  if (logNotHandled.length > 0) problems.push(`${logNotHandled.length} records in the log never handled, e.g. ${logNotHandled.slice(0, 5).join(", ")}`);
  if (stream.implicitAcks > 0) problems.push(`${stream.implicitAcks} publishes resolved with an offset < 0 (implicit acknowledgements)`);
  if ((extra.overlaps ?? 0) > 0) problems.push(`${extra.overlaps} handler runs overlapped another member's run of the same partition`);
  if (stream.acked.size === 0) problems.push("nothing was acknowledged");
  return {
    fault,
    acknowledged: stream.acked.size,
    foundByKcat,
    duplicates,
    handled: handledAcked,
    logNotHandled: logNotHandled.length,
    errors: stream.errors,
    errorMessages: [...stream.errorMessages.keys()],
    implicitAcks: stream.implicitAcks,
    overlaps: extra.overlaps ?? 0,
    problems,
    notes: extra.notes ?? {},
  };
}

/** Outage of each partition leader taken down in fault a (fixed: it is the fault). */
export const LEADER_OUTAGE_MS = 3_000;
/**
 * The members' session in fault b. The mock counts no heartbeat while a
 * rebalance waits for a member (a real broker does, up to the rebalance
 * timeout), so it evicts a member that is still finishing its revocation
 * about this long after the rebalance began: it must be longer than
 * {@link STRAGGLER_BOUND_MS}, or the mock itself hands a straggler's
 * partition over while the straggler runs.
 */
export const GROUP_SESSION_MS = 6_000;
/** Outage of the group coordinator in fault b: longer than the session, so the member's session expires meanwhile. */
export const COORDINATOR_OUTAGE_MS = GROUP_SESSION_MS + 500;

/**
 * Fault a: 12 callers publish through the registry's shared producer (each
 * publish asks `registry.producer(ctx)`, as request handlers do) while the
 * registry's shared consumer handles the topic. The leader of partition 0
 * is down for {@link LEADER_OUTAGE_MS}, then, once records flow again, the
 * leader of another partition on another broker. Both outages are far
 * shorter than the delivery timeout (`message.timeout.ms`, 300 s): no
 * publish may fail.
 */
export async function leaderOutage(options: FaultOptions): Promise<FaultResult> {
  const { broker } = options;
  const id = runId();
  const conditions = new Conditions(options.waitBoundMs ?? 60_000);
  // The mock picks each partition's leader among its replicas at random: all
  // three on one broker happens (1 in 9), and then there is no second broker
  // to take down. A new topic until two leaders differ.
  let topic = recordTopic(`faults-leader-${id}`);
  let leaders = new Map<number, number>();
  for (let attempt = 1;; attempt++) {
    broker.createTopic(topic.name, 3);
    leaders = await partitionLeaders(broker, topic.name);
    if (new Set(leaders.values()).size > 1) break;
    if (attempt === 10) throw new Error(`${attempt} topics had every partition's leader on one broker`);
    topic = recordTopic(`faults-leader-${id}-${attempt}`);
  }
  const first = leaders.get(0)!;
  const secondPartition = [...leaders].find(([, leader]) => leader !== first)![0];
  const second = leaders.get(secondPartition)!;
  const ctx = contextOf(broker);
  const registry = createRegistry({ logger: options.logger ?? silent });
  const handled = new Handled(conditions);
  const stream = new PublishStream(id, conditions);
  const notes: Record<string, number | string | boolean> = { firstLeader: first, secondLeader: second };
  try {
    await registry.consumer(ctx, `faults-leader-${id}`).subscribe(topic, (m) => handled.add(m.value.id)).start();
    stream.start(topic, 12, leaders.size, () => registry.producer(ctx));
    const flowing = async (what: string) => {
      const from = stream.acked.size;
      const fromHandled = handled.total;
      await conditions.until(() => stream.acked.size >= from + 100 && handled.total >= fromHandled + 100, what);
    };
    await flowing("100 records acknowledged and handled before the first outage");
    for (const leader of [first, second]) {
      broker.brokerDown(leader);
      await sleep(LEADER_OUTAGE_MS);
      broker.brokerUp(leader);
      await flowing(`100 more records acknowledged and handled after broker ${leader} came back`);
    }
    await stream.stop();
    return await judge("leader-outage", broker, topic.name, stream, handled, conditions, { notes });
  } finally {
    await stream.stop();
    await registry.close();
  }
}

/** One handler run, for the overlap check of fault b. */
interface Run {
  member: "A" | "B";
  partition: number;
  offset: number;
  start: number;
  end: number;
}

/** Handler runs of one partition by two members at the same time (by a logical clock of starts and ends). */
export function overlappingRuns(runs: readonly Run[]): Run[] {
  const events: Array<{ at: number; run: Run; start: boolean }> = [];
  for (const run of runs) {
    events.push({ at: run.start, run, start: true });
    events.push({ at: run.end, run, start: false });
  }
  events.sort((a, b) => a.at - b.at);
  const running = new Map<number, Set<Run>>();
  const overlaps: Run[] = [];
  for (const { run, start } of events) {
    const here = running.get(run.partition) ?? new Set<Run>();
    running.set(run.partition, here);
    if (!start) {
      here.delete(run);
      continue;
    }
    if ([...here].some((other) => other.member !== run.member)) overlaps.push(run);
    here.add(run);
  }
  return overlaps;
}

/** How long a handler of member A waits, at most, for member B to take its partition over (see {@link coordinatorAndMembers}). */
export const STRAGGLER_BOUND_MS = 5_000;

/**
 * Fault b: one group, two members in two registries (two processes' worth).
 * Member A handles a steady stream alone; the group coordinator goes down
 * for {@link COORDINATOR_OUTAGE_MS}; then member B joins mid-stream and,
 * once it handled records, leaves (its registry closes).
 *
 * Revocation, observed from outside: every handler run is logged with its
 * member, partition, offset and its start and end on one logical clock.
 * The group hands a partition to its next owner only after the previous
 * owner's revocation completed, so if a run of A and a run of B of one
 * partition overlap, A's handler ran after A's revocation of it completed
 * (or B's, when B leaves). To make such a run observable rather than a
 * matter of luck, once B was started the first handler of A on each
 * partition is a straggler: it waits until B handled a record of that
 * partition, at most {@link STRAGGLER_BOUND_MS}. A consumer that completes
 * a revocation only after its handlers of that partition finished holds B
 * off until the straggler gives up (no overlap); one that does not lets B
 * start while the straggler still runs (an overlap). On a machine too slow
 * to rebalance within the bound the check passes without proving anything:
 * it never fails for slowness.
 *
 * What the mock lets this round prove: it waits for members to rejoin for
 * session.timeout.ms − 1 s only (a broker waits the rebalance timeout,
 * `max.poll.interval.ms`) and counts no heartbeat meanwhile, so a straggler
 * longer than the session gets its member evicted and its partition handed
 * over by the mock itself; with a session longer than the straggler
 * ({@link GROUP_SESSION_MS}), the rebalance takes longer than the straggler
 * waits, and an early revocation is not seen here. The overlap check is
 * still sound (it never sees one with a correct consumer);
 * `tests/consumer_revoke.test.ts` times its straggler inside the mock's
 * window and fails for an early revocation.
 *
 * No record skipped: every record in the log (kcat) is handled at least once.
 */
export async function coordinatorAndMembers(options: FaultOptions): Promise<FaultResult> {
  const { broker } = options;
  const id = runId();
  const conditions = new Conditions(options.waitBoundMs ?? 60_000);
  const topic = recordTopic(`faults-group-${id}`);
  const partitions = 3;
  broker.createTopic(topic.name, partitions);
  const group = `faults-group-${id}`;
  const ctx = contextOf(broker, undefined, GROUP_SESSION_MS);
  const logger = options.logger ?? silent;
  const producers = createRegistry({ logger });
  const memberA = createRegistry({ logger });
  const memberB = createRegistry({ logger });
  const handled = new Handled(conditions);
  const stream = new PublishStream(id, conditions);
  const runs: Run[] = [];
  let clock = 0;
  const handledByB = new Set<number>();
  let straggle = false;
  const straggled = new Set<number>();
  let stragglersOverlapped = 0;
  const handler = (member: "A" | "B") => async (m: { partition: number; offset: number; value: { id: string } }) => {
    const run: Run = { member, partition: m.partition, offset: m.offset, start: ++clock, end: Infinity };
    runs.push(run);
    if (member === "A" && straggle && !straggled.has(m.partition)) {
      straggled.add(m.partition);
      const tookOver = await conditions.until(() => handledByB.has(m.partition), `B to handle partition ${m.partition}`, STRAGGLER_BOUND_MS)
        .then(() => true, () => false);
      if (tookOver) stragglersOverlapped++;
    }
    await Promise.resolve();
    run.end = ++clock;
    if (member === "B") handledByB.add(m.partition);
    handled.add(m.value.id);
  };
  const notes: Record<string, number | string | boolean> = {};
  try {
    broker.clearRequests();
    await memberA.consumer(ctx, group).subscribe(topic, handler("A")).start();
    stream.start(topic, 6, partitions, () => producers.producer(ctx));
    const flowing = async (what: string, n = 100) => {
      const from = handled.total;
      await conditions.until(() => handled.total >= from + n, what);
    };
    await flowing("member A to handle 100 records");
    // The coordinator is the broker A's JoinGroup and SyncGroup went to (request tracking).
    const coordinator = broker.requests().find((r) => r.apiKey === 11 || r.apiKey === 14)?.brokerId;
    if (coordinator === undefined) throw new Error("no JoinGroup or SyncGroup request tracked: is request tracking on?");
    notes.coordinator = coordinator;
    broker.brokerDown(coordinator);
    await sleep(COORDINATOR_OUTAGE_MS);
    broker.brokerUp(coordinator);
    await flowing(`100 more records handled after the coordinator (broker ${coordinator}) came back`);

    straggle = true;
    await memberB.consumer(ctx, group).subscribe(topic, handler("B")).start();
    await conditions.until(() => handledByB.size > 0, "member B to handle a record");
    await flowing("100 more records handled with both members");
    await memberB.close();
    const leftAt = clock;
    const partitionsOfA = () => new Set(runs.filter((r) => r.member === "A" && r.start > leftAt).map((r) => r.partition)).size;
    // The mock holds the rebalance after a leave for session.timeout.ms − 1 s; then A owns every partition again.
    await conditions.until(() => partitionsOfA() === partitions, "member A to handle every partition again after B left").catch((error) => {
      // What A looked like then, to tell a stuck drain (buffered, paused) from a member that gets no partitions.
      const stats = memberA.consumer(ctx, group).stats();
      const handledSince = [...new Set(runs.filter((r) => r.member === "A" && r.start > leftAt).map((r) => r.partition))];
      throw new Error(
        `${(error as Error).message} (A handled partitions ${JSON.stringify(handledSince)} since; A's consumer: ${JSON.stringify(stats)}; ` +
          `${stream.describe()})`,
      );
    });
    await flowing("100 more records handled after B left");
    await stream.stop();
    const overlaps = overlappingRuns(runs);
    notes.stragglersOverlapped = stragglersOverlapped;
    notes.partitionsHandledByB = handledByB.size;
    const problems = overlaps.slice(0, 5).map((r) =>
      `member ${r.member} started partition ${r.partition} offset ${r.offset} while the other member ran a handler of that partition`
    );
    return await judge("coordinator-and-members", broker, topic.name, stream, handled, conditions, { overlaps: overlaps.length, problems, notes });
  } finally {
    await stream.stop();
    await Promise.all([memberA.close(), memberB.close()]);
    await producers.close();
  }
}

/** Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER: on the head-of-line Produce request of an idempotent producer, fatal in librdkafka. */
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
const API_PRODUCE = 0;

/**
 * Fault c: a fatal producer error mid-stream. Half of 8 callers hold the
 * producer handle they got first, half ask `registry.producer(ctx)` for
 * each publish. The broker answers one Produce request with
 * OUT_OF_ORDER_SEQUENCE_NUMBER: with one request in flight per connection
 * (`max.in.flight.requests.per.connection` 1, so no batch is pipelined
 * behind it and nothing is implicitly acknowledged), it is the
 * head-of-line request, and librdkafka raises a fatal error ("sequence
 * desynchronization"). The records of that client that were not
 * acknowledged reject (errors surfaced, not counted as acknowledged); the
 * handle is retired, `registry.producer(ctx)` gives a fresh client,
 * `stats()` counts it, and both kinds of caller go on publishing.
 */
export async function fatalProducer(options: FaultOptions): Promise<FaultResult> {
  const { broker } = options;
  const id = runId();
  const conditions = new Conditions(options.waitBoundMs ?? 60_000);
  const topic = recordTopic(`faults-fatal-${id}`);
  const partitions = 3;
  broker.createTopic(topic.name, partitions);
  const ctx = contextOf(broker, { "max.in.flight.requests.per.connection": 1 });
  const registry = createRegistry({ logger: options.logger ?? silent });
  const handled = new Handled(conditions);
  const stream = new PublishStream(id, conditions);
  const notes: Record<string, number | string | boolean> = {};
  try {
    await registry.consumer(ctx, `faults-fatal-${id}`).subscribe(topic, (m) => handled.add(m.value.id)).start();
    const first = await registry.producer(ctx);
    const fingerprint = first.fingerprint;
    const created = () => registry.stats().contexts[fingerprint]?.clientsCreated ?? 0;
    const liveProducers = () => registry.stats().contexts[fingerprint]?.liveProducers ?? 0;
    const createdBefore = created();
    stream.start(topic, 8, partitions, (caller) => caller % 2 === 0 ? Promise.resolve(first) : registry.producer(ctx));
    await conditions.until(() => stream.acked.size >= 100, "100 records acknowledged before the fault");
    broker.pushRequestErrors(API_PRODUCE, [OUT_OF_ORDER_SEQUENCE_NUMBER]);
    // The fatal error reaches kshare through an event of its own; its visible effect is a rejected publish.
    await conditions.until(() => stream.errors > 0, "a publish to reject with the fatal error");
    // The registry retires the handle on the client's fatal event, which may come a moment after the rejection.
    await conditions.until(() => first.retired, "the producer handle to be retired");
    const fresh = await registry.producer(ctx);
    notes.freshHandle = fresh !== first && !fresh.retired;
    notes.clientsCreatedByFault = created() - createdBefore;
    notes.liveProducers = liveProducers();
    const ackedAtFault = stream.acked.size;
    // Publishes begun from here on go to the fresh client (a retired handle forwards): none may fail.
    const firstAfterRecovery = stream.next;
    await conditions.until(() => stream.acked.size >= ackedAtFault + 200, "200 more records acknowledged after the fatal error");
    await stream.stop();
    notes.errorsAfterRecovery = stream.failed.filter((n) => n >= firstAfterRecovery).length;
    return await judge("fatal-producer", broker, topic.name, stream, handled, conditions, { notes });
  } finally {
    await stream.stop();
    await registry.close();
  }
}

/** Every fault, by name, for the bench. */
export const faults: Readonly<Record<FaultName, (options: FaultOptions) => Promise<FaultResult>>> = {
  "leader-outage": leaderOutage,
  "coordinator-and-members": coordinatorAndMembers,
  "fatal-producer": fatalProducer,
};
