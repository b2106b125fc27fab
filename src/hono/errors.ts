/**
 * Errors of the REST Proxy v3 API: `{ error_code, message }` bodies, the one
 * mapping from kshare's errors to HTTP statuses, and the app-level handlers.
 *
 * A body never carries a stack trace, a driver's raw message or a secret: it
 * says what class of failure happened, and for invalid input which fields.
 *
 * @module
 */
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import * as v from "valibot";
import { issuePath } from "../errors.ts";
import { isKafkaError } from "../kafka_error.ts";
import type { Logger } from "../_util.ts";
import {
  ERR__ALL_BROKERS_DOWN,
  ERR__FATAL,
  ERR__MSG_TIMED_OUT,
  ERR__PURGE_INFLIGHT,
  ERR__PURGE_QUEUE,
  ERR__QUEUE_FULL,
  ERR__TIMED_OUT,
  ERR__TRANSPORT,
  ERR__UNKNOWN_PARTITION,
  ERR__UNKNOWN_TOPIC,
  ERR_BROKER_NOT_AVAILABLE,
  ERR_CLUSTER_AUTHORIZATION_FAILED,
  ERR_COORDINATOR_LOAD_IN_PROGRESS,
  ERR_LEADER_NOT_AVAILABLE,
  ERR_MSG_SIZE_TOO_LARGE,
  ERR_NETWORK_EXCEPTION,
  ERR_NOT_ENOUGH_REPLICAS,
  ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ERR_NOT_LEADER_OR_FOLLOWER,
  ERR_RECORD_LIST_TOO_LARGE,
  ERR_REQUEST_TIMED_OUT,
  ERR_TOPIC_AUTHORIZATION_FAILED,
  ERR_UNKNOWN_TOPIC_OR_PART,
} from "../_kafka_codes.ts";
import { KAFKA_AUTHORIZATION, KAFKA_ERROR, KAFKA_RETRIABLE, UNKNOWN_TOPIC_PARTITION } from "./error_codes.ts";

/**
 * The body of every error response, as Confluent REST Proxy v3 sends it.
 *
 * @example A client telling a retriable failure from a final one
 * ```ts
 * import process from "node:process";
 * import type { RestProxyErrorBody } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ value: { data: { id: "o-1", customer: "c-7", total: 42 } } }),
 * });
 * if (!res.ok) {
 *   const { error_code, message } = (await res.json()) as RestProxyErrorBody;
 *   if (error_code === 50003) console.warn(`Kafka unavailable, retry in ${res.headers.get("Retry-After")} s`);
 *   else throw new Error(`produce failed: ${error_code} ${message}`);
 * }
 * ```
 */
export interface RestProxyErrorBody {
  /** The HTTP status, or REST Proxy's five-digit refinement of it (`40403`, `50003`). */
  readonly error_code: number;
  /** What went wrong, for a human; never a stack trace or a secret. */
  readonly message: string;
}

/** {@link RestProxyErrorBody} as a schema (for the OpenAPI document). */
export const RestProxyErrorBodySchema = v.object({ error_code: v.number(), message: v.string() });

/**
 * How one failed publish is answered: status, body and, for a 503, `Retry-After` seconds.
 *
 * @example Turning an outcome into a response
 * ```ts
 * import { ClosedError } from "@kshare/kshare";
 * import { type ErrorOutcome, publishFailure } from "@kshare/kshare/hono";
 *
 * function toResponse({ status, body, retryAfterSeconds }: ErrorOutcome): Response {
 *   const headers: Record<string, string> = {};
 *   if (retryAfterSeconds !== undefined) headers["Retry-After"] = String(retryAfterSeconds);
 *   return Response.json(body, { status, headers });
 * }
 * // { status: 503, body: { error_code: 50003, message: "Kafka is unavailable" }, retryAfterSeconds: 5 }
 * const response = toResponse(publishFailure(new ClosedError("The registry")));
 * ```
 */
export interface ErrorOutcome {
  /** HTTP status. */
  readonly status: ContentfulStatusCode;
  /** Response body. */
  readonly body: RestProxyErrorBody;
  /** Set for 503: when the client should try again. */
  readonly retryAfterSeconds?: number;
}

/** Default `Retry-After` of a 503, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * An `HTTPException` whose response is a REST Proxy error body. Throw it from
 * a middleware or handler; Hono answers with its response.
 *
 * @example
 * ```ts
 * import { restProxyError } from "@kshare/kshare/hono";
 * throw restProxyError(403, 40301, "Not authorized to publish to this topic");
 * ```
 */
export function restProxyError(
  status: ContentfulStatusCode,
  errorCode: number,
  message: string,
  headers?: Readonly<Record<string, string>>,
): HTTPException {
  const body: RestProxyErrorBody = { error_code: errorCode, message };
  return new HTTPException(status, { message, res: Response.json(body, { status, headers }) });
}

/** The error response of an {@link ErrorOutcome}. */
export function errorResponse(outcome: ErrorOutcome): Response {
  const headers: Record<string, string> = {};
  if (outcome.retryAfterSeconds !== undefined) headers["Retry-After"] = String(outcome.retryAfterSeconds);
  return Response.json(outcome.body, { status: outcome.status, headers });
}

/** Failures a later attempt can overcome: brokers down, timeouts, leader moves, full queues, retired clients. */
const RETRIABLE = new Set([
  ERR__MSG_TIMED_OUT,
  ERR__TRANSPORT,
  ERR__ALL_BROKERS_DOWN,
  ERR__TIMED_OUT,
  ERR__QUEUE_FULL,
  ERR__PURGE_QUEUE,
  ERR__PURGE_INFLIGHT,
  ERR__FATAL, // the registry replaces the client; the next attempt gets a fresh one
  ERR_LEADER_NOT_AVAILABLE,
  ERR_NOT_LEADER_OR_FOLLOWER,
  ERR_REQUEST_TIMED_OUT,
  ERR_BROKER_NOT_AVAILABLE,
  ERR_NETWORK_EXCEPTION,
  ERR_COORDINATOR_LOAD_IN_PROGRESS,
  ERR_NOT_ENOUGH_REPLICAS,
  ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
]);

/**
 * How a failed publish is answered: the one mapping from kshare's errors to
 * REST Proxy statuses, used by the responses and by the metrics alike.
 *
 * - `ValidationError` → 400 with valibot's issues and their paths;
 * - unknown topic or partition → 404 / `40403`; record too large → 413;
 *   not authorized → 403 / `40301`;
 * - `ConnectError`, `ClosedError`, `QueueFullError` (too many records wait
 *   for the producer's queue), `PublishTimeoutError` (the publish's deadline
 *   passed), a delivery timeout or an unavailable broker → 503 / `50003`
 *   with `Retry-After`;
 * - anything else → 500 / `50002` with a fixed message.
 *
 * `valuePath` prefixes the issue paths (`value.data`).
 *
 * @example A handler of its own answering a failed publish as the produce API would
 * ```ts
 * import { Hono } from "hono";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { type KafkaEnv, publishFailure } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const app = new Hono<KafkaEnv>(); // mounted behind kafka()
 * app.post("/orders", async (c) => {
 *   const order = await c.req.json();
 *   try {
 *     return c.json(await c.var.kafka.publish(orders, order), 201);
 *   } catch (error) {
 *     const { status, body, retryAfterSeconds } = publishFailure(error, { retryAfterSeconds: 10 });
 *     return c.json(body, status, retryAfterSeconds === undefined ? {} : { "Retry-After": String(retryAfterSeconds) });
 *   }
 * });
 * ```
 */
export function publishFailure(
  error: unknown,
  options: { readonly retryAfterSeconds?: number; readonly valuePath?: string } = {},
): ErrorOutcome {
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  const name = (error as { name?: unknown } | null)?.name;
  if (error instanceof HTTPException) return { status: error.status, body: { error_code: error.status, message: error.message } };
  if (name === "ValidationError") {
    const { topic, issues } = error as { topic: string; issues: readonly v.BaseIssue<unknown>[] };
    return invalid(`Invalid value for topic "${topic}": ${describeIssues(issues, options.valuePath ?? "")}`);
  }
  if (name === "ConnectError" || name === "ClosedError") {
    return unavailable("Kafka is unavailable", retryAfterSeconds);
  }
  if (name === "PublishTimeoutError") return unavailable("Delivery to Kafka timed out", retryAfterSeconds);
  if (name === "QueueFullError") return unavailable("Too many records are waiting to be sent to Kafka", retryAfterSeconds);
  if (name === "InvalidSecurityContextError") {
    return { status: 403, body: { error_code: KAFKA_AUTHORIZATION, message: "The caller's Kafka security context is invalid" } };
  }
  if (isKafkaError(error)) {
    const { code } = error;
    if (code === ERR__MSG_TIMED_OUT) return unavailable("Delivery to Kafka timed out", retryAfterSeconds);
    if (RETRIABLE.has(code)) return unavailable("Kafka is unavailable", retryAfterSeconds);
    if (code === ERR__UNKNOWN_PARTITION || code === ERR__UNKNOWN_TOPIC || code === ERR_UNKNOWN_TOPIC_OR_PART) {
      return {
        status: 404,
        body: { error_code: UNKNOWN_TOPIC_PARTITION, message: "This server does not host this topic-partition." },
      };
    }
    if (code === ERR_MSG_SIZE_TOO_LARGE || code === ERR_RECORD_LIST_TOO_LARGE) {
      return {
        status: 413,
        body: { error_code: 413, message: "The record is larger than the producer accepts (message.max.bytes)" },
      };
    }
    if (code === ERR_TOPIC_AUTHORIZATION_FAILED || code === ERR_CLUSTER_AUTHORIZATION_FAILED) {
      return { status: 403, body: { error_code: KAFKA_AUTHORIZATION, message: "Not authorized to publish to this topic" } };
    }
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    // The core rejects arguments it cannot use (a bad partition) with these, before sending.
    return invalid("The record cannot be published as given");
  }
  return { status: 500, body: { error_code: KAFKA_ERROR, message: "Kafka rejected the record" } };
}

/** A 400 outcome. */
export function invalid(message: string): ErrorOutcome {
  return { status: 400, body: { error_code: 400, message } };
}

function unavailable(message: string, retryAfterSeconds: number): ErrorOutcome {
  return { status: 503, body: { error_code: KAFKA_RETRIABLE, message }, retryAfterSeconds };
}

/** valibot issues as `path: message; path: message`, each path under `prefix`. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], prefix = ""): string {
  return issues.map((issue) => {
    const path = [prefix, issuePath(issue)].filter((p) => p !== "").join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  }).join("; ");
}

/**
 * Options of {@link restProxyErrorHandler}.
 *
 * @example Unexpected errors as JSON lines
 * ```ts
 * import { Hono } from "hono";
 * import { type ErrorHandlerOptions, restProxyErrorHandler } from "@kshare/kshare/hono";
 *
 * const options: ErrorHandlerOptions = {
 *   logger: {
 *     warn: (message, fields) => console.warn(JSON.stringify({ level: "warn", message, ...fields })),
 *     error: (message, fields) => console.error(JSON.stringify({ level: "error", message, ...fields })),
 *   },
 * };
 * const app = new Hono();
 * app.onError(restProxyErrorHandler(options));
 * ```
 */
export interface ErrorHandlerOptions {
  /** Where unexpected errors are reported (default `console`): their name and message, never a stack. */
  readonly logger?: Logger;
}

/**
 * An `app.onError` handler answering every error as a REST Proxy error body:
 * an `HTTPException` with its own status (Hono's `bodyLimit`, validators and
 * auth middleware throw those), kshare's errors as {@link publishFailure}
 * maps them, anything else as a 500 whose body says nothing about its cause.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { restProxyErrorHandler, restProxyNotFound } from "@kshare/kshare/hono";
 * const app = new Hono();
 * app.onError(restProxyErrorHandler());
 * app.notFound(restProxyNotFound);
 * ```
 */
export function restProxyErrorHandler(options: ErrorHandlerOptions = {}): ErrorHandler {
  const logger = options.logger ?? console;
  return function restProxyErrorHandler(error, c) {
    if (error instanceof HTTPException) {
      const res = error.res;
      // A response already in REST Proxy form (ours, or an auth middleware's JSON message) goes out as is.
      if (res && res.headers.get("content-type")?.startsWith("application/json")) return error.getResponse();
      const response = Response.json({ error_code: error.status, message: statusMessage(error) } satisfies RestProxyErrorBody, {
        status: error.status,
      });
      const authenticate = res?.headers.get("www-authenticate");
      if (authenticate) response.headers.set("WWW-Authenticate", authenticate);
      return response;
    }
    const outcome = publishFailure(error);
    if (outcome.status >= 500) {
      logger.error("kshare/hono: request failed", {
        method: c.req.method,
        path: c.req.path,
        error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error,
      });
    }
    if (outcome.status === 500) {
      return errorResponse({ status: 500, body: { error_code: 500, message: "Internal Server Error" } });
    }
    return errorResponse(outcome);
  };
}

/** An HTTPException's message, or its status's reason phrase when it has none. */
function statusMessage(error: HTTPException): string {
  if (error.message) return error.message;
  const phrases: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
  };
  return phrases[error.status] ?? "Error";
}

/**
 * An `app.notFound` handler: `404 { error_code: 404, message: "Not Found" }`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { restProxyNotFound } from "@kshare/kshare/hono";
 * new Hono().notFound(restProxyNotFound);
 * ```
 */
export function restProxyNotFound(c: Context): Response {
  return c.json({ error_code: 404, message: "Not Found" } satisfies RestProxyErrorBody, 404);
}
