/**
 * `opsRoutes()`: liveness, readiness, Prometheus metrics and the OpenAPI
 * document of a publishing service.
 *
 * @module
 */
import { Hono } from "hono";
import { registry as defaultRegistry } from "../default_registry.ts";
import type { Registry } from "../registry.ts";
import type { SecurityContext } from "../security_context.ts";
import type { Logger } from "../_util.ts";
import { DEFAULT_RETRY_AFTER_SECONDS } from "./errors.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Options of {@link opsRoutes}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic } from "@kshare/kshare";
 * import { createMetrics, openApiDocument, opsRoutes, type OpsRoutesOptions } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const options: OpsRoutesOptions = {
 *   registry: createRegistry(), // the one kafka() publishes through
 *   metrics: createMetrics(), // the one kafka() records in
 *   readinessContext: { bootstrapServers: "localhost:9092" }, // GET /readyz: its producer connects, a broker answers
 *   readinessTimeoutMs: 1_000,
 *   openapi: openApiDocument({ topics: [orders] }),
 * };
 * const routes = opsRoutes(options);
 * ```
 */
export interface OpsRoutesOptions {
  /** The registry reported on (default: the module's `registry`). */
  readonly registry?: Registry;
  /** Served at `GET /metrics`, with the registry's counters per fingerprint; without it `/metrics` is not mounted. */
  readonly metrics?: Metrics;
  /**
   * The context whose producer `GET /readyz` checks: connected, and a broker
   * answers a metadata request. Without it `/readyz` only reports whether the
   * registry is open.
   */
  readonly readinessContext?: SecurityContext | (() => SecurityContext);
  /** Bound on the readiness check (default 2000 ms); slower is answered 503. */
  readonly readinessTimeoutMs?: number;
  /** Served at `GET /openapi.json` (see `openApiDocument`); without it the path is not mounted. */
  readonly openapi?: Readonly<Record<string, unknown>>;
  /** Where a failed readiness check is reported (default `console`): fingerprint and error class, never a secret. */
  readonly logger?: Logger;
}

/**
 * `GET /healthz` (liveness: the process answers), `GET /readyz` (the
 * readiness context's producer is connected and broker metadata is
 * reachable; 503 with `Retry-After` otherwise, and once the registry is
 * closing), `GET /metrics` (Prometheus text format) and `GET /openapi.json`.
 * Mount them outside the authenticated paths: probes and scrapers carry no
 * credentials, and nothing here reveals more than fingerprints.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createRegistry } from "@kshare/kshare";
 * import { createMetrics, opsRoutes } from "@kshare/kshare/hono";
 *
 * const registry = createRegistry();
 * const app = new Hono();
 * app.route("/", opsRoutes({ registry, metrics: createMetrics(), readinessContext: { bootstrapServers: "localhost:9092" } }));
 * ```
 */
export function opsRoutes(options: OpsRoutesOptions = {}): Hono {
  const registry = options.registry ?? defaultRegistry;
  const timeoutMs = options.readinessTimeoutMs ?? 2_000;
  const logger = options.logger ?? console;
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const unready = (reason: string) => c.json({ status: "unavailable", reason }, 503, { "Retry-After": String(DEFAULT_RETRY_AFTER_SECONDS) });
    if (registry.closed) return unready("shutting down");
    const { readinessContext } = options;
    if (!readinessContext) return c.json({ status: "ready" });
    const ctx = typeof readinessContext === "function" ? readinessContext() : readinessContext;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((
      _,
      reject,
    ) => (timer = setTimeout(() => reject(new Error("readiness check timed out")), timeoutMs)));
    try {
      const check = (async () => {
        const producer = await registry.producer(ctx);
        await producer.ping(timeoutMs);
        return producer.fingerprint;
      })();
      check.catch(() => {}); // settles after the deadline when it lost the race
      const fingerprint = await Promise.race([check, deadline]);
      return c.json({ status: "ready", context: fingerprint });
    } catch (error) {
      logger.warn("kshare/hono: not ready", { error: error instanceof Error ? error.name : typeof error });
      return unready(registry.closed ? "shutting down" : "Kafka is unavailable");
    } finally {
      clearTimeout(timer);
    }
  });

  const { metrics } = options;
  if (metrics) {
    app.get(
      "/metrics",
      (c) => c.text(metrics.render(registry.stats()), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    );
  }
  const { openapi } = options;
  if (openapi) app.get("/openapi.json", (c) => c.json(openapi));
  return app;
}
