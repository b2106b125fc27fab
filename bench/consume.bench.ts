/**
 * Consuming N topics (N = 1, 10, 50) in one consumer group: one shared
 * consumer subscribed to all of them (baseline) versus N consumers of the
 * same group, one per topic. An iteration is the time from `start()` until
 * every topic's first message was handled; the topics, their one message
 * and the group are new for each iteration (set up outside the measured
 * part). Rebalances and broker connections per iteration are printed after
 * the tables.
 *
 *   npx deno bench -A bench/consume.bench.ts
 *
 * Both sides use `session.timeout.ms=6000, heartbeat.interval.ms=500`: the
 * embedded broker's coordinator holds each rebalance of a non-empty group
 * for the session timeout minus 1 s, so librdkafka's default (45 s) would
 * make the N-consumer side take minutes here (see bench/RESULTS.md).
 *
 * @module
 */
import { startEmbeddedBroker } from "../testing.ts";
import { bench, type BenchContext, teardown } from "./scenarios/_deno_bench_api.ts";
import { between, type BrokerCounters, brokerProbe, type Probe } from "./scenarios/_probe.ts";
import { measureConsume } from "./scenarios/consume.ts";

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
// log_level 3: librdkafka's warnings about commits during the N-consumer rebalances would bury the tables.
const CONSUMER = { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "log_level": 3 };
let sequence = 0;

/** Per bench: the counters of each iteration. */
const seen = new Map<string, Array<{ assignments: number; counters: BrokerCounters; seconds: number | null }>>();

/** A probe whose marks delimit the measured part of the iteration. */
function timing(b: BenchContext): Probe & { readonly marks: Record<string, BrokerCounters> } {
  const inner = brokerProbe(broker);
  return {
    marks: inner.marks,
    async mark(label) {
      if (label === "done") b.end();
      await inner.mark(label);
      if (label === "warm") b.start();
    },
  };
}

for (const count of [1, 10, 50]) {
  const group = `first message of each of ${count} topic(s)`;
  for (const mode of ["shared", "separate"] as const) {
    const name = mode === "shared" ? "one shared consumer" : count === 1 ? "1 consumer (separate)" : `${count} consumers, same group`;
    const slow = mode === "separate" && count > 1;
    bench({
      name,
      group,
      baseline: mode === "shared",
      n: slow ? 1 : 3,
      warmup: slow ? 0 : 1,
      async fn(b) {
        const id = `consume-bench-${++sequence}`;
        const topics = Array.from({ length: count }, (_, i) => `${id}-t${i}`);
        for (const topic of topics) broker.createTopic(topic, 3, 1);
        const probe = timing(b);
        const result = await measureConsume({
          bootstrapServers: broker.bootstrapServers,
          topics,
          mode,
          groupId: `${id}-group`,
          timeoutMs: 60_000,
          consumer: CONSUMER,
        }, probe);
        const runs = seen.get(`${group}: ${name}`) ?? [];
        runs.push({ assignments: result.assignments, counters: between(probe.marks.warm!, probe.marks.done!), seconds: result.firstMessagesSeconds });
        seen.set(`${group}: ${name}`, runs);
      },
    });
  }
}

teardown(async () => {
  await broker.stop();
  console.log("\nPer iteration: seconds to every first message | rebalances (assignments, all members) | JoinGroup requests | broker connections");
  for (const [name, runs] of seen) {
    console.log(
      `${name}: ` +
        runs.map((r) => `${r.seconds?.toFixed(2) ?? "timed out"} s | ${r.assignments} | ${r.counters.joinGroups} | ${r.counters.connections}`).join("; "),
    );
  }
});
