/**
 * The kshare gateway: Confluent REST Proxy v3's produce API over shared
 * Kafka connections, one per tenant's security context.
 *
 * Start: `deno task start` (Deno), `npm start` (Node), `bun gateway/main.ts`
 * (Bun). Without `KAFKA_BOOTSTRAP_SERVERS` it starts the embedded broker.
 * Configuration: see `gateway/config.ts`. SIGINT/SIGTERM: stop accepting,
 * finish the requests in flight, flush and close the producers, all within
 * one deadline (`GATEWAY_SHUTDOWN_TIMEOUT_MS`), and exit 0; exit 3 when a
 * record taken before or during the shutdown was not delivered (answered
 * 503: requests still waiting for Kafka shortly before the deadline are failed
 * so that each is answered) or the deadline passed first. Exit 2: a configuration that cannot
 * work; 1: cannot listen, or the shutdown itself failed.
 *
 * @module
 */
import { createRegistry } from "../mod.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "../testing.ts";
import { createMetrics } from "../hono.ts";
import { createGatewayApp } from "./app.ts";
import { type GatewayConfig, gatewayConfig, GatewayConfigError } from "./config.ts";
import { environment, exit, onShutdownSignal, runtimeName, serve } from "./serve.ts";
import { EMBEDDED_PARTITIONS, topics } from "./topics.ts";

const log = (line: string) => console.log(`kshare-gateway: ${line}`);

let config: GatewayConfig;
try {
  config = gatewayConfig(environment());
} catch (error) {
  if (!(error instanceof GatewayConfigError)) throw error;
  for (const problem of error.problems) console.error(`kshare-gateway: ${problem}`);
  exit(2);
}

let broker: EmbeddedBroker | undefined;
let bootstrapServers = config.bootstrapServers;
if (bootstrapServers === undefined) {
  broker = await startEmbeddedBroker({ brokers: 1 });
  for (const topic of topics) broker.createTopic(topic.name, EMBEDDED_PARTITIONS);
  bootstrapServers = broker.bootstrapServers;
}

let contexts;
try {
  contexts = config.contexts(bootstrapServers);
} catch (error) {
  if (!(error instanceof GatewayConfigError)) throw error;
  for (const problem of error.problems) console.error(`kshare-gateway: ${problem}`);
  await broker?.stop();
  exit(2);
}

/**
 * The end of the shutdown's deadline kept for failing the requests still
 * waiting for Kafka (see the shutdown below): a quarter of it, at most 2 s.
 */
const shutdownReserveMs = Math.min(2_000, Math.floor(config.shutdownTimeoutMs / 4));
// closeTimeoutMs: the registry is closed within the reserve. Once every request was answered nothing is left to
// flush (a request is answered once its publish settled); otherwise what is left is failed, and answered 503.
const registry = createRegistry({
  maxContexts: config.maxContexts,
  idleTimeoutMs: config.contextIdleTimeoutMs,
  closeTimeoutMs: Math.max(1, Math.floor(shutdownReserveMs / 2)),
});
const metrics = createMetrics();
let stopping = false;
const app = createGatewayApp({
  registry,
  users: config.users,
  contexts,
  topics,
  clusterId: config.clusterId,
  publishTimeoutMs: config.publishTimeoutMs,
  limits: {
    maxRequestsPerTenant: config.maxRequestsPerTenant,
    maxRecordsInFlightPerTenant: config.maxRecordsInFlightPerTenant,
    maxRecordsPerRequest: config.maxRecordsPerRequest,
    bodyTimeoutMs: config.bodyTimeoutMs,
  },
  metrics,
  draining: () => stopping,
});

let server;
try {
  server = await serve(app.fetch, { hostname: config.hostname, port: config.port });
} catch (error) {
  console.error(
    `kshare-gateway: cannot listen on ${config.hostname}:${config.port}: ${error instanceof Error ? error.message : error}`,
  );
  await broker?.stop();
  exit(1);
}

log(`listening on ${server.url} (${runtimeName()})`);
log(
  broker
    ? `Kafka: embedded broker at ${bootstrapServers} (KAFKA_BOOTSTRAP_SERVERS not set: in-process librdkafka mock cluster, nothing persisted)`
    : `Kafka: ${bootstrapServers}`,
);
log(`topics: ${topics.map((t) => t.name).join(", ")}${broker ? ` (${EMBEDDED_PARTITIONS} partitions each)` : ""}`);
log(
  `users (HTTP Basic): ${config.users.map((u) => u.username).join(", ")}` +
    (config.demoUser ? " (GATEWAY_USERS not set: the embedded-broker demo user)" : ""),
);
log(
  `Kafka contexts: at most ${config.maxContexts} connected at once; one idle for ${config.contextIdleTimeoutMs / 1000} s is closed` +
    " (GATEWAY_MAX_CONTEXTS, GATEWAY_CONTEXT_IDLE_TIMEOUT_MS)",
);
log(
  `per user: at most ${config.maxRequestsPerTenant} requests and ${config.maxRecordsInFlightPerTenant} records in flight, ` +
    `${config.maxRecordsPerRequest} records a request, a body within ${config.bodyTimeoutMs} ms` +
    " (GATEWAY_MAX_REQUESTS_PER_TENANT, GATEWAY_MAX_RECORDS_IN_FLIGHT_PER_TENANT, GATEWAY_MAX_RECORDS_PER_REQUEST, GATEWAY_BODY_TIMEOUT_MS)",
);
log(
  `produce: POST ${server.url}/v3/clusters/${config.clusterId}/topics/{topic}/records; ops: /healthz /readyz /metrics /openapi.json`,
);

/** Exit code of a shutdown that left records not delivered, or that did not finish by its deadline. */
const EXIT_UNDELIVERED = 3;

/** Publishes answered with a server error (5xx: not delivered, or not known to be) so far. */
function undelivered(): number {
  let n = 0;
  for (const statuses of Object.values(metrics.publishes())) {
    for (const [status, count] of Object.entries(statuses)) if (Number(status) >= 500) n += count;
  }
  return n;
}

onShutdownSignal(async (signal) => {
  // A repeated signal changes nothing: a terminal's Ctrl-C reaches both `npm start` (or `deno task`) and the
  // gateway, which then receives it twice. The shutdown is bounded by its deadline anyway.
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping; finishing ${metrics.inFlightRequests} request(s) in flight`);
  const failedBefore = undelivered();
  // One deadline for the whole shutdown: the requests in flight, the server, the producers' flush and close.
  const deadline = Date.now() + config.shutdownTimeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), config.shutdownTimeoutMs)));
  let outcome: "done" | "late";
  try {
    outcome = await Promise.race([
      (async () => {
        const drained = server.close(left());
        // Requests still waiting for Kafka near the deadline would be cut off unanswered: closing the
        // registry then fails their publishes (ClosedError), so each is answered 503 before the exit.
        let reserve: ReturnType<typeof setTimeout> | undefined;
        const drainedInTime = await Promise.race([
          drained.then(() => true),
          new Promise<false>((resolve) => (reserve = setTimeout(() => resolve(false), Math.max(0, left() - shutdownReserveMs)))),
        ]);
        clearTimeout(reserve);
        if (!drainedInTime) {
          log(`${metrics.inFlightRequests} request(s) still in flight ${shutdownReserveMs} ms before the deadline: failing their publishes`);
        }
        await registry.close();
        await drained;
        await broker?.stop();
        return "done" as const;
      })(),
      late,
    ]);
  } catch (error) {
    console.error(`kshare-gateway: shutdown failed: ${error instanceof Error ? error.message : error}`);
    exit(1);
  }
  clearTimeout(timer);
  if (outcome === "late") {
    console.error(
      `kshare-gateway: shutdown did not finish within ${config.shutdownTimeoutMs} ms (GATEWAY_SHUTDOWN_TIMEOUT_MS); ` +
        `records not yet delivered are lost; exit ${EXIT_UNDELIVERED}`,
    );
    exit(EXIT_UNDELIVERED);
  }
  const failed = undelivered() - failedBefore;
  if (failed > 0) {
    console.error(`kshare-gateway: stopped; ${failed} record(s) taken before or during shutdown were not delivered; exit ${EXIT_UNDELIVERED}`);
    exit(EXIT_UNDELIVERED);
  }
  log("stopped");
  exit(0);
});
