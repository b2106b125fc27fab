/**
 * The kshare gateway: Confluent REST Proxy v3's produce API over shared
 * Kafka connections, one per tenant's security context.
 *
 * Start: `deno task start` (Deno), `npm start` (Node), `bun gateway/main.ts`
 * (Bun). Without `KAFKA_BOOTSTRAP_SERVERS` it starts the embedded broker.
 * Configuration: see `gateway/config.ts`. SIGINT/SIGTERM: stop accepting,
 * finish the requests in flight, flush and close the producers, exit 0.
 *
 * @module
 */
import { createRegistry, type EmbeddedBroker, startEmbeddedBroker } from "../mod.ts";
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

const registry = createRegistry({ maxContexts: config.maxContexts, idleTimeoutMs: config.contextIdleTimeoutMs });
const metrics = createMetrics();
let stopping = false;
const app = createGatewayApp({
  registry,
  users: config.users,
  contexts,
  topics,
  clusterId: config.clusterId,
  publishTimeoutMs: config.publishTimeoutMs,
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
  `produce: POST ${server.url}/v3/clusters/${config.clusterId}/topics/{topic}/records; ops: /healthz /readyz /metrics /openapi.json`,
);

onShutdownSignal(async (signal) => {
  // A repeated signal changes nothing: a terminal's Ctrl-C reaches both `npm start` (or `deno task`) and the
  // gateway, which then receives it twice. The shutdown is bounded by its timeouts anyway.
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping; finishing ${metrics.inFlightRequests} request(s) in flight`);
  try {
    await server.close(config.shutdownTimeoutMs);
    await registry.close();
    await broker?.stop();
  } catch (error) {
    console.error(`kshare-gateway: shutdown failed: ${error instanceof Error ? error.message : error}`);
    exit(1);
  }
  log("stopped");
  exit(0);
});
