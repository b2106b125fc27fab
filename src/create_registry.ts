/**
 * {@link createRegistry} and the registry behind it: one shared producer per
 * security context, one consumer per (security context, group), transactional
 * producers per (context, transactional id), created lazily and closed
 * together. How many contexts hold clients at once is bounded, and idle ones
 * may be closed: which one goes is `_lru.ts`'s choice, how it is closed is
 * the registry's.
 *
 * Why one file over 400 lines: the registry is one state machine over its
 * contexts (connecting, live, failed with backoff, retired, evicted, closing),
 * and every kind of client (shared, transactional, consumer) moves an entry
 * through it; what stands alone lives beside it (`_context_entry.ts`,
 * `_lru.ts`, `_defaults.ts`, `registry_options.ts`).
 *
 * @module
 */
import type { KafkaDriver, ProducerClient, ProducerConfig } from "./driver.ts";
import { ClosedError, ConnectError, redact } from "./errors.ts";
import type { Consumer } from "./consumer.ts";
import { type ConsumerOwner, SharedConsumer } from "./_shared_consumer.ts";
import { type Producer, ProducerHandle } from "./producer.ts";
import type { ResolvedSecurityContext, SecurityContext } from "./security_context.ts";
import { resolveSecurityContext } from "./resolve_security_context.ts";
import { consumerConfig, producerConfig } from "./_client_config.ts";
import { contextKey, type Defaults, parseDefaults } from "./_defaults.ts";
import { backoff, delay, type Logger, messageOf, signal, yieldToEventLoop } from "./_util.ts";
import { type EvictionReason, Lru } from "./_lru.ts";
import { defaultDriver } from "./_default_driver.ts";
import { setTracingOf, Tracing } from "./tracing.ts";
import type { ContextStats, Registry, RegistryStats } from "./registry.ts";
import { DEFAULT_MAX_CONTEXTS, positiveOption, type RegistryOptions } from "./registry_options.ts";
import { asError, ContextEntry, trackedClient, type TransactionalSlot } from "./_context_entry.ts";
import { TRANSACTION_TIMEOUT_MS, type TransactionalProducer, TransactionalProducerHandle, type TransactionalProducerOptions } from "./transaction.ts";

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
    const config = this.#producerConfig(entry, entry.producerTuning);
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
        onError: (error) => this.#producerError("kshare: producer error", config, { context: key }, error),
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
    handle = new ProducerHandle(key, trackedClient(entry, client, () => this.#done(entry), (error, topic) => this.#undelivered(entry, error, topic)), {
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

  /** The producer config of `entry` with `tuning` in effect, and the registry's bounds on waiting records. */
  #producerConfig(entry: ContextEntry, tuning: Readonly<Record<string, string>>): ProducerConfig {
    const { maxWaitingRecords, maxWaitingBytes } = this.#options;
    return { ...producerConfig(entry.resolved, tuning), maxWaitingRecords, maxWaitingBytes };
  }

  /** A producer's non-fatal error, logged with the context's secrets redacted from its message. */
  #producerError(message: string, config: ProducerConfig, fields: Record<string, string>, error: Error): void {
    const secrets = config.secretProperties.map((p) => config.properties[p] ?? "");
    this.#logger.warn(message, { ...fields, error: redact(error.message, secrets) });
  }
  async #connectTransactional(entry: ContextEntry, transactionalId: string, slot: TransactionalSlot): Promise<TransactionalProducerHandle> {
    const driver = await this.#loadDriver();
    await this.#admit(entry);
    if (this.#closing) throw new ClosedError("The registry");
    const { resolved, counters, key } = entry;
    const config = this.#producerConfig(entry, { ...entry.producerTuning, "transactional.id": transactionalId });
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
        onError: (error) => this.#producerError("kshare: transactional producer error", config, { context: key, transactionalId }, error),
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
      // The consumer's own context: a transactionalHandler's producer authenticates as its consumer does.
      transactionalProducer: (options) => this.transactionalProducer(ctx, options),
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
