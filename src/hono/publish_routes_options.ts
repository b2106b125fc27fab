/**
 * The options of `publishRoutes()` and their public defaults and bounds.
 *
 * @module
 */
import type { Logger } from "../_util.ts";
import type { AnyTopic } from "./records.ts";

/**
 * Options of {@link publishRoutes}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { publishRoutes, type PublishRoutesOptions } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * const options: PublishRoutesOptions = {
 *   topics: [orders],
 *   clusterId: "local", // POST /v3/clusters/local/topics/orders/records
 *   maxBodyBytes: 256 * 1024,
 *   maxBatchEntries: 25,
 *   publishTimeoutMs: 5_000, // no acknowledgement within 5 s: 503 / 50003
 *   retryAfterSeconds: 10, // of a 503, and of a 429
 *   maxRequestsPerTenant: 8, // a security context's 9th request at once: 429
 *   maxRecordsInFlightPerTenant: 5_000, // records awaiting Kafka's acknowledgement, per security context
 *   maxRecordsPerRequest: 1_000, // a streaming request's 1001st record: an error answer, and nothing after it
 *   bodyTimeoutMs: 10_000, // a body not received within 10 s: 408
 *   logger: console,
 * };
 * const routes = publishRoutes(options);
 * ```
 */
export interface PublishRoutesOptions {
  /** The topics that can be published to; any other topic name is answered 404 / `40403`. */
  readonly topics: readonly AnyTopic[];
  /** The cluster id of the paths, as `GET /v3/clusters` reports it (default `"kshare"`); another id is answered 404. */
  readonly clusterId?: string;
  /** Largest request body in bytes (default 1 MiB); larger is answered 413 by Hono's `bodyLimit`. */
  readonly maxBodyBytes?: number;
  /** Most entries of one `records:batch` request (default 10, at most 50). */
  readonly maxBatchEntries?: number;
  /**
   * Delivery deadline of every publish, in ms (default
   * {@link DEFAULT_PUBLISH_TIMEOUT_MS}, 10 000; at most 2 147 483 647): a
   * record not acknowledged within it is answered 503 / `50003` with
   * `Retry-After`, never a late 200. It counts from the publish, a first
   * connect of the caller's producer included. What a record not yet sent
   * then becomes: see `PublishOptions.timeoutMs`.
   */
  readonly publishTimeoutMs?: number;
  /** `Retry-After` of a 503 and of a 429, in seconds (default 5). */
  readonly retryAfterSeconds?: number;
  /**
   * Most produce requests of one tenant at once (default 256); one more is answered 429
   * with `Retry-After` before its body is read. A tenant is a security
   * context (`c.var.kafka.fingerprint`): its requests share one producer.
   */
  readonly maxRequestsPerTenant?: number;
  /**
   * Most records of one tenant awaiting Kafka's acknowledgement at once
   * (default 20 000). A
   * request arriving at the bound is answered 429 with `Retry-After`; a
   * record reaching it inside a streaming request or a batch is answered
   * `error_code` 429 and not published (a stream ends there: its last answer
   * says how many records were refused).
   */
  readonly maxRecordsInFlightPerTenant?: number;
  /**
   * Most records of one streaming request (default 10 000): the record past it is
   * answered `error_code` 413, the last answer, saying how many records were
   * refused; it and the records after it are not published.
   */
  readonly maxRecordsPerRequest?: number;
  /**
   * Time to receive a request's body, from the start of reading it (default
   * 30 000 ms; at most 2 147 483 647): a body
   * not complete by then is answered 408 and nothing of it is published.
   */
  readonly bodyTimeoutMs?: number;
  /** Where unexpected errors are reported (default `console`). */
  readonly logger?: Logger;
}

/**
 * Default of {@link PublishRoutesOptions.maxBodyBytes}.
 *
 * @example Accepting bodies four times the default size
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { DEFAULT_MAX_BODY_BYTES, publishRoutes } from "@kshare/kshare/hono";
 *
 * const events = defineTopic({ name: "events", schema: v.object({ kind: v.string(), data: v.unknown() }) });
 * const routes = publishRoutes({ topics: [events], maxBodyBytes: 4 * DEFAULT_MAX_BODY_BYTES }); // 4 MiB
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES: number = 1024 * 1024;
/**
 * Default of {@link PublishRoutesOptions.maxBatchEntries}.
 *
 * @example A client sending many records in batches a default server accepts
 * ```ts
 * import process from "node:process";
 * import { DEFAULT_MAX_BATCH_ENTRIES } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const orders = Array.from({ length: 42 }, (_, i) => ({ id: `o-${i}`, customer: "c-7", total: 9.5 }));
 * const entries = orders.map((order) => ({ id: order.id, value: { data: order } }));
 * for (let i = 0; i < entries.length; i += DEFAULT_MAX_BATCH_ENTRIES) {
 *   await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records:batch", {
 *     method: "POST",
 *     headers: { "Content-Type": "application/json", Authorization: auth },
 *     body: JSON.stringify({ entries: entries.slice(i, i + DEFAULT_MAX_BATCH_ENTRIES) }),
 *   });
 * }
 * ```
 */
export const DEFAULT_MAX_BATCH_ENTRIES: number = 10;
/**
 * Upper bound of {@link PublishRoutesOptions.maxBatchEntries}.
 *
 * @example Clamping a configured batch size (`publishRoutes` throws a `TypeError` above the bound)
 * ```ts
 * import process from "node:process";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { DEFAULT_MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, publishRoutes } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const requested = Number(process.env.MAX_BATCH_ENTRIES ?? DEFAULT_MAX_BATCH_ENTRIES);
 * const routes = publishRoutes({ topics: [orders], maxBatchEntries: Math.min(requested, MAX_BATCH_ENTRIES) });
 * ```
 */
export const MAX_BATCH_ENTRIES: number = 50;
/**
 * Default of {@link PublishRoutesOptions.publishTimeoutMs}: 10 s.
 *
 * @example A client that waits a little longer than the gateway's deadline
 * ```ts
 * import process from "node:process";
 * import { DEFAULT_PUBLISH_TIMEOUT_MS } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ value: { data: { id: "o-1", customer: "c-7", total: 42 } } }),
 *   // The gateway answers by its deadline (503 when Kafka did not acknowledge): a bound above it never cuts an answer off.
 *   signal: AbortSignal.timeout(DEFAULT_PUBLISH_TIMEOUT_MS + 5_000),
 * });
 * ```
 */
export const DEFAULT_PUBLISH_TIMEOUT_MS: number = 10_000;
