/**
 * The registry: one shared producer per security context, one consumer per
 * (security context, group), created lazily and closed together.
 *
 * @module
 */
import type { KafkaDriver, ProducerClient, ProducerConfig } from "./driver.ts";
import { ClosedError, ConnectError, redact } from "./errors.ts";
import { type Consumer, type ConsumerOwner, SharedConsumer } from "./consumer.ts";
import { type Producer, ProducerHandle } from "./producer.ts";
import {
  consumerConfig,
  producerConfig,
  type ResolvedSecurityContext,
  resolveSecurityContext,
  type SecurityContext,
} from "./security_context.ts";
import { backoff, delay, type Logger, messageOf, signal } from "./_util.ts";

/**
 * Options of {@link createRegistry}.
 *
 * @example A registry with its own bounds and logger
 * ```ts
 * import { createRegistry, type RegistryOptions } from "@kshare/kshare";
 * const options: RegistryOptions = {
 *   closeTimeoutMs: 5_000,
 *   retryBackoffMs: 250,
 *   maxRetryBackoffMs: 30_000,
 *   logger: { warn: () => {}, error: (message, fields) => console.error(message, fields) },
 * };
 * const kafka = createRegistry(options);
 * ```
 */
export interface RegistryOptions {
  /**
   * The Kafka driver, or a function that loads it. Default: the Confluent
   * client on Node, the librdkafka FFI driver on Deno and Bun, loaded on first use.
   */
  readonly driver?: KafkaDriver | (() => Promise<KafkaDriver>);
  /** Bound on flushing each producer and draining each consumer at close (default 10 000 ms). */
  readonly closeTimeoutMs?: number;
  /**
   * Most records each producer holds waiting for room while librdkafka's queue
   * (`queue.buffering.max.messages`, `queue.buffering.max.kbytes`) is full
   * (default 100 000; `Infinity`: no bound). Past it a publish is refused at
   * once with `QueueFullError`, nothing sent.
   */
  readonly maxWaitingRecords?: number;
  /**
   * Most bytes (keys, values, headers) each producer holds waiting for room in
   * librdkafka's queue (default 64 MiB; `Infinity`: no bound). Past it a
   * publish is refused at once with `QueueFullError`.
   */
  readonly maxWaitingBytes?: number;
  /** First delay before retrying a failed connect; doubles per failure (default 100 ms). */
  readonly retryBackoffMs?: number;
  /** Upper bound of the retry delay (default 10 000 ms). */
  readonly maxRetryBackoffMs?: number;
  /** Where warnings and errors go (default `console`). Never receives a secret. */
  readonly logger?: Logger;
}

/**
 * Counters of one security context.
 *
 * @example Watching reuse
 * ```ts
 * import { type ContextStats, registry } from "@kshare/kshare";
 * const line = (s: ContextStats) =>
 *   `${s.description}: ${s.clientsCreated} created, ${s.handlesReused} reused, ${s.connectFailures} failed`;
 * for (const [fingerprint, stats] of Object.entries(registry.stats().contexts)) {
 *   console.log(fingerprint, line(stats), stats.liveProducers, stats.liveConsumers);
 * }
 * ```
 */
export interface ContextStats {
  /** Redacted description of the context. */
  readonly description: string;
  /** Producer and consumer clients created (connections set up). */
  readonly clientsCreated: number;
  /** Calls served by an existing (or already connecting) client. */
  readonly handlesReused: number;
  /** Failed connection attempts. */
  readonly connectFailures: number;
  /** Producers connected and not retired. */
  readonly liveProducers: number;
  /** Consumers connected and not closed. */
  readonly liveConsumers: number;
}

/**
 * Everything {@link Registry.stats} reports.
 *
 * @example A health summary
 * ```ts
 * import { registry, type RegistryStats } from "@kshare/kshare";
 * const stats: RegistryStats = registry.stats();
 * console.log(stats.driver ? `${stats.driver.name} (librdkafka ${stats.driver.librdkafkaVersion})` : "driver not loaded yet");
 * const contexts = Object.values(stats.contexts);
 * const live = contexts.reduce((n, c) => n + c.liveProducers + c.liveConsumers, 0);
 * console.log(`${live} live clients over ${contexts.length} security contexts`);
 * ```
 */
export interface RegistryStats {
  /** The driver in use, once loaded. */
  readonly driver: { readonly name: string; readonly librdkafkaVersion: string } | null;
  /** Per security context, by fingerprint. */
  readonly contexts: Readonly<Record<string, ContextStats>>;
}

/**
 * Shared Kafka clients keyed by security context.
 *
 * @example Passing a registry to the code that publishes
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic, type Registry } from "@kshare/kshare";
 *
 * const audit = defineTopic({ name: "audit", schema: v.object({ event: v.string() }) });
 * async function record(kafka: Registry, event: string): Promise<void> {
 *   const producer = await kafka.producer({ bootstrapServers: "localhost:9092" });
 *   await producer.publish(audit, { event });
 * }
 *
 * await using kafka = createRegistry(); // closed at the end of the scope
 * await record(kafka, "login");
 * ```
 */
export interface Registry extends AsyncDisposable {
  /**
   * The shared producer of `ctx`. Connects on first use; concurrent first
   * calls share one connection attempt; a failed attempt is not cached (the
   * next call retries after a backoff); a producer that hit a fatal error is
   * replaced by a fresh one on the next call.
   */
  producer(ctx: SecurityContext): Promise<Producer>;
  /** The one consumer of `groupId` in `ctx` (created on first call, connected by its `start()`). */
  consumer(ctx: SecurityContext, groupId: string): Consumer;
  /** Counters per security context. */
  stats(): RegistryStats;
  /**
   * Close every consumer (commit, leave the group), then flush and close every
   * producer, each within `closeTimeoutMs`. Publishes after this reject with
   * {@link ClosedError}. Safe to call more than once.
   */
  close(): Promise<void>;
  /** True once `close()` was called. */
  readonly closed: boolean;
}

interface Counters {
  description: string;
  clientsCreated: number;
  handlesReused: number;
  connectFailures: number;
  liveConsumers: number;
}

interface ProducerEntry {
  readonly resolved: ResolvedSecurityContext;
  /** The context's counters (also reachable by fingerprint through `#counters`). */
  readonly counters: Counters;
  handle?: ProducerHandle;
  /**
   * `Promise.resolve(handle)`, made once when the handle goes live and returned
   * to every later call: a warm lookup allocates nothing. Set and cleared
   * together with `handle` (retirement, close), so it never serves a retired
   * handle; a failed connect never sets it.
   */
  ready?: Promise<Producer>;
  client?: ProducerClient;
  connecting?: Promise<ProducerHandle>;
  failures: number;
  retryAt: number;
}

/**
 * Create a registry. Most applications use the module-scoped default
 * {@link registry}; create your own for tests or for a separate failure domain.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 *
 * const kafka = createRegistry({ closeTimeoutMs: 5_000 });
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await kafka.producer({ bootstrapServers: "localhost:9092" });
 * await producer.publish(orders, { id: "o-1" });
 * await kafka.close();
 * ```
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  return new KafkaRegistry(options);
}

/** Failed producer contexts remembered (with their backoff and counters) per registry. */
const MAX_FAILED_PRODUCERS = 256;

class KafkaRegistry implements Registry {
  #options: RegistryOptions;
  #logger: Logger;
  #closeTimeoutMs: number;
  #driver: Promise<KafkaDriver> | undefined;
  #driverInfo: RegistryStats["driver"] = null;
  #counters = new Map<string, Counters>();
  #producers = new Map<string, ProducerEntry>();
  /**
   * Fingerprints of producer entries whose last connect failed, least recent
   * first. Contexts may come from callers (a wrong password is a new
   * context), so only {@link MAX_FAILED_PRODUCERS} are remembered with their
   * backoff; past that the least recent is forgotten.
   */
  #failed = new Set<string>();
  #consumers = new Map<string, SharedConsumer>();
  #retiring = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  #closeSignal = signal();

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#logger = options.logger ?? console;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  producer(ctx: SecurityContext): Promise<Producer> {
    if (this.#closing) return Promise.reject(new ClosedError("The registry"));
    let resolved: ResolvedSecurityContext;
    try {
      resolved = resolveSecurityContext(ctx);
    } catch (error) {
      return Promise.reject(error);
    }
    const entry = this.#producers.get(resolved.fingerprint);
    if (entry?.ready) {
      entry.counters.handlesReused++;
      return entry.ready;
    }
    return this.#producerOf(resolved, entry);
  }

  /** {@link producer} without a live handle: join the connection attempt under way, or start one. */
  #producerOf(resolved: ResolvedSecurityContext, found: ProducerEntry | undefined): Promise<Producer> {
    let entry = found;
    if (!entry) this.#producers.set(resolved.fingerprint, entry = { resolved, counters: this.#countersOf(resolved), failures: 0, retryAt: 0 });
    if (entry.connecting) {
      entry.counters.handlesReused++;
      return entry.connecting;
    }
    const connecting = this.#connectProducer(entry);
    entry.connecting = connecting;
    connecting.then(
      () => entry.connecting === connecting && (entry.connecting = undefined),
      () => entry.connecting === connecting && (entry.connecting = undefined),
    );
    return connecting;
  }

  async #connectProducer(entry: ProducerEntry): Promise<ProducerHandle> {
    const wait = entry.retryAt - Date.now();
    if (wait > 0) await delay(wait, this.#closeSignal.promise);
    if (this.#closing) throw new ClosedError("The registry");
    const driver = await this.#loadDriver();
    const { resolved, counters } = entry;
    const { maxWaitingRecords, maxWaitingBytes } = this.#options;
    const config: ProducerConfig = { ...producerConfig(resolved), maxWaitingRecords, maxWaitingBytes };
    let handle: ProducerHandle | undefined;
    let fatal: Error | undefined;
    let client: ProducerClient;
    try {
      client = await driver.createProducer(config, {
        onFatal: (error) => {
          fatal = error;
          if (handle) this.#retire(entry, handle, error);
        },
        onError: (error) =>
          this.#logger.warn("kshare: producer error", {
            context: resolved.fingerprint,
            error: redact(error.message, config.secretProperties.map((p) => config.properties[p] ?? "")),
          }),
      });
    } catch (error) {
      counters.connectFailures++;
      this.#noteFailure(entry);
      throw new ConnectError(`Could not connect a producer for ${resolved.description}`, { cause: error });
    }
    counters.clientsCreated++;
    if (fatal) {
      // Fatal before we could hand it out: never give a caller a dead client.
      this.#noteFailure(entry);
      await client.close(0).catch(() => {});
      throw new ConnectError(`Producer for ${resolved.description} failed at start`, { cause: fatal });
    }
    entry.failures = 0;
    this.#failed.delete(resolved.fingerprint);
    const registry = this;
    handle = new ProducerHandle(resolved.fingerprint, client, {
      reacquire: () => registry.producer(resolved.context),
      get closing() {
        return registry.closed;
      },
    });
    entry.handle = handle;
    entry.ready = Promise.resolve(handle);
    entry.client = client;
    if (this.#closing) throw new ClosedError("The registry");
    return handle;
  }

  /**
   * A connect of `entry` failed: the next waits a jittered exponential backoff.
   * Remember it as failed; forget the least recent failed entry past {@link MAX_FAILED_PRODUCERS}.
   */
  #noteFailure(entry: ProducerEntry): void {
    entry.failures++;
    entry.retryAt = Date.now() + backoff(entry.failures, this.#options.retryBackoffMs ?? 100, this.#options.maxRetryBackoffMs ?? 10_000);
    const fingerprint = entry.resolved.fingerprint;
    this.#failed.delete(fingerprint);
    this.#failed.add(fingerprint);
    if (this.#failed.size <= MAX_FAILED_PRODUCERS) return;
    const oldest = this.#failed.values().next().value!;
    this.#failed.delete(oldest);
    const stale = this.#producers.get(oldest);
    if (!stale || stale.handle || stale.connecting) return; // in use again: it is no longer a failed entry
    this.#producers.delete(oldest);
    const prefix = `${oldest}/`;
    if (![...this.#consumers.keys()].some((key) => key.startsWith(prefix))) this.#counters.delete(oldest);
  }

  /** Take a producer whose client hit a fatal error out of service; the next call creates a new one. */
  #retire(entry: ProducerEntry, handle: ProducerHandle, error: Error): void {
    if (entry.handle !== handle) return;
    const client = entry.client!;
    entry.handle = undefined;
    entry.ready = undefined;
    entry.client = undefined;
    handle.retire();
    this.#logger.error("kshare: producer hit a fatal error; it is retired and the next call connects a new one", {
      context: entry.resolved.fingerprint,
      error: error.message,
    });
    const closing = client.close(this.#closeTimeoutMs).catch((e) =>
      this.#logger.warn("kshare: closing a retired producer failed", { context: entry.resolved.fingerprint, error: messageOf(e) })
    ).finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }

  consumer(ctx: SecurityContext, groupId: string): Consumer {
    if (this.#closing) throw new ClosedError("The registry");
    if (typeof groupId !== "string" || groupId.trim() === "") {
      throw new TypeError("groupId must be a non-empty string");
    }
    const resolved = resolveSecurityContext(ctx);
    const counters = this.#countersOf(resolved);
    const key = `${resolved.fingerprint}/${groupId}`;
    const existing = this.#consumers.get(key);
    if (existing) {
      counters.handlesReused++;
      return existing;
    }
    let live = false;
    /** No client of this consumer is live any more (it was lost at start, or the consumer closed). */
    const notLive = () => {
      if (live) counters.liveConsumers--;
      live = false;
    };
    const owner: ConsumerOwner = {
      logger: this.#logger,
      closeTimeoutMs: this.#closeTimeoutMs,
      connect: async (events) => {
        const driver = await this.#loadDriver();
        try {
          const client = await driver.createConsumer(consumerConfig(resolved, groupId), events);
          counters.clientsCreated++;
          if (!live) counters.liveConsumers++; // a replacement after a fatal error is the same live consumer
          live = true;
          return client;
        } catch (error) {
          counters.connectFailures++;
          throw new ConnectError(`Could not connect a consumer for ${resolved.description} group=${groupId}`, { cause: error });
        }
      },
      lost: notLive,
      closed: (consumer) => {
        notLive();
        if (this.#consumers.get(key) === consumer) this.#consumers.delete(key);
      },
    };
    const consumer = new SharedConsumer(resolved.fingerprint, groupId, owner);
    this.#consumers.set(key, consumer);
    return consumer;
  }

  stats(): RegistryStats {
    const contexts: Record<string, ContextStats> = {};
    for (const [fingerprint, c] of this.#counters) {
      const entry = this.#producers.get(fingerprint);
      contexts[fingerprint] = {
        description: c.description,
        clientsCreated: c.clientsCreated,
        handlesReused: c.handlesReused,
        connectFailures: c.connectFailures,
        liveProducers: entry?.handle ? 1 : 0,
        liveConsumers: c.liveConsumers,
      };
    }
    return { driver: this.#driverInfo, contexts };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closeSignal.resolve();
    // Consumers first: their handlers may still publish through the producers.
    await Promise.allSettled([...this.#consumers.values()].map((c) => c.close()));
    await Promise.allSettled([...this.#producers.values()].map((e) => e.connecting));
    const results = await Promise.allSettled(
      [...this.#producers.values()].filter((e) => e.client).map(async (entry) => {
        const client = entry.client!;
        entry.client = undefined;
        entry.handle = undefined;
        entry.ready = undefined;
        await client.close(this.#closeTimeoutMs);
      }),
    );
    await Promise.allSettled(this.#retiring);
    for (const r of results) {
      if (r.status === "rejected") this.#logger.warn("kshare: closing a producer failed", { error: messageOf(r.reason) });
    }
  }

  #countersOf(resolved: ResolvedSecurityContext): Counters {
    let counters = this.#counters.get(resolved.fingerprint);
    if (!counters) {
      this.#counters.set(resolved.fingerprint, counters = {
        description: resolved.description,
        clientsCreated: 0,
        handlesReused: 0,
        connectFailures: 0,
        liveConsumers: 0,
      });
    }
    return counters;
  }

  #loadDriver(): Promise<KafkaDriver> {
    this.#driver ??= (async () => {
      const option = this.#options.driver;
      const driver = typeof option === "function"
        ? await option()
        : option ?? await (await import("./drivers/default.ts")).loadDefaultDriver();
      this.#driverInfo = { name: driver.name, librdkafkaVersion: driver.librdkafkaVersion };
      return driver;
    })().catch((error) => {
      this.#driver = undefined; // a driver that failed to load is not cached either
      throw error;
    });
    return this.#driver;
  }
}
