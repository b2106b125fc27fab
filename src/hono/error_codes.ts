/**
 * REST Proxy's five-digit error codes, by name (Confluent kafka-rest's
 * `Errors`): the `error_code` of an answer that refines its HTTP status.
 * Other answers carry the status itself as their `error_code`.
 *
 * @module
 */

/**
 * REST Proxy's `error_code` for "the caller is not authorized" (status 403): no or an invalid security context, a broker's
 * authorization failure.
 *
 * @example A route of one's own refusing a caller the way the produce API does
 * ```ts
 * import { Hono } from "hono";
 * import { KAFKA_AUTHORIZATION, restProxyError } from "@kshare/kshare/hono";
 *
 * const app = new Hono<{ Variables: { user?: string } }>();
 * app.use("/admin/*", async (c, next) => {
 *   if (c.var.user !== "admin") throw restProxyError(403, KAFKA_AUTHORIZATION, "Not authorized");
 *   await next();
 * });
 * ```
 */
export const KAFKA_AUTHORIZATION = 40301;
/**
 * REST Proxy's `error_code` for "this server does not host this topic-partition" (status 404): a topic not defined, or
 * one Kafka does not have.
 *
 * @example A client telling a missing topic from a missing route
 * ```ts
 * import process from "node:process";
 * import { type RestProxyErrorBody, UNKNOWN_TOPIC_PARTITION } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/refunds/records", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ value: { data: { id: "r-1" } } }),
 * });
 * if (res.status === 404 && ((await res.json()) as RestProxyErrorBody).error_code === UNKNOWN_TOPIC_PARTITION) {
 *   console.error("the gateway does not publish to refunds");
 * }
 * ```
 */
export const UNKNOWN_TOPIC_PARTITION = 40403;
/**
 * REST Proxy's `error_code` for a Kafka failure a later attempt can overcome (status 503, with `Retry-After`): brokers
 * unavailable, delivery timed out, a gateway shutting down.
 *
 * @example A client retrying after the time the gateway asks for
 * ```ts
 * import process from "node:process";
 * import { KAFKA_RETRIABLE, type RestProxyErrorBody } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const send = () =>
 *   fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records", {
 *     method: "POST",
 *     headers: { "Content-Type": "application/json", Authorization: auth },
 *     body: JSON.stringify({ value: { data: { id: "o-1", customer: "c-7", total: 42 } } }),
 *   });
 * let res = await send();
 * for (let attempt = 1; attempt < 3 && !res.ok; attempt++) {
 *   if (((await res.json()) as RestProxyErrorBody).error_code !== KAFKA_RETRIABLE) break;
 *   await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get("Retry-After") ?? 5) * 1000));
 *   res = await send();
 * }
 * ```
 */
export const KAFKA_RETRIABLE = 50003;
/**
 * REST Proxy's `error_code` for a Kafka failure that retrying will not fix (status 500).
 *
 * @example A client keeping the records Kafka rejected for good apart from those worth retrying
 * ```ts
 * import { type BatchResponse, KAFKA_ERROR } from "@kshare/kshare/hono";
 *
 * function rejected(answer: BatchResponse): string[] {
 *   return answer.failures.filter((failure) => failure.error_code === KAFKA_ERROR).map((failure) => failure.id);
 * }
 * ```
 */
export const KAFKA_ERROR = 50002;
