/**
 * The throughput scenario (issue 3's acceptance benchmark, issue 5's item 4):
 * publish N × 100-byte records through kshare's shared producer and await
 * every delivery report, or (issue 16) publish them with `publishAndForget`
 * and flush. `throughput.ts` runs it as a command line; `throughput_all.ts`
 * runs that command on every runtime beside `kcat -P`.
 *
 * @module
 */
import { createRegistry, type KafkaDriver } from "../mod.ts";
import { benchTopic, cpuSeconds, forgetAll, MESSAGE_BYTES, peakRssBytes, publishAll, rssBytes } from "./_util.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

/** Which driver the registry gets: the runtime's default, or one named. */
export type DriverChoice = "default" | "ffi" | "confluent";

/** Options of {@link measureThroughput}. */
export interface ThroughputOptions {
  /** `host:port,…` of the cluster. */
  readonly bootstrapServers: string;
  /** An existing topic with `partitions` partitions. */
  readonly topic: string;
  readonly partitions: number;
  /** Records to publish (not counting one warm-up record per partition). */
  readonly messages: number;
  /**
   * Awaited: publishes outstanding at most (0: all at once). Forgotten: how
   * many records between two turns of the event loop (0: none until the
   * queue is full).
   */
  readonly inFlight: number;
  /** `publishAndForget` then `flush()` instead of awaiting each publish. */
  readonly forget?: boolean;
  readonly driver: DriverChoice;
  /** librdkafka producer properties on top of kshare's defaults (acks=all, idempotence on). */
  readonly producer?: Readonly<Record<string, string | number>>;
}

/** What one run measured. Printed as one JSON line by `throughput.ts --json`. */
export interface ThroughputResult {
  readonly runtime: string;
  readonly runtimeVersion: string;
  readonly driver: string;
  readonly librdkafkaVersion: string;
  readonly messages: number;
  /** Warm-up records written before the clock started (one per partition). */
  readonly warmup: number;
  readonly inFlight: number;
  readonly forget: boolean;
  /** From the first publish to the last delivery report. */
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** Payload megabytes (10^6 bytes) per second. */
  readonly megabytesPerSecond: number;
  /** CPU of the whole process (all threads) while publishing, in seconds: above `seconds` means more than one core. */
  readonly cpuSeconds: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly peakRssBytes: number;
}

async function loadDriver(choice: DriverChoice): Promise<KafkaDriver | undefined> {
  // Drivers are loaded the way the registry loads its default: by dynamic import, on the runtime that can run them.
  if (choice === "ffi") return (await import("../src/drivers/ffi/driver.ts")).ffiDriver();
  if (choice === "confluent") return (await import("../src/drivers/confluent.ts")).confluentDriver();
  return undefined;
}

/**
 * Connect a producer, warm it up (one record per partition, so every leader
 * is connected before the clock starts), then publish `messages` records
 * and await all their delivery reports.
 */
export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const driver = await loadDriver(options.driver);
  let undelivered = 0;
  const registry = createRegistry({ ...(driver ? { driver } : {}), onDeliveryError: () => void undelivered++ });
  try {
    const producer = await registry.producer({ bootstrapServers: options.bootstrapServers, producer: options.producer ?? {} });
    const topic = benchTopic(options.topic);
    await Promise.all(Array.from({ length: options.partitions }, (_, partition) => producer.publish(topic, "warm-up", { partition })));

    const rssBefore = rssBytes();
    const cpuBefore = cpuSeconds();
    const started = performance.now();
    if (options.forget) await forgetAll(producer, topic, options.messages, options.inFlight);
    else await publishAll(producer, topic, options.messages, options.inFlight);
    const seconds = (performance.now() - started) / 1000;
    if (undelivered > 0) throw new Error(`${undelivered} forgotten records were not delivered`);
    const cpu = cpuSeconds() - cpuBefore;
    const rssAfter = rssBytes();

    const info = registry.stats().driver!;
    return {
      runtime: runtimeName(),
      runtimeVersion: runtimeVersion(),
      driver: info.name,
      librdkafkaVersion: info.librdkafkaVersion,
      messages: options.messages,
      warmup: options.partitions,
      inFlight: options.inFlight,
      forget: options.forget ?? false,
      seconds,
      messagesPerSecond: options.messages / seconds,
      megabytesPerSecond: (options.messages * MESSAGE_BYTES) / 1e6 / seconds,
      cpuSeconds: cpu,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      peakRssBytes: peakRssBytes(),
    };
  } finally {
    await registry.close();
  }
}
