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

/** Replace every occurrence of each secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("[redacted]");
  }
  return out;
}
