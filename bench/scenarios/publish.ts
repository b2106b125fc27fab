/**
 * Publish one 100-byte message and await its delivery report, repeatedly,
 * from `callers` concurrent callers:
 *
 * - `shared`: every publish goes through `await registry.producer(ctx)`, the
 *   shared producer of the context (kshare's way);
 * - `recreated`: every publish creates a registry, connects its producer,
 *   publishes and closes it (a producer per message, the naive way).
 *
 * Setup, outside the measurement: the driver is loaded once per process;
 * `shared` gets its producer from all callers at once and writes one record
 * to every partition (so every partition leader is connected), `recreated`
 * runs one full cycle. Then the probe's `warm` mark, the measured phase,
 * and the `done` mark.
 *
 * @module
 */
import { createRegistry, type KafkaDriver, type Logger, type SecurityContext } from "../../mod.ts";
import { benchTopic, MESSAGE_VALUE } from "../_util.ts";
import { benchDriver, countingLogger } from "./_driver.ts";
import type { Probe } from "./_probe.ts";
import { type LatencySummary, type ProcessSample, sampleProcess, summarize } from "./_stats.ts";

/** Options of {@link measurePublish}. */
export interface PublishScenario {
  readonly bootstrapServers: string;
  /** An existing topic. */
  readonly topic: string;
  /** Its partition count (the shared warm-up writes to each). */
  readonly partitions: number;
  readonly mode: "shared" | "recreated";
  /** kshare's defaults (acks=all, idempotence) when true; `enable.idempotence=false, acks=1` when false. */
  readonly idempotent: boolean;
  /** Concurrent callers, each awaiting its publish before the next. */
  readonly callers: number;
  /** Stop after this many publishes... */
  readonly maxOps: number;
  /** ...or once this much time passed (publishes started before it finish). */
  readonly maxSeconds: number;
  /** Extra librdkafka producer properties, e.g. `{ "linger.ms": 0 }`. */
  readonly producer?: Readonly<Record<string, string | number>>;
}

/** What {@link measurePublish} measured (broker counters come from the probe). */
export interface PublishResult extends LatencySummary, ProcessSample {
  readonly scenario: "publish";
  readonly driver: string;
  readonly librdkafkaVersion: string;
  /** Producer clients created during the measured phase. */
  readonly clientsCreated: number;
  /** Warnings and errors kshare logged (quietly counted). */
  readonly warnings: number;
}

/** The security context of a scenario: kshare's defaults, or without idempotence. */
export function publishContext(options: Pick<PublishScenario, "bootstrapServers" | "idempotent" | "producer">): SecurityContext {
  return {
    bootstrapServers: options.bootstrapServers,
    producer: {
      ...(options.idempotent ? {} : { "enable.idempotence": false, acks: "1" }),
      ...options.producer,
    },
  };
}

/** Publishing one way; see {@link publisher}. */
export interface Publisher {
  /** Set up outside any measurement: see the module doc. */
  warmUp(callers: number, partitions: number): Promise<void>;
  /** Publish one message; resolves once its delivery report arrived. */
  publishOnce(): Promise<void>;
  /** Producer clients created so far. */
  clientsCreated(): number;
  /** Close what is still open (the shared registry). */
  close(): Promise<void>;
}

/**
 * Publishing of one mode on `driver`: `shared` looks the shared producer up
 * for every publish; `recreated` creates, connects and closes a registry
 * (and so a producer) for every publish.
 */
export function publisher(mode: "shared" | "recreated", driver: KafkaDriver, ctx: SecurityContext, topicName: string, logger: Logger): Publisher {
  const topic = benchTopic(topicName);
  const shared = createRegistry({ driver, logger });
  let perMessage = 0;
  const publishOnce = mode === "shared"
    ? async () => {
      const producer = await shared.producer(ctx);
      await producer.publish(topic, MESSAGE_VALUE);
    }
    : async () => {
      const registry = createRegistry({ driver, logger });
      try {
        const producer = await registry.producer(ctx);
        await producer.publish(topic, MESSAGE_VALUE);
      } finally {
        await registry.close();
        perMessage++;
      }
    };
  return {
    async warmUp(callers, partitions) {
      if (mode === "recreated") return await publishOnce();
      const [producer] = await Promise.all(Array.from({ length: callers }, () => shared.producer(ctx)));
      await Promise.all(Array.from({ length: partitions }, (_, partition) => producer!.publish(topic, MESSAGE_VALUE, { partition })));
    },
    publishOnce,
    clientsCreated: () => perMessage + Object.values(shared.stats().contexts).reduce((sum, c) => sum + c.clientsCreated, 0),
    close: () => shared.close(),
  };
}

/** Run the publish scenario; see the module doc. */
export async function measurePublish(options: PublishScenario, probe: Probe): Promise<PublishResult> {
  const driver = await benchDriver();
  const logger = countingLogger();
  const way = publisher(options.mode, driver, publishContext(options), options.topic, logger);
  try {
    await way.warmUp(options.callers, options.partitions);
    const createdBefore = way.clientsCreated();
    await probe.mark("warm");

    const sampler = sampleProcess();
    const latencies = new Float64Array(options.maxOps);
    let started = 0;
    let finished = 0;
    const begin = performance.now();
    const deadline = begin + options.maxSeconds * 1000;
    const caller = async () => {
      while (started < options.maxOps && performance.now() < deadline) {
        started++;
        const t0 = performance.now();
        await way.publishOnce();
        latencies[finished++] = performance.now() - t0;
      }
    };
    await Promise.all(Array.from({ length: options.callers }, caller));
    const seconds = (performance.now() - begin) / 1000;
    await probe.mark("done");
    const sample = sampler.stop();

    return {
      scenario: "publish",
      driver: driver.name,
      librdkafkaVersion: driver.librdkafkaVersion,
      ...summarize(latencies.subarray(0, finished), seconds),
      ...sample,
      clientsCreated: way.clientsCreated() - createdBefore,
      warnings: logger.warnings + logger.errors,
    };
  } finally {
    await way.close();
  }
}
