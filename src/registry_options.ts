/**
 * Options of a registry ({@link RegistryOptions}) and the check of its
 * numeric bounds.
 *
 * @module
 */
import type { KafkaDriver } from "./driver.ts";
import type { TuningProperties } from "./security_context.ts";
import type { TopicConsumerSettings } from "./topic.ts";
import type { Logger } from "./_util.ts";
import type { TracingApi } from "./tracing.ts";

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

/** Default of {@link RegistryOptions.maxContexts}. */
export const DEFAULT_MAX_CONTEXTS = 64;

/** `value` of option `name`: a number > 0 (a whole one if `whole`) or `Infinity`; `fallback` when absent. */
export function positiveOption(name: string, value: number | undefined, fallback: number, whole: boolean): number {
  if (value === undefined) return fallback;
  const ok = typeof value === "number" && value > 0 && (value === Infinity || (whole ? Number.isSafeInteger(value) : Number.isFinite(value)));
  if (!ok) throw new TypeError(`createRegistry: ${name} must be ${whole ? "a whole number" : "a number"} > 0 or Infinity, got ${String(value)}`);
  return value;
}
