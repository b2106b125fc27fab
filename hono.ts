/**
 * kshare/hono: the Hono adapter. Each request publishes through the shared
 * producer of its own security context: connections are reused across
 * requests, and never across callers whose contexts differ.
 *
 * - {@link kafka}: middleware resolving the request's security context and
 *   setting `c.var.kafka`, bound to that context's shared producer;
 * - {@link publishRoutes}: Confluent REST Proxy v3's produce API for a set of topics;
 * - {@link opsRoutes}: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`;
 * - {@link verifyUsers}: HTTP Basic users for Hono's `basicAuth({ verifyUser })`, checked in constant time.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { Hono } from "hono";
 * import { basicAuth } from "hono/basic-auth";
 * import * as v from "valibot";
 * import { createRegistry, defineTopic, type SecurityContext } from "@kshare/kshare";
 * import {
 *   createMetrics, kafka, openApiDocument, opsRoutes, publishRoutes, restProxyErrorHandler, restProxyNotFound, verifyUsers,
 * } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });
 * const contexts = new Map<string, SecurityContext>([
 *   ["alice", { bootstrapServers: "localhost:9092", clientId: "gateway-alice" }],
 * ]);
 * const registry = createRegistry();
 * const metrics = createMetrics();
 *
 * const app = new Hono<{ Variables: { user: string } }>();
 * app.onError(restProxyErrorHandler());
 * app.notFound(restProxyNotFound);
 * app.route("/", opsRoutes({ registry, metrics, openapi: openApiDocument({ topics: [orders] }) }));
 * app.use("/v3/*", basicAuth({
 *   verifyUser: verifyUsers([{ username: "alice", password: process.env.ALICE_PASSWORD! }]),
 *   onAuthSuccess: (c, user) => c.set("user", user),
 * }));
 * app.use("/v3/*", kafka<{ Variables: { user: string } }>({ registry, metrics, resolveContext: (c) => contexts.get(c.var.user) }));
 * app.route("/", publishRoutes({ topics: [orders] }));
 * ```
 *
 * @module
 */
export { kafka } from "./src/hono/kafka.ts";
export type { BoundProducer, KafkaEnv, KafkaOptions, ResolvedContext } from "./src/hono/kafka.ts";
export { publishRoutes } from "./src/hono/publish_routes.ts";
export { DEFAULT_MAX_BATCH_ENTRIES, DEFAULT_MAX_BODY_BYTES, DEFAULT_PUBLISH_TIMEOUT_MS, MAX_BATCH_ENTRIES } from "./src/hono/publish_routes_options.ts";
export type { PublishRoutesOptions } from "./src/hono/publish_routes_options.ts";
export type { AnyTopic, PayloadType } from "./src/hono/records.ts";
export type { BatchResponse, PayloadInfo, ProduceResponse } from "./src/hono/responses.ts";
export { opsRoutes } from "./src/hono/ops_routes.ts";
export type { OpsRoutesOptions } from "./src/hono/ops_routes.ts";
export { createMetrics } from "./src/hono/metrics.ts";
export type { Metrics } from "./src/hono/metrics.ts";
export { openApiDocument } from "./src/hono/openapi.ts";
export type { OpenApiOptions } from "./src/hono/openapi.ts";
export { verifyUsers } from "./src/hono/verify_users.ts";
export type { BasicUser } from "./src/hono/verify_users.ts";
export { publishFailure, restProxyError, restProxyErrorHandler, restProxyNotFound } from "./src/hono/errors.ts";
export { KAFKA_AUTHORIZATION, KAFKA_ERROR, KAFKA_RETRIABLE, UNKNOWN_TOPIC_PARTITION } from "./src/hono/error_codes.ts";
export type { ErrorHandlerOptions, ErrorOutcome, RestProxyErrorBody } from "./src/hono/errors.ts";
