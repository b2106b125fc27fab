/**
 * Consuming N topics in one consumer group: one shared consumer subscribed
 * to all N (kshare's way) versus N consumers of the same group, one per topic.
 * Measured: the time from `start()` until every topic's first message was
 * handled, the rebalances the members went through, and (through the probe)
 * the broker connections and JoinGroup requests.
 *
 * Setup, outside the measurement: one message is written to each topic (by a
 * producer that is closed again); the group is new, and its members read from
 * the earliest offset (kshare's default).
 *
 * @module
 */
import { createRegistry, type KafkaDriver, type SecurityContext } from "../../mod.ts";
import { benchTopic, MESSAGE_VALUE } from "../_util.ts";
import { benchDriver, countingLogger } from "./_driver.ts";
import type { Probe } from "./_probe.ts";
import { type ProcessSample, sampleProcess } from "./_stats.ts";

/** Options of {@link measureConsume}. */
export interface ConsumeScenario {
  readonly bootstrapServers: string;
  /** Existing topics, each consumed by the group. */
  readonly topics: readonly string[];
  readonly mode: "shared" | "separate";
  /** A group id not used before. */
  readonly groupId: string;
  /** Give up waiting for first messages after this long. */
  readonly timeoutMs: number;
  /** librdkafka consumer properties on top of kshare's defaults. */
  readonly consumer?: Readonly<Record<string, string | number>>;
}

/** What {@link measureConsume} measured (broker counters come from the probe). */
export interface ConsumeResult extends ProcessSample {
  readonly scenario: "consume";
  readonly driver: string;
  readonly librdkafkaVersion: string;
  /** Consumer clients (group members) created. */
  readonly consumers: number;
  /** Topics whose first message was handled before the timeout. */
  readonly topicsReached: number;
  /** Seconds from `start()` to the last topic's first message; null when the timeout came first. */
  readonly firstMessagesSeconds: number | null;
  /** Partition assignments received, summed over members: one per member per rebalance. */
  readonly assignments: number;
  /** Revocations, summed over members. */
  readonly revocations: number;
  /** Seconds `registry.close()` took (commit and leave the group, every member). */
  readonly closeSeconds: number;
}

/** A driver that counts its consumers' rebalance callbacks. */
function countRebalances(driver: KafkaDriver, counts: { assignments: number; revocations: number }): KafkaDriver {
  return {
    name: driver.name,
    librdkafkaVersion: driver.librdkafkaVersion,
    createProducer: (config, events) => driver.createProducer(config, events),
    createConsumer: (config, events) =>
      driver.createConsumer(config, {
        onFatal: (error) => events.onFatal(error),
        onError: (error) => events.onError?.(error),
        onAssign: (partitions) => {
          counts.assignments++;
          events.onAssign(partitions);
        },
        onRevoke: (partitions) => {
          counts.revocations++;
          return events.onRevoke(partitions); // the driver unassigns once kshare's revocation settled
        },
      }),
  };
}

/** Run the consume scenario; see the module doc. */
export async function measureConsume(options: ConsumeScenario, probe: Probe): Promise<ConsumeResult> {
  const driver = await benchDriver();
  const topics = options.topics.map((name) => benchTopic(name));
  const base: SecurityContext = { bootstrapServers: options.bootstrapServers, consumer: { ...options.consumer } };

  const seeder = createRegistry({ driver });
  try {
    const producer = await seeder.producer({ bootstrapServers: options.bootstrapServers });
    await Promise.all(topics.map((topic) => producer.publish(topic, MESSAGE_VALUE)));
  } finally {
    await seeder.close();
  }

  const counts = { assignments: 0, revocations: 0 };
  const logger = countingLogger();
  const registry = createRegistry({ driver: countRebalances(driver, counts), logger });
  let closeSeconds = NaN;
  try {
    await probe.mark("warm");
    const sampler = sampleProcess();
    const reached = new Set<string>();
    let allReached!: () => void;
    const done = new Promise<void>((resolve) => (allReached = resolve));
    let lastFirst = 0;
    const begin = performance.now();
    const onMessage = (topic: string) => {
      if (reached.has(topic)) return;
      reached.add(topic);
      lastFirst = performance.now();
      if (reached.size === topics.length) allReached();
    };
    const consumers = options.mode === "shared"
      ? [topics.reduce((consumer, topic) => consumer.subscribe(topic, () => onMessage(topic.name)), registry.consumer(base, options.groupId))]
      : topics.map((topic, i) => registry.consumer({ ...base, isolation: `member-${i}` }, options.groupId).subscribe(topic, () => onMessage(topic.name)));
    await Promise.all(consumers.map((consumer) => consumer.start()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, options.timeoutMs)))]);
    clearTimeout(timer);
    await probe.mark("done");
    const sample = sampler.stop();
    const closing = performance.now();
    await registry.close();
    closeSeconds = (performance.now() - closing) / 1000;
    // Every connection the consumers opened, from its first request to its last: the count read at `done`
    // races with connections still being set up when the first messages arrive.
    await probe.mark("closed");
    return {
      scenario: "consume",
      driver: driver.name,
      librdkafkaVersion: driver.librdkafkaVersion,
      consumers: consumers.length,
      topicsReached: reached.size,
      firstMessagesSeconds: reached.size === topics.length ? (lastFirst - begin) / 1000 : null,
      ...counts,
      closeSeconds,
      ...sample,
    };
  } finally {
    await registry.close();
  }
}
