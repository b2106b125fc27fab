/**
 * The registry's public face: {@link Registry}, what `createRegistry()`
 * returns (and the module-scoped `registry` is), and its stats. One shared
 * producer per security context, one consumer per (security context, group),
 * created lazily and closed together; the implementation is
 * `create_registry.ts`.
 *
 * @module
 */
import type { Consumer } from "./consumer.ts";
import type { Producer } from "./producer.ts";
import type { SecurityContext } from "./security_context.ts";
import type { TransactionalProducer, TransactionalProducerOptions } from "./transaction.ts";

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
