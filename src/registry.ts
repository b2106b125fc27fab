/**
 * The registry: one shared producer per security context, one consumer per
 * (security context, group), created lazily and closed together. How many
 * contexts hold clients at once is bounded, and idle ones may be closed:
 * which one goes is `_lru.ts`'s choice, how it is closed is the registry's.
 *
 * @module
 */
import type { KafkaDriver, ProducerClient, ProducerConfig } from "./driver.ts";
import { ClosedError, ConnectError, redact } from "./errors.ts";
import { type Consumer, type ConsumerOwner, SharedConsumer } from "./consumer.ts";
import { type HandleClient, type Producer, ProducerHandle } from "./producer.ts";
import type { ResolvedSecurityContext, SecurityContext, TuningProperties } from "./security_context.ts";
import { resolveSecurityContext } from "./resolve_security_context.ts";
import { consumerConfig, producerConfig } from "./_client_config.ts";
import type { TopicConsumerSettings } from "./topic.ts";
import { contextKey, type Defaults, effectiveTuning, parseDefaults } from "./_defaults.ts";
import { backoff, delay, type Logger, messageOf, signal, yieldToEventLoop } from "./_util.ts";
import { type EvictionReason, Lru, type LruEntry } from "./_lru.ts";
import { defaultDriver } from "./_default_driver.ts";
import { setTracingOf, Tracing, type TracingApi } from "./tracing.ts";
import { TRANSACTION_TIMEOUT_MS, type TransactionalProducer, TransactionalProducerHandle, type TransactionalProducerOptions } from "./transaction.ts";

/**
 * Options of {@link createRegistry}.
 *
 * @example A registry with its own bounds and logger
 * ```ts
 * import { createRegistry, type RegistryOptions } from "@kshare/kshare";
 * const options: RegistryOptions = {
 *   maxContexts: 200, // a service publishing for up to 200 tenants at once
 *   idleTimeoutMs: 10 * 60_000, // a tenant's producer is closed after 10 minutes without a publish
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
   * Most security contexts holding clients at once (default 64; `Infinity`
   * for no bound). A new context past it first closes the least recently
   * used idle one: its producer is flushed and closed, and the new context
   * connects once that close is done, so clients and their librdkafka
   * threads stay within the bound. The next call for a closed context
   * connects it again; a {@link Producer} kept from before is `retired` and
   * forwards its publishes to the new client, as after a fatal error.
   *
   * A context is never closed while busy: a publish or ping not settled, a
   * connect in progress (and after it, until its first publish or the next
   * turn of the event loop, so that its callers get to use it), or a
   * consumer not closed (a consumer is a group member its owner started:
   * the registry cannot recreate it on a next call; `consumer.close()`
   * commits, leaves the group and releases its context).
   * When every context is busy, a new one connects anyway, over the bound,
   * rather than wait for others' work or fail; each then goes as soon as it
   * is idle, until the bound holds again (`stats().liveContexts` shows it).
   *
   * 64 never touches a process with a fixed handful of contexts, and caps
   * one that builds contexts from callers' credentials, where nothing else
   * bounds them.
   */
  readonly maxContexts?: number;
  /**
   * Close a context that has been idle this long (default `Infinity`:
   * never). Busy means as for {@link maxContexts}; the next call connects
   * again. Off by default: a process with fixed contexts keeps its
   * connections however rarely it publishes; a service whose contexts come
   * and go (a gateway's tenants) sets it.
   */
  readonly idleTimeoutMs?: number;
  /**
   * The Kafka driver, or a function that loads it. Default: the Confluent
   * client on Node, the librdkafka FFI driver on Deno and Bun, loaded on first
   * use; on other runtimes there is none, and connecting rejects saying so.
   */
  readonly driver?: KafkaDriver | (() => Promise<KafkaDriver>);
  /**
   * Bound on each step of closing (default 10 000 ms): flushing each
   * producer, draining each consumer's handlers, and each consumer's leaving
   * its group. A client whose close is still under way then is released when
   * librdkafka's close returns; `close()` does not wait for it.
   */
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
  /**
   * Called once for each record published with `publishAndForget` that was
   * not delivered: a delivery error, no room in librdkafka's queue before
   * its delivery timeout, still undelivered when `close()` gave up on it
   * (`ClosedError`), or, for a producer the registry had replaced, a failed
   * reconnect. `record` names the topic and the context (fingerprint,
   * redacted description); the error never holds a secret. Default: logged
   * as an error with the same. Either way the failure is counted in
   * `stats()` (`forgottenFailures`) and the metrics. A hook that throws is
   * logged. One hook for the registry: its producers are shared by every
   * caller of a context, so a hook of one caller would hear the others'.
   */
  readonly onDeliveryError?: (
    error: Error,
    record: { readonly topic: string; readonly fingerprint: string; readonly description: string },
  ) => void;
  /**
   * Settings every context and topic of this registry inherits, the way
   * kshare's own defaults are inherited. Precedence, highest first: a
   * topic's own `consumer.maxBufferedMessages`, then `defaults.topic`;
   * a context's own `producer` / `consumer` tuning, then `defaults.producer`
   * / `defaults.consumer`; then kshare's defaults (`acks=all`, idempotence,
   * `linger.ms=0`; `auto.offset.reset=earliest`; 1000 buffered messages).
   * `stats()` shows each context's tuning in effect, `consumer.stats()` each
   * topic's bound. A bad value throws a `TypeError` naming it; security,
   * `client.id` and `group.id` are the context's own, as in its tuning, and
   * `transactional.id` is {@link Registry.transactionalProducer}'s.
   *
   * Fingerprints are unchanged: every context of the registry inherits the
   * same defaults. A context that writes a property with kshare's default
   * value (`acks: "all"`) keeps that value over a registry default that
   * differs, where a context of the same fingerprint that left it out
   * inherits the default: the first is registered under a key of its own,
   * not its fingerprint (`producer.fingerprint` and `stats()` show it).
   */
  readonly defaults?: {
    /** librdkafka producer properties every context inherits, e.g. `{ "linger.ms": 5 }`. */
    readonly producer?: TuningProperties;
    /** librdkafka consumer properties every context inherits, e.g. `{ "fetch.min.bytes": 1 }`. */
    readonly consumer?: TuningProperties;
    /** Consumer settings of every topic whose definition sets none. */
    readonly topic?: Partial<TopicConsumerSettings>;
  };
  /**
   * OpenTelemetry tracing: the `@opentelemetry/api` module
   * (`import * as otel from "@opentelemetry/api"`). Each publish gets a
   * PRODUCER span and a `traceparent` header, each handler attempt a
   * CONSUMER span, child of the record's; see {@link TracingApi}. Default:
   * none, and publishes and handlers run exactly as without it (no header
   * added, no span, nothing allocated for it).
   */
  readonly tracing?: TracingApi;
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
  /** Records published with `publishAndForget` and taken (not refused at once). */
  readonly forgottenRecords: number;
  /** Of those, the ones not delivered: each went to `onDeliveryError`. */
  readonly forgottenFailures: number;
  /**
   * The producer tuning in effect: the context's own over the registry's
   * `defaults.producer` over kshare's. librdkafka tuning only: the security
   * properties (the secrets among them) are not part of it.
   */
  readonly producer: Readonly<Record<string, string>>;
  /** The consumer tuning in effect, as for {@link producer}. */
  readonly consumer: Readonly<Record<string, string>>;
  /** Transactional ids with a live transactional producer (see {@link Registry.transactionalProducer}), sorted. */
  readonly transactionalProducers: readonly string[];
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
 * console.log(`${live} live clients over ${stats.liveContexts} live security contexts`);
 * console.log(`closed: ${stats.evictions.bound} for the bound, ${stats.evictions.idle} for idleness`);
 * ```
 */
export interface RegistryStats {
  /** The driver in use, once loaded. */
  readonly driver: { readonly name: string; readonly librdkafkaVersion: string } | null;
  /**
   * Per security context, by fingerprint (the registry key: see
   * {@link RegistryOptions.defaults} for the one case where they differ):
   * the contexts holding clients, those connecting, those whose last connect
   * failed (the 256 most recent) and those with a consumer not started. A
   * context the registry closed (see {@link RegistryOptions.maxContexts}) is
   * dropped, its counters with it.
   */
  readonly contexts: Readonly<Record<string, ContextStats>>;
  /**
   * Security contexts holding clients now: connected, connecting, or still
   * closing after eviction. At most `maxContexts`, unless more were busy at once.
   */
  readonly liveContexts: number;
  /** Contexts the registry closed since it was created: to make room under `maxContexts`, or idle for `idleTimeoutMs`. */
  readonly evictions: { readonly bound: number; readonly idle: number };
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
   * next call retries after a backoff); a producer that hit a fatal error, or
   * whose context the registry closed (see {@link RegistryOptions.maxContexts}),
   * is replaced by a fresh one on the next call.
   */
  producer(ctx: SecurityContext): Promise<Producer>;
  /**
   * The transactional producer of `transactionalId` in `ctx`: one per
   * (context, transactional id), a client of its own, never the context's
   * shared producer (a transaction is one caller's unit of work; see
   * {@link TransactionalProducer.transaction}). Connects and registers the id
   * on first use (which fences a producer that held it before, in this
   * process or another); concurrent first calls share the attempt; a failed
   * attempt is not cached. A producer retired by a fatal error (fenced) is
   * replaced by a fresh one on the next call, which fences in turn. While
   * it is live its context counts as busy (see
   * {@link RegistryOptions.maxContexts}): it is never closed for the bound or
   * for idleness, only by `close()`.
   *
   * @example
   * ```ts
   * import * as v from "valibot";
   * import { createRegistry, defineTopic } from "@kshare/kshare";
   *
   * const ledger = defineTopic({ name: "ledger", schema: v.object({ entry: v.string() }) });
   * await using kafka = createRegistry();
   * const producer = await kafka.transactionalProducer({ bootstrapServers: "localhost:9092" }, { transactionalId: "ledger-0" });
   * await producer.transaction(async (tx) => {
   *   await tx.publish(ledger, { entry: "debit" });
   *   await tx.publish(ledger, { entry: "credit" });
   * });
   * console.log(kafka.stats().contexts[producer.fingerprint]?.transactionalProducers); // ["ledger-0"]
   * ```
   */
  transactionalProducer(ctx: SecurityContext, options: TransactionalProducerOptions): Promise<TransactionalProducer>;
  /** The one consumer of `groupId` in `ctx` (created on first call, connected by its `start()`). */
  consumer(ctx: SecurityContext, groupId: string): Consumer;
  /** Counters per security context, live contexts and evictions. */
  stats(): RegistryStats;
  /**
   * Close every consumer (handlers in progress finish, offsets are committed,
   * the member leaves its group), then flush and close every producer, each
   * within `closeTimeoutMs`. Safe to call more than once.
   *
   * Until every consumer has closed, producers already connected keep taking
   * publishes, from handlers and from anywhere else: a handle held, and
   * `producer(ctx)` for a context whose producer is live, so a handler that
   * consumes then publishes finishes and its input is committed rather than
   * redelivered. No client connects once `close()` was called: `producer(ctx)`
   * for any other context, and a connect still under way, reject with
   * {@link ClosedError}, as does `consumer()`. Once the consumers have closed,
   * every publish and `producer(ctx)` rejects with `ClosedError`; records
   * already taken are flushed.
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
  forgottenRecords: number;
  forgottenFailures: number;
}

/** One security context the registry holds: its counters, its producer, and what keeps it busy. */
class ContextEntry implements LruEntry {
  readonly resolved: ResolvedSecurityContext;
  /** Its key in the registry: the fingerprint, but for the case in {@link RegistryOptions.defaults}. */
  readonly key: string;
  /** Tuning in effect, the registry's defaults applied. */
  readonly producerTuning: Readonly<Record<string, string>>;
  readonly consumerTuning: Readonly<Record<string, string>>;
  readonly counters: Counters;
  handle?: ProducerHandle;
  /**
   * `Promise.resolve(handle)`, made once when the handle goes live and returned
   * to every later call: a warm lookup allocates nothing. Set and cleared
   * together with `handle` (retirement, eviction, close), so it never serves a
   * retired handle; a failed connect never sets it.
   */
  ready?: Promise<Producer>;
  client?: ProducerClient;
  connecting?: Promise<ProducerHandle>;
  failures = 0;
  retryAt = 0;
  /** Publishes and pings not settled on its producer. */
  inFlight = 0;
  /**
   * Connected and not used yet: its callers start publishing on their next
   * turn, and over the bound an idle context would go before they could.
   * Until the first publish or ping, or one turn of the event loop.
   */
  fresh = false;
  /** Consumers created and not closed: each keeps the context. */
  consumers = 0;
  /** Transactional producers by transactional id: live, or connecting. Each keeps the context. */
  readonly transactional = new Map<string, TransactionalSlot>();
  /** When its last work ended (`Date.now()`): idle since then. */
  lastUsed = 0;

  constructor(resolved: ResolvedSecurityContext, key: string, defaults: Defaults) {
    this.resolved = resolved;
    this.key = key;
    this.producerTuning = effectiveTuning(resolved, "producer", defaults);
    this.consumerTuning = effectiveTuning(resolved, "consumer", defaults);
    this.counters = {
      description: resolved.description,
      clientsCreated: 0,
      handlesReused: 0,
      connectFailures: 0,
      liveConsumers: 0,
      forgottenRecords: 0,
      forgottenFailures: 0,
    };
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.fresh || this.connecting !== undefined || this.consumers > 0 || this.transactional.size > 0;
  }
}

/** One transactional producer of a context: connecting, then live until retired or closed. */
interface TransactionalSlot {
  connecting?: Promise<TransactionalProducerHandle>;
  handle?: TransactionalProducerHandle;
  client?: ProducerClient;
}

/**
 * Create a registry. Most applications use the module-scoped default
 * {@link registry}; create your own for tests, for a separate failure domain,
 * or for other bounds on its contexts.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 *
 * const kafka = createRegistry({ closeTimeoutMs: 5_000, maxContexts: 16, idleTimeoutMs: 300_000 });
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
/** Default of {@link RegistryOptions.maxContexts}. */
const DEFAULT_MAX_CONTEXTS = 64;

/** `value` of option `name`: a number > 0 (a whole one if `whole`) or `Infinity`; `fallback` when absent. */
function positiveOption(name: string, value: number | undefined, fallback: number, whole: boolean): number {
  if (value === undefined) return fallback;
  const ok = typeof value === "number" && value > 0 && (value === Infinity || (whole ? Number.isSafeInteger(value) : Number.isFinite(value)));
  if (!ok) throw new TypeError(`createRegistry: ${name} must be ${whole ? "a whole number" : "a number"} > 0 or Infinity, got ${String(value)}`);
  return value;
}

class KafkaRegistry implements Registry {
  #options: RegistryOptions;
  #logger: Logger;
  #closeTimeoutMs: number;
  #driver: Promise<KafkaDriver> | undefined;
  #driverInfo: RegistryStats["driver"] = null;
  /** Every context known: live, connecting, failed (see {@link #failed}) or kept by a consumer not started. */
  #contexts = new Map<string, ContextEntry>();
  /** The contexts holding clients, and which to close. */
  #lru: Lru<ContextEntry>;
  #evictions = { bound: 0, idle: 0 };
  #warnedOverBound = false;
  /**
   * Fingerprints of contexts whose last producer connect failed, least recent
   * first. Contexts may come from callers (a wrong password is a new
   * context), so only {@link MAX_FAILED_PRODUCERS} are remembered with their
   * backoff; past that the least recent is forgotten.
   */
  #failed = new Set<string>();
  #consumers = new Map<string, SharedConsumer>();
  /** Closes of producers retired or evicted, awaited by {@link close}. */
  #retiring = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  /**
   * Set once {@link close} has closed the consumers: from then on producers
   * refuse publishes and are flushed. Until then a closing registry still
   * serves the producers it has (see {@link Registry.close}).
   */
  #producersClosing = false;
  #closeSignal = signal();
  readonly #defaults: Defaults;
  /** Registry keys computed once per resolved context, when the defaults can make one differ from the fingerprint. */
  readonly #keys = new WeakMap<ResolvedSecurityContext, string>();
  /** Spans and trace propagation of every producer and consumer; undefined without `tracing`. */
  readonly #tracing: Tracing | undefined;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#logger = options.logger ?? console;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.#defaults = parseDefaults(options.defaults);
    if (options.onDeliveryError !== undefined && typeof options.onDeliveryError !== "function") {
      throw new TypeError("onDeliveryError must be a function");
    }
    if (options.tracing !== undefined) {
      this.#tracing = new Tracing(options.tracing);
      setTracingOf(this, this.#tracing);
    }
    this.#lru = new Lru({
      max: positiveOption("maxContexts", options.maxContexts, DEFAULT_MAX_CONTEXTS, true),
      idleTimeoutMs: positiveOption("idleTimeoutMs", options.idleTimeoutMs, Infinity, false),
      evict: (entry, reason) => this.#evict(entry, reason),
    });
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  producer(ctx: SecurityContext): Promise<Producer> {
    if (this.#producersClosing) return Promise.reject(new ClosedError("The registry"));
    let resolved: ResolvedSecurityContext;
    try {
      resolved = resolveSecurityContext(ctx);
    } catch (error) {
      return Promise.reject(error);
    }
    const entry = this.#contexts.get(this.#keyOf(resolved));
    if (entry?.ready) {
      entry.counters.handlesReused++;
      return entry.ready;
    }
    // Closing: live producers are still served (handlers draining publish through them); nothing new connects.
    if (this.#closing) return Promise.reject(new ClosedError("The registry"));
    return this.#producerOf(resolved, entry);
  }

  /** The registry key of `resolved`: its fingerprint, but for the case in {@link RegistryOptions.defaults}. */
  #keyOf(resolved: ResolvedSecurityContext): string {
    if (!this.#defaults.overridesKshare) return resolved.fingerprint;
    let key = this.#keys.get(resolved);
    if (key === undefined) this.#keys.set(resolved, key = contextKey(resolved, this.#defaults));
    return key;
  }

  /** {@link producer} without a live handle: join the connection attempt under way, or start one. */
  #producerOf(resolved: ResolvedSecurityContext, found: ContextEntry | undefined): Promise<Producer> {
    const entry = found ?? this.#add(resolved);
    if (entry.connecting) {
      entry.counters.handlesReused++;
      return entry.connecting;
    }
    const connecting = this.#connectProducer(entry);
    entry.connecting = connecting;
    const settled = () => {
      if (entry.connecting === connecting) entry.connecting = undefined;
      this.#settled(entry);
    };
    connecting.then(settled, settled);
    return connecting;
  }

  async #connectProducer(entry: ContextEntry): Promise<ProducerHandle> {
    const wait = entry.retryAt - Date.now();
    if (wait > 0) await delay(wait, this.#closeSignal.promise);
    if (this.#closing) throw new ClosedError("The registry");
    const driver = await this.#loadDriver();
    await this.#admit(entry);
    if (this.#closing) throw new ClosedError("The registry");
    const { resolved, counters, key } = entry;
    const { maxWaitingRecords, maxWaitingBytes } = this.#options;
    const config: ProducerConfig = { ...producerConfig(resolved, entry.producerTuning), maxWaitingRecords, maxWaitingBytes };
    // deno-lint-ignore prefer-const -- read by onFatal, which can run before the handle exists.
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
            context: key,
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
    if (this.#closing) {
      // close() began while this connected: nothing connects during close, and a later
      // producer(ctx) must not serve what this caller was refused. close() awaits this close.
      void this.#closeRetired(client, key, "closing a producer connected during close failed");
      throw new ClosedError("The registry");
    }
    entry.failures = 0;
    this.#failed.delete(key);
    // The getter's own `this` is the options object: it asks the registry through an arrow.
    const producersClosing = () => this.#producersClosing;
    handle = new ProducerHandle(key, this.#tracked(entry, client), {
      reacquire: () => this.producer(resolved.context),
      get closing() {
        return producersClosing();
      },
      tracing: this.#tracing,
      // A record of a retired handle: counted on the context's current entry, if it has one.
      undelivered: (error, topic) => this.#undelivered(this.#contexts.get(key) ?? entry, error, topic),
    });
    entry.handle = handle;
    entry.ready = Promise.resolve(handle);
    entry.client = client;
    entry.fresh = true;
    void yieldToEventLoop().then(() => {
      if (!entry.fresh) return;
      entry.fresh = false;
      this.#settled(entry);
    });
    return handle;
  }

  /**
   * `client` as the handle uses it: its publishes (awaited or forgotten) and
   * pings keep the context busy until they settle. One set of callbacks per
   * client, none per publish.
   */
  #tracked(entry: ContextEntry, client: ProducerClient): HandleClient {
    const delivered = <T>(value: T): T => (this.#done(entry), value);
    const failed = (error: unknown): never => {
      this.#done(entry);
      throw error;
    };
    /** The outcome of a forgotten record: the driver calls it (or, without `send`, its produce's promise). */
    const sent = (error: Error | undefined, topic: string): void => {
      this.#done(entry);
      if (error !== undefined) this.#undelivered(entry, error, topic);
    };
    return {
      produce(record) {
        const sent = client.produce(record);
        entry.inFlight++;
        entry.fresh = false;
        return sent.then(delivered, failed);
      },
      forget(record, done) {
        // A record with a `done` of its own (a traced one) is told its outcome too; others share `sent`.
        const outcome = done === undefined ? sent : (error: Error | undefined, topic: string) => {
          sent(error, topic);
          done(error);
        };
        if (client.send) {
          client.send(record, outcome); // throws what refuses the record: nothing to count then
        } else {
          client.produce(record).then(() => outcome(undefined, record.topic), (error: unknown) => outcome(asError(error), record.topic));
        }
        entry.inFlight++;
        entry.fresh = false;
        entry.counters.forgottenRecords++;
      },
      ping(timeoutMs) {
        const answered = client.ping(timeoutMs);
        entry.inFlight++;
        entry.fresh = false;
        return answered.then(delivered, failed);
      },
      flush: (timeoutMs) => client.flush(timeoutMs),
    };
  }

  /**
   * A forgotten record was not delivered: counted, and handed to the
   * `onDeliveryError` hook or logged. Never throws: it runs on the driver's
   * delivery path.
   */
  #undelivered(entry: ContextEntry, error: unknown, topic: string): void {
    entry.counters.forgottenFailures++;
    const { description } = entry.resolved;
    const hook = this.#options.onDeliveryError;
    if (hook === undefined) {
      this.#logger.error("kshare: a record published without waiting was not delivered", {
        topic,
        context: entry.key,
        description,
        error: messageOf(error),
      });
      return;
    }
    const threw = (thrown: unknown) => this.#logger.error("kshare: onDeliveryError hook threw", { topic, context: entry.key, error: messageOf(thrown) });
    try {
      // Typed void, but an async hook's rejection must not go unhandled.
      const result: unknown = hook(asError(error), { topic, fingerprint: entry.key, description });
      if (result instanceof Promise) result.catch(threw);
    } catch (thrown) {
      threw(thrown);
    }
  }

  /** One of `entry`'s works in flight ended. */
  #done(entry: ContextEntry): void {
    if (--entry.inFlight === 0) this.#settled(entry);
  }

  /** Something of `entry` ended (a publish, a connect, a consumer): if nothing else keeps it busy, it is idle from now. */
  #settled(entry: ContextEntry): void {
    if (entry.busy) return;
    entry.lastUsed = Date.now();
    if (this.#lru.holds(entry)) {
      this.#lru.idle(entry);
      return;
    }
    // Held by nothing (a consumer never started was closed): forget it, unless it is remembered as failed.
    const { key } = entry;
    if (!entry.handle && !this.#failed.has(key) && this.#contexts.get(key) === entry) this.#contexts.delete(key);
  }

  /** Hold a place for `entry` under the bound before it connects a client. */
  async #admit(entry: ContextEntry): Promise<void> {
    const withinBound = await this.#lru.admit(entry);
    if (withinBound || this.#warnedOverBound) return;
    this.#warnedOverBound = true;
    this.#logger.warn("kshare: more security contexts are busy at once than maxContexts; each beyond it is closed once idle", {
      liveContexts: this.#lru.size,
    });
  }

  /**
   * Close an idle context for the LRU: it leaves the registry at once (stats,
   * lookups), a kept handle is retired (its next publish reconnects through
   * the registry), and its producer is flushed and closed.
   */
  #evict(entry: ContextEntry, reason: EvictionReason): Promise<void> {
    const { key } = entry;
    if (this.#contexts.get(key) === entry) this.#contexts.delete(key);
    this.#failed.delete(key);
    this.#evictions[reason]++;
    const { handle, client } = entry;
    entry.handle = undefined;
    entry.ready = undefined;
    entry.client = undefined;
    handle?.retire();
    if (!client) return Promise.resolve();
    return this.#closeRetired(client, key, "closing an evicted producer failed");
  }

  /** Close a client taken out of service, within the close bound; {@link close} awaits it. Never rejects. */
  #closeRetired(client: ProducerClient, key: string, failure: string): Promise<void> {
    const closing = client.close(this.#closeTimeoutMs)
      .catch((e) => this.#logger.warn(`kshare: ${failure}`, { context: key, error: messageOf(e) }))
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
    return closing;
  }

  /**
   * A connect of `entry` failed: the next waits a jittered exponential backoff.
   * Without a client left, the context gives up its place under the bound.
   * Remember it as failed; forget the least recent failed entry past {@link MAX_FAILED_PRODUCERS}.
   */
  #noteFailure(entry: ContextEntry): void {
    entry.failures++;
    entry.retryAt = Date.now() + backoff(entry.failures, this.#options.retryBackoffMs ?? 100, this.#options.maxRetryBackoffMs ?? 10_000);
    if (!entry.client && entry.consumers === 0) this.#lru.release(entry);
    const { key } = entry;
    this.#failed.delete(key);
    this.#failed.add(key);
    if (this.#failed.size <= MAX_FAILED_PRODUCERS) return;
    const oldest = this.#failed.values().next().value!;
    this.#failed.delete(oldest);
    const stale = this.#contexts.get(oldest);
    // In use again (connecting, live, kept by a consumer): it is no longer a failed entry.
    if (!stale || stale.handle || stale.busy || this.#lru.holds(stale)) return;
    this.#contexts.delete(oldest);
  }

  /** Take a producer whose client hit a fatal error out of service; the next call creates a new one. */
  #retire(entry: ContextEntry, handle: ProducerHandle, error: Error): void {
    if (entry.handle !== handle) return;
    const client = entry.client!;
    entry.handle = undefined;
    entry.ready = undefined;
    entry.client = undefined;
    handle.retire();
    this.#logger.error("kshare: producer hit a fatal error; it is retired and the next call connects a new one", {
      context: entry.key,
      error: error.message,
    });
    void this.#closeRetired(client, entry.key, "closing a retired producer failed");
  }

  transactionalProducer(ctx: SecurityContext, options: TransactionalProducerOptions): Promise<TransactionalProducer> {
    if (this.#producersClosing) return Promise.reject(new ClosedError("The registry"));
    const transactionalId = (options as TransactionalProducerOptions | undefined)?.transactionalId;
    if (typeof transactionalId !== "string" || transactionalId.trim() === "") {
      return Promise.reject(new TypeError("transactionalProducer: options.transactionalId must be a non-empty string"));
    }
    let resolved: ResolvedSecurityContext;
    try {
      resolved = resolveSecurityContext(ctx);
    } catch (error) {
      return Promise.reject(error);
    }
    const entry = this.#contexts.get(this.#keyOf(resolved)) ?? this.#add(resolved);
    const slot = entry.transactional.get(transactionalId);
    if (slot?.handle) {
      entry.counters.handlesReused++;
      return Promise.resolve(slot.handle);
    }
    if (slot?.connecting) {
      entry.counters.handlesReused++;
      return slot.connecting;
    }
    if (this.#closing) return Promise.reject(new ClosedError("The registry"));
    const fresh: TransactionalSlot = {};
    entry.transactional.set(transactionalId, fresh);
    const connecting = this.#connectTransactional(entry, transactionalId, fresh);
    fresh.connecting = connecting;
    const settled = () => {
      fresh.connecting = undefined;
      if (!fresh.handle && entry.transactional.get(transactionalId) === fresh) entry.transactional.delete(transactionalId);
      this.#settled(entry);
    };
    connecting.then(settled, settled);
    return connecting;
  }

  async #connectTransactional(entry: ContextEntry, transactionalId: string, slot: TransactionalSlot): Promise<TransactionalProducerHandle> {
    const driver = await this.#loadDriver();
    await this.#admit(entry);
    if (this.#closing) throw new ClosedError("The registry");
    const { resolved, counters, key } = entry;
    const { maxWaitingRecords, maxWaitingBytes } = this.#options;
    const tuning = { ...entry.producerTuning, "transactional.id": transactionalId };
    const config: ProducerConfig = { ...producerConfig(resolved, tuning), maxWaitingRecords, maxWaitingBytes };
    const what = `a transactional producer for ${resolved.description} transactional.id=${transactionalId}`;
    // deno-lint-ignore prefer-const -- read by onFatal, which can run before the handle exists.
    let handle: TransactionalProducerHandle | undefined;
    let fatal: Error | undefined;
    let client: ProducerClient;
    try {
      client = await driver.createProducer(config, {
        onFatal: (error) => {
          fatal = error;
          if (handle) this.#retireTransactional(entry, transactionalId, handle, error);
        },
        onError: (error) =>
          this.#logger.warn("kshare: transactional producer error", {
            context: key,
            transactionalId,
            error: redact(error.message, config.secretProperties.map((p) => config.properties[p] ?? "")),
          }),
      });
    } catch (error) {
      counters.connectFailures++;
      throw new ConnectError(`Could not connect ${what}`, { cause: error });
    }
    counters.clientsCreated++;
    const transactions = client.transactions;
    try {
      if (transactions === undefined) throw new Error(`the ${driver.name} driver has no transactions`);
      await transactions.init(TRANSACTION_TIMEOUT_MS);
      if (fatal) throw fatal;
      if (this.#closing) throw new ClosedError("The registry");
    } catch (error) {
      if (!(error instanceof ClosedError)) counters.connectFailures++;
      await client.close(0).catch(() => {});
      if (error instanceof ClosedError) throw error;
      throw new ConnectError(`Could not initialise transactions of ${what}`, { cause: error });
    }
    // The getter's own `this` is the options object: it asks the registry through an arrow.
    const producersClosing = () => this.#producersClosing;
    const created: TransactionalProducerHandle = new TransactionalProducerHandle(key, transactionalId, client, transactions!, {
      get closing() {
        return producersClosing();
      },
      retire: (error) => this.#retireTransactional(entry, transactionalId, created, error),
      tracing: this.#tracing,
      logger: this.#logger,
    });
    handle = created;
    slot.handle = created;
    slot.client = client;
    return created;
  }

  /**
   * Take a transactional producer that hit a fatal error (fenced), or could
   * not end a transaction, out of service: the next call connects a new one.
   * Its client is closed once its transaction under way has ended.
   */
  #retireTransactional(entry: ContextEntry, transactionalId: string, handle: TransactionalProducerHandle, error: Error): void {
    handle.retire(error);
    const slot = entry.transactional.get(transactionalId);
    if (slot?.handle !== handle) return;
    entry.transactional.delete(transactionalId);
    const client = slot.client;
    slot.client = undefined;
    this.#logger.error("kshare: transactional producer retired (fenced, fatal, or a transaction it could not end); the next call connects a new one", {
      context: entry.key,
      transactionalId,
      error: error.message,
    });
    this.#settled(entry);
    if (client) void handle.idle().then(() => this.#closeRetired(client, entry.key, "closing a retired transactional producer failed"));
  }

  consumer(ctx: SecurityContext, groupId: string): Consumer {
    if (this.#closing) throw new ClosedError("The registry");
    if (typeof groupId !== "string" || groupId.trim() === "") {
      throw new TypeError("groupId must be a non-empty string");
    }
    const resolved = resolveSecurityContext(ctx);
    const entry = this.#contexts.get(this.#keyOf(resolved)) ?? this.#add(resolved);
    const { counters } = entry;
    const key = `${entry.key}/${groupId}`;
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
      maxBufferedMessages: this.#defaults.maxBufferedMessages,
      tracing: this.#tracing,
      connect: async (events) => {
        const driver = await this.#loadDriver();
        await this.#admit(entry);
        try {
          const config = { ...consumerConfig(resolved, groupId, entry.consumerTuning), closeTimeoutMs: this.#closeTimeoutMs };
          const client = await driver.createConsumer(config, events);
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
        entry.consumers--;
        this.#settled(entry);
      },
    };
    const consumer = new SharedConsumer(entry.key, groupId, owner);
    this.#consumers.set(key, consumer);
    entry.consumers++;
    return consumer;
  }

  stats(): RegistryStats {
    const contexts: Record<string, ContextStats> = {};
    for (const [key, entry] of this.#contexts) {
      const c = entry.counters;
      contexts[key] = {
        description: c.description,
        clientsCreated: c.clientsCreated,
        handlesReused: c.handlesReused,
        connectFailures: c.connectFailures,
        liveProducers: entry.handle ? 1 : 0,
        liveConsumers: c.liveConsumers,
        forgottenRecords: c.forgottenRecords,
        forgottenFailures: c.forgottenFailures,
        producer: entry.producerTuning,
        consumer: entry.consumerTuning,
        transactionalProducers: [...entry.transactional].filter(([, slot]) => slot.handle).map(([id]) => id).sort(),
      };
    }
    return { driver: this.#driverInfo, contexts, liveContexts: this.#lru.size, evictions: { ...this.#evictions } };
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
    // From here the registry closes every client itself; the LRU evicts nothing more.
    this.#lru.stop();
    // Consumers first: their handlers in progress still publish through the producers.
    const consumers = [...this.#consumers.values()];
    const closed = await Promise.allSettled(consumers.map((c) => c.close()));
    closed.forEach((r, i) => {
      if (r.status === "rejected") {
        this.#logger.warn("kshare: closing a consumer failed", { group: consumers[i]!.groupId, error: messageOf(r.reason) });
      }
    });
    this.#producersClosing = true;
    // Connects under way end in ClosedError, their clients closed through #retiring.
    await Promise.allSettled([...this.#contexts.values()].map((e) => e.connecting));
    const results = await Promise.allSettled(
      [...this.#contexts.values()].filter((e) => e.client).map(async (entry) => {
        const client = entry.client!;
        entry.client = undefined;
        entry.handle = undefined;
        entry.ready = undefined;
        await client.close(this.#closeTimeoutMs);
      }),
    );
    // Transactional producers: each once its transaction under way (if any) has ended.
    const transactional = [...this.#contexts.values()].flatMap((entry) => [...entry.transactional.values()]);
    await Promise.allSettled(transactional.map((slot) => slot.connecting));
    results.push(
      ...await Promise.allSettled(
        transactional.filter((slot) => slot.client).map(async (slot) => {
          const client = slot.client!;
          slot.client = undefined;
          if (slot.handle) await delay(this.#closeTimeoutMs, slot.handle.idle());
          await client.close(this.#closeTimeoutMs);
        }),
      ),
    );
    await Promise.allSettled(this.#retiring);
    for (const r of results) {
      if (r.status === "rejected") this.#logger.warn("kshare: closing a producer failed", { error: messageOf(r.reason) });
    }
  }

  #add(resolved: ResolvedSecurityContext): ContextEntry {
    const entry = new ContextEntry(resolved, this.#keyOf(resolved), this.#defaults);
    this.#contexts.set(entry.key, entry);
    return entry;
  }

  #loadDriver(): Promise<KafkaDriver> {
    this.#driver ??= (async () => {
      const option = this.#options.driver;
      const driver = typeof option === "function" ? await option() : option ?? await defaultDriver();
      this.#driverInfo = { name: driver.name, librdkafkaVersion: driver.librdkafkaVersion };
      return driver;
    })().catch((error) => {
      this.#driver = undefined; // a driver that failed to load is not cached either
      throw error;
    });
    return this.#driver;
  }
}

/** A thrown value as an `Error` (a driver's rejection could be anything). */
function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(messageOf(value));
}
