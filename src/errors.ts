/**
 * The errors kshare throws. Each has a stable `name` so callers can branch on
 * it without `instanceof` across module copies.
 *
 * @module
 */
import type * as v from "valibot";

/**
 * One problem found in a security context: the field's path and what was expected. Never the value.
 *
 * @example Reporting every bad field
 * ```ts
 * import { type ContextProblem, InvalidSecurityContextError, resolveSecurityContext } from "@kshare/kshare";
 * try {
 *   resolveSecurityContext({ bootstrapServers: "localhost:9092", sasl: { mechanism: "PLAIN", username: "alice", password: "" } });
 * } catch (e) {
 *   if (!(e instanceof InvalidSecurityContextError)) throw e;
 *   const problems: readonly ContextProblem[] = e.problems;
 *   for (const { path, message } of problems) console.error(`${path}: ${message}`); // "sasl.password: a password must not be empty"
 * }
 * ```
 */
export interface ContextProblem {
  /** Dotted path of the field, e.g. `sasl.password`. */
  readonly path: string;
  /** What was wrong, without the received value. */
  readonly message: string;
}

/**
 * A security context failed validation. `problems` names every bad field; the
 * message never contains a received value, so a secret cannot leak through it.
 *
 * @example
 * ```ts
 * import { InvalidSecurityContextError, registry } from "@kshare/kshare";
 * try {
 *   await registry.producer({ bootstrapServers: [] });
 * } catch (e) {
 *   if (e instanceof InvalidSecurityContextError) console.error(e.problems);
 * }
 * ```
 */
export class InvalidSecurityContextError extends Error {
  /** Always `"InvalidSecurityContextError"`. */
  override readonly name = "InvalidSecurityContextError";
  /** Every bad field, in schema order. */
  readonly problems: readonly ContextProblem[];
  /** Build the error from the problems found; the message lists them all. */
  constructor(problems: readonly ContextProblem[]) {
    super(
      `Invalid security context: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    );
    this.problems = problems;
  }
}

/**
 * A value did not match its topic's schema; nothing was sent. `issues` are
 * valibot's issues (with their paths); for a batch, each issue's path starts
 * with the record's index.
 *
 * @example
 * ```ts
 * import { ValidationError } from "@kshare/kshare";
 * declare const err: unknown;
 * if (err instanceof ValidationError) console.error(err.topic, err.issues.length);
 * ```
 */
export class ValidationError extends Error {
  /** Always `"ValidationError"`. */
  override readonly name = "ValidationError";
  /** The topic whose schema rejected the value. */
  readonly topic: string;
  /** valibot's issues, with paths. */
  readonly issues: readonly v.BaseIssue<unknown>[];
  /** `prefix` names where an issue belongs (a batch index), before its own path. */
  constructor(topic: string, issues: readonly v.BaseIssue<unknown>[], prefix?: (issue: v.BaseIssue<unknown>) => string) {
    super(
      `Invalid value for topic "${topic}": ${
        issues.map((i) => {
          const path = (prefix ? prefix(i) : "") + issuePath(i);
          return path ? `${path}: ${i.message}` : i.message;
        }).join("; ")
      }`,
    );
    this.topic = topic;
    this.issues = issues;
  }
}

/** Dotted path of a valibot issue (`items.0.sku`), or "" for the root. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  return issue.path?.map((item) => String(item.key)).join(".") ?? "";
}

/**
 * The registry (or the consumer) was closed: no new clients, no new publishes.
 *
 * @example
 * ```ts
 * import { ClosedError } from "@kshare/kshare";
 * declare const err: unknown;
 * if (err instanceof ClosedError) console.log("shutting down");
 * ```
 */
export class ClosedError extends Error {
  /** Always `"ClosedError"`. */
  override readonly name = "ClosedError";
  /** `what` names the closed thing, e.g. "The registry". */
  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/**
 * A client could not be created or connected. `cause` is the driver's error,
 * already redacted. The registry does not cache the failure: the next call
 * retries after a backoff.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@kshare/kshare";
 * declare const err: unknown;
 * if (err instanceof ConnectError) console.error(err.message);
 * ```
 */
export class ConnectError extends Error {
  /** Always `"ConnectError"`. */
  override readonly name = "ConnectError";
  /** `what` says which client failed; `cause` is the driver's (redacted) error. */
  constructor(what: string, options: { cause: unknown }) {
    super(`${what}: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
  }
}

/**
 * Some records of a `publishBatch` failed to be delivered. `results` has one
 * settled result per record, in input order, so the caller knows exactly
 * which were acknowledged.
 *
 * @example
 * ```ts
 * import { PublishBatchError } from "@kshare/kshare";
 * declare const err: unknown;
 * if (err instanceof PublishBatchError) {
 *   const failed = err.results.filter((r) => r.status === "rejected").length;
 *   console.error(`${failed} records failed`);
 * }
 * ```
 */
export class PublishBatchError<T> extends Error {
  /** Always `"PublishBatchError"`. */
  override readonly name = "PublishBatchError";
  /** One outcome per record, in input order. */
  readonly results: readonly PromiseSettledResult<T>[];
  /** Build the error from every record's outcome. */
  constructor(topic: string, results: readonly PromiseSettledResult<T>[]) {
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    const first = failed[0]?.reason;
    super(
      `${failed.length} of ${results.length} records for topic "${topic}" were not delivered` +
        (first instanceof Error ? ` (first: ${first.message})` : ""),
    );
    this.results = results;
  }
}

/**
 * A transaction did not commit. `transactionalId` names its producer; the
 * message says what happened and librdkafka's reason (redacted), `cause` is
 * the driver's error. `fatal`: the producer is unusable and was retired
 * (`registry.transactionalProducer()` connects a new one); `fenced`: that
 * was because a newer producer registered the same transactional id.
 * Otherwise the transaction was aborted and the producer goes on.
 *
 * @example
 * ```ts
 * import { TransactionError } from "@kshare/kshare";
 * declare const err: unknown;
 * if (err instanceof TransactionError && err.fenced) {
 *   console.error(`${err.transactionalId} is owned by another instance now`); // stop: do not take it back
 * }
 * ```
 */
export class TransactionError extends Error {
  /** Always `"TransactionError"`. */
  override readonly name = "TransactionError";
  /** The transactional id of the producer. */
  readonly transactionalId: string;
  /** The producer is unusable and was retired. */
  readonly fatal: boolean;
  /** The producer was fenced by a newer one with the same transactional id (then `fatal` too). */
  readonly fenced: boolean;
  /** `what` completes "Transaction of <id> …". */
  constructor(transactionalId: string, what: string, options: { cause?: unknown; fatal?: boolean; fenced?: boolean } = {}) {
    super(`Transaction of transactional id "${transactionalId}" ${what}`, { cause: options.cause });
    this.transactionalId = transactionalId;
    this.fatal = options.fatal === true;
    this.fenced = options.fenced === true;
  }
}

/**
 * Which bound of a producer's waiting records a {@link QueueFullError} hit:
 * `maxWaitingRecords` or `maxWaitingBytes` (see `RegistryOptions`).
 *
 * @example
 * ```ts
 * import { QueueFullError, type WaitingLimit } from "@kshare/kshare";
 * declare const err: QueueFullError;
 * const hint: Record<WaitingLimit, string> = {
 *   maxWaitingRecords: "too many records are waiting",
 *   maxWaitingBytes: "too many bytes are waiting",
 * };
 * console.warn(hint[err.limit]);
 * ```
 */
export type WaitingLimit = "maxWaitingRecords" | "maxWaitingBytes";

/**
 * A publish was refused at once, nothing sent: librdkafka's queue is full and
 * the records already waiting for room in it reached the producer's bound
 * (`maxWaitingRecords` or `maxWaitingBytes` of `createRegistry`). Back-pressure:
 * try again later, or publish less at a time. The message names the bound and
 * the topic, nothing else of the record.
 *
 * @example Shedding load instead of queueing it
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, QueueFullError, registry } from "@kshare/kshare";
 *
 * const clicks = defineTopic({ name: "clicks", schema: v.object({ page: v.string() }) });
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * try {
 *   await producer.publish(clicks, { page: "/" });
 * } catch (error) {
 *   if (!(error instanceof QueueFullError)) throw error;
 *   console.warn(`dropped a click: ${error.limit} ${error.max} reached for ${error.topic}`);
 * }
 * ```
 */
export class QueueFullError extends Error {
  /** Always `"QueueFullError"`. */
  override readonly name = "QueueFullError";
  /** The topic of the refused record. */
  readonly topic: string;
  /** The bound that was reached. */
  readonly limit: WaitingLimit;
  /** Its value: records, or bytes. */
  readonly max: number;
  /** `topic` of the refused record; `limit` and `max` the bound it hit. */
  constructor(topic: string, limit: WaitingLimit, max: number) {
    super(
      `Cannot publish to topic "${topic}": librdkafka's queue is full and ` +
        (limit === "maxWaitingRecords" ? `${max} records` : `${max} bytes of records`) +
        ` already wait for room in it (${limit})`,
    );
    this.topic = topic;
    this.limit = limit;
    this.max = max;
  }
}

/**
 * A publish was not acknowledged within its `timeoutMs` (`PublishOptions`).
 * A record still waiting for room in librdkafka's queue at that moment is
 * dropped: it is never sent. One already handed to librdkafka cannot be
 * recalled: it may still be delivered, at the latest within the producer's
 * `message.timeout.ms` (default 300 000 ms) — set that lower for a tighter bound.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, PublishTimeoutError, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * try {
 *   await producer.publish(orders, { id: "o-1" }, { timeoutMs: 2_000 });
 * } catch (error) {
 *   if (error instanceof PublishTimeoutError) console.warn(`${error.topic}: no ack within ${error.timeoutMs} ms`);
 *   else throw error;
 * }
 * ```
 */
export class PublishTimeoutError extends Error {
  /** Always `"PublishTimeoutError"`. */
  override readonly name = "PublishTimeoutError";
  /** The topic of the record. */
  readonly topic: string;
  /** The publish's `timeoutMs`. */
  readonly timeoutMs: number;
  /** `cause`: the driver's error, when one came after the deadline had passed. */
  constructor(topic: string, timeoutMs: number, options?: { cause: unknown }) {
    super(`Publish to topic "${topic}" was not acknowledged within ${timeoutMs} ms`, options);
    this.topic = topic;
    this.timeoutMs = timeoutMs;
  }
}

/** Replace every occurrence of each secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("[redacted]");
  }
  return out;
}
