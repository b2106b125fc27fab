/**
 * Metrics of a publishing service in the Prometheus text format: publishes by
 * topic and status, publish latency, requests and publishes in flight, the
 * registry's connection counters and forgotten records (published with
 * `publishAndForget`, and those not delivered) per security context
 * fingerprint, its live contexts and its evictions.
 *
 * Labels are topic names, statuses, fingerprints and eviction reasons only:
 * never a description, a user name or a secret. The per-fingerprint series
 * are those of `registry.stats()`: a context the registry closed drops out,
 * so they are as many as `maxContexts` bounds (plus failed contexts, at most 256).
 *
 * @module
 */
import type { RegistryStats } from "../registry.ts";

/** Upper bounds (seconds) of the publish latency histogram's buckets. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * Counters and gauges a `kafka()` middleware records and `opsRoutes()` serves at `GET /metrics`.
 *
 * @example One collector for the middleware (which records) and the routes (which serve it)
 * ```ts
 * import { Hono } from "hono";
 * import { createMetrics, kafka, type Metrics, opsRoutes } from "@kshare/kshare/hono";
 *
 * const metrics: Metrics = createMetrics();
 * const app = new Hono();
 * app.route("/", opsRoutes({ metrics })); // GET /metrics
 * app.use("/v3/*", kafka({ metrics, resolveContext: () => ({ bootstrapServers: "localhost:9092" }) }));
 *
 * // Later, e.g. at shutdown or in a test:
 * console.log(metrics.inFlightRequests, metrics.publishes()); // 0 { orders: { 200: 1200, 503: 3 } }
 * ```
 */
export interface Metrics {
  /** A publish to `topic` settled with `status` (the REST Proxy HTTP status it maps to). */
  published(topic: string, status: number): void;
  /** A publish to `topic` was acknowledged `seconds` after it started. */
  observeLatency(topic: string, seconds: number): void;
  /** Adjust the number of requests inside the `kafka()` middleware by `delta`. */
  requestsInFlight(delta: 1 | -1): void;
  /** Adjust the number of publishes awaiting their acknowledgement by `delta`. */
  publishesInFlight(delta: 1 | -1): void;
  /** Current number of requests inside the `kafka()` middleware. */
  readonly inFlightRequests: number;
  /** Publishes counted so far, by topic and status, e.g. `{ orders: { 200: 3, 400: 1 } }`. */
  publishes(): Readonly<Record<string, Readonly<Record<number, number>>>>;
  /**
   * Everything, in the Prometheus text exposition format (0.0.4); with `stats`, also the registry's
   * counters per fingerprint, its live contexts and its evictions.
   */
  render(stats?: RegistryStats): string;
}

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Create a metrics collector. Pass the same one to `kafka()` (which records)
 * and `opsRoutes()` (which serves it).
 *
 * @example
 * ```ts
 * import { createMetrics } from "@kshare/kshare/hono";
 * const metrics = createMetrics();
 * metrics.published("orders", 200);
 * console.log(metrics.render());
 * ```
 */
export function createMetrics(): Metrics {
  const publishes = new Map<string, Map<number, number>>();
  const latency = new Map<string, Histogram>();
  let requests = 0;
  let pending = 0;

  return {
    published(topic, status) {
      let byStatus = publishes.get(topic);
      if (!byStatus) publishes.set(topic, byStatus = new Map());
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    observeLatency(topic, seconds) {
      let h = latency.get(topic);
      if (!h) latency.set(topic, h = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 });
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) h.buckets[i]!++;
      h.sum += seconds;
      h.count++;
    },
    requestsInFlight(delta) {
      requests += delta;
    },
    publishesInFlight(delta) {
      pending += delta;
    },
    get inFlightRequests() {
      return requests;
    },
    publishes() {
      return Object.fromEntries([...publishes].map(([topic, byStatus]) => [topic, Object.fromEntries(byStatus)]));
    },
    render(stats) {
      const out: string[] = [];
      const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

      family("kshare_publishes_total", "counter", "Publishes by topic and REST Proxy status (200 acknowledged).");
      for (const [topic, byStatus] of publishes) {
        for (const [status, n] of byStatus) out.push(`kshare_publishes_total${labels({ topic, status: String(status) })} ${n}`);
      }
      family("kshare_publish_duration_seconds", "histogram", "Time from publish to broker acknowledgement.");
      for (const [topic, h] of latency) {
        LATENCY_BUCKETS.forEach((bound, i) => out.push(`kshare_publish_duration_seconds_bucket${labels({ topic, le: String(bound) })} ${h.buckets[i]}`));
        out.push(`kshare_publish_duration_seconds_bucket${labels({ topic, le: "+Inf" })} ${h.count}`);
        out.push(`kshare_publish_duration_seconds_sum${labels({ topic })} ${h.sum}`);
        out.push(`kshare_publish_duration_seconds_count${labels({ topic })} ${h.count}`);
      }
      family("kshare_http_requests_in_flight", "gauge", "Requests inside the kafka() middleware.");
      out.push(`kshare_http_requests_in_flight ${requests}`);
      family("kshare_publishes_in_flight", "gauge", "Publishes awaiting their acknowledgement.");
      out.push(`kshare_publishes_in_flight ${pending}`);

      const contexts = Object.entries(stats?.contexts ?? {});
      const perContext = [
        [
          "kshare_clients_created_total",
          "counter",
          "Kafka clients created (connections set up), per security context fingerprint.",
          "clientsCreated",
        ],
        [
          "kshare_handles_reused_total",
          "counter",
          "Calls served by an existing client, per security context fingerprint.",
          "handlesReused",
        ],
        [
          "kshare_connect_failures_total",
          "counter",
          "Failed connection attempts, per security context fingerprint.",
          "connectFailures",
        ],
        ["kshare_live_producers", "gauge", "Connected producers, per security context fingerprint.", "liveProducers"],
        ["kshare_live_consumers", "gauge", "Connected consumers, per security context fingerprint.", "liveConsumers"],
        [
          "kshare_forgotten_records_total",
          "counter",
          "Records published with publishAndForget (not refused at once), per security context fingerprint.",
          "forgottenRecords",
        ],
        [
          "kshare_forgotten_failures_total",
          "counter",
          "Records published with publishAndForget that were not delivered (each reported to onDeliveryError), per security context fingerprint.",
          "forgottenFailures",
        ],
      ] as const;
      for (const [name, type, help, field] of perContext) {
        family(name, type, help);
        for (const [fingerprint, c] of contexts) out.push(`${name}${labels({ context: fingerprint })} ${c[field]}`);
      }
      if (stats) {
        family("kshare_live_contexts", "gauge", "Security contexts holding Kafka clients (connected, connecting, or closing after eviction).");
        out.push(`kshare_live_contexts ${stats.liveContexts}`);
        family(
          "kshare_context_evictions_total",
          "counter",
          "Security contexts the registry closed: to make room under maxContexts (bound) or idle for idleTimeoutMs (idle).",
        );
        for (const reason of ["bound", "idle"] as const) {
          out.push(`kshare_context_evictions_total${labels({ reason })} ${stats.evictions[reason]}`);
        }
      }
      return out.join("\n") + "\n";
    },
  };
}

function labels(values: Readonly<Record<string, string>>): string {
  const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${Object.entries(values).map(([k, val]) => `${k}="${escape(val)}"`).join(",")}}`;
}
