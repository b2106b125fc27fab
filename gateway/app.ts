/**
 * The gateway's Hono app: HTTP Basic users as tenants, each publishing
 * through the shared producer of its own security context, behind
 * Confluent REST Proxy v3's produce API.
 *
 * @module
 */
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { createMiddleware } from "hono/factory";
import type { Logger, Registry, SecurityContext } from "../mod.ts";
import {
  type AnyTopic,
  kafka,
  type Metrics,
  openApiDocument,
  opsRoutes,
  publishRoutes,
  type PublishRoutesOptions,
  restProxyErrorHandler,
  restProxyNotFound,
  verifyUsers,
} from "../hono.ts";
import type { GatewayUser } from "./config.ts";

/** Options of {@link createGatewayApp}. */
export interface GatewayAppOptions {
  /** Whose shared producers the requests publish through. */
  readonly registry: Registry;
  /** The HTTP Basic users (at least one). */
  readonly users: readonly GatewayUser[];
  /** Each user's security context, by user name. A user without one is answered 403. */
  readonly contexts: ReadonlyMap<string, SecurityContext>;
  /** The topics published to. */
  readonly topics: readonly AnyTopic[];
  /** Cluster id of the REST Proxy paths. */
  readonly clusterId: string;
  /** Publishes, latency and in-flight requests are counted here and served at `/metrics`. */
  readonly metrics?: Metrics;
  /** Largest request body (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Delivery deadline of every publish (default 10 000 ms): past it, 503 / `50003` with `Retry-After`. */
  readonly publishTimeoutMs?: number;
  /** `publishRoutes`' per-tenant bounds and body timeout (defaults: its own). */
  readonly limits?: Pick<
    PublishRoutesOptions,
    "maxRequestsPerTenant" | "maxRecordsInFlightPerTenant" | "maxRecordsPerRequest" | "bodyTimeoutMs"
  >;
  /** Bound on `/readyz` (default 2000 ms). */
  readonly readinessTimeoutMs?: number;
  /** True once the gateway is shutting down: responses then close their connection. */
  readonly draining?: () => boolean;
  /** Where errors go (default `console`); never receives a secret. */
  readonly logger?: Logger;
}

/** The gateway's context variables: the authenticated user. */
export type GatewayEnv = { Variables: { user: string } };

/**
 * The gateway app: `/healthz`, `/readyz`, `/metrics`, `/openapi.json` open;
 * `/v3/*` behind HTTP Basic, each user publishing with its own context.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { createRegistry } from "../mod.ts";
 * import { createGatewayApp } from "./app.ts";
 * import { topics } from "./topics.ts";
 *
 * const app = createGatewayApp({
 *   registry: createRegistry(),
 *   users: [{ username: "alice", password: process.env.ALICE_PASSWORD! }],
 *   contexts: new Map([["alice", { bootstrapServers: "localhost:9092", clientId: "gateway-alice" }]]),
 *   topics,
 *   clusterId: "kshare",
 * });
 * ```
 */
export function createGatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const { registry, users, contexts, topics, clusterId, metrics, logger } = options;
  const [first] = users;
  if (!first) throw new TypeError("createGatewayApp: needs at least one user");
  const draining = options.draining ?? (() => false);

  const app = new Hono<GatewayEnv>();
  app.onError(restProxyErrorHandler(logger ? { logger } : {}));
  app.notFound(restProxyNotFound);

  // While shutting down, every response closes its connection: keep-alive
  // connections do not outlive the requests the server is finishing.
  // (A promise callback rather than an await: no suspended frame is held per request in flight.)
  app.use(createMiddleware(function closeWhenDraining(c, next) {
    return next().then(() => {
      if (draining()) c.res.headers.set("Connection", "close");
    });
  }));

  app.route(
    "/",
    opsRoutes({
      registry,
      ...(metrics && { metrics }),
      ...(logger && { logger }),
      // Readiness: the first user's producer is connected and a broker answers.
      readinessContext: contexts.get(first.username),
      ...(options.readinessTimeoutMs !== undefined && { readinessTimeoutMs: options.readinessTimeoutMs }),
      openapi: openApiDocument({
        topics,
        clusterId,
        title: "kshare gateway",
        securitySchemes: { basic: { type: "http", scheme: "basic" } },
      }),
    }),
  );

  app.use(
    "/v3/*",
    basicAuth({
      // Credentials digested once at startup; a request costs one HMAC, compared in constant time.
      verifyUser: verifyUsers(users),
      realm: "kshare",
      invalidUserMessage: { error_code: 401, message: "Unauthorized" },
      onAuthSuccess: (c, username) => c.set("user", username),
    }),
  );
  app.use(
    "/v3/*",
    kafka<GatewayEnv>({
      registry,
      ...(metrics && { metrics }),
      ...(logger && { logger }),
      // The user authenticated by basicAuth, and nothing else of the request, picks the context.
      resolveContext: (c) => contexts.get(c.var.user),
    }),
  );
  app.route(
    "/",
    publishRoutes({
      topics,
      clusterId,
      ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
      ...(options.publishTimeoutMs !== undefined && { publishTimeoutMs: options.publishTimeoutMs }),
      // Tenants are security contexts (one per user here): publishRoutes counts by c.var.kafka's fingerprint.
      ...options.limits,
      ...(logger && { logger }),
    }),
  );
  return app;
}
