/**
 * The HTTP scenario's server side: one of five Hono apps answering the same
 * REST Proxy v3 produce request (`POST /v3/clusters/kshare/topics/orders/records`
 * with one JSON record, HTTP Basic credentials), served on loopback by the
 * runtime's own server:
 *
 * - `gateway`: kshare's gateway app (`gateway/app.ts`): Basic auth, the
 *   `kafka()` middleware and `publishRoutes`, every request publishing
 *   through the shared producer of its user's context;
 * - `naive`: a Hono handler that creates a registry, connects a producer,
 *   publishes the record and closes it, per request;
 * - `publish`: a Hono handler that parses the body and awaits the publish
 *   of its record through one shared producer, then answers with the
 *   delivery report; no authentication, no envelope checks: the floor of
 *   what any gateway that publishes and awaits the broker's acknowledgement
 *   costs, which the `gateway` app can approach but not pass;
 * - `bare`: a Hono handler that reads the body and answers 202, no Kafka:
 *   the ceiling of the HTTP stack alone;
 * - `bare-auth`: the same behind the gateway's authentication (Hono's
 *   `basicAuth` with kshare/hono's `verifyUsers`) and the gateway's user:
 *   the ceiling of an authenticated endpoint, which shows what the gateway's
 *   authentication costs apart from Kafka.
 *
 * The load comes from outside (the runner drives `wrk` between the `warm`
 * and `done` marks); the `warm` mark's label carries the server's URL.
 *
 * @module
 */
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { createRegistry, type SecurityContext } from "../../mod.ts";
import { verifyUsers } from "../../hono.ts";
import { createGatewayApp } from "../../gateway/app.ts";
import { serve } from "../../gateway/serve.ts";
import { orders, topics } from "../../gateway/topics.ts";
import { benchDriver, countingLogger } from "./_driver.ts";
import type { Probe } from "./_probe.ts";
import { type ProcessSample, sampleProcess } from "./_stats.ts";

/** The Basic user every request authenticates as. */
export const HTTP_USER = { username: "bench", password: "bench-secret" } as const;
/** The produce endpoint every app serves. */
export const HTTP_PATH = "/v3/clusters/kshare/topics/orders/records";
/** The topic it publishes to (must exist on the broker). */
export const HTTP_TOPIC = orders.name;
/** One record, as REST Proxy v3 takes it. */
export const HTTP_BODY: string = JSON.stringify({ value: { type: "JSON", data: { id: "o-1", customer: "c-1", total: 42 } } });
/** The body as the `publish` and `naive` apps read it (they check nothing of it). */
type HttpRecord = { value: { data: { id: string; customer: string; total: number } } };
/** The request headers every app receives. */
export const HTTP_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "application/json",
  "Authorization": `Basic ${btoa(`${HTTP_USER.username}:${HTTP_USER.password}`)}`,
};

/** The apps of the HTTP scenario; see the module doc. */
export type HttpApp = "gateway" | "naive" | "publish" | "bare" | "bare-auth";

/** Options of {@link serveHttp}. */
export interface HttpScenario {
  readonly bootstrapServers: string;
  readonly app: HttpApp;
  /** Warm-up requests the server sends itself before the `warm` mark. */
  readonly warmupRequests: number;
}

/** What the server side saw (the load generator reports rates and latencies). */
export interface HttpServerResult extends ProcessSample {
  readonly scenario: "http";
  readonly driver: string;
  readonly librdkafkaVersion: string;
  /** Responses between the marks, by status. */
  readonly statuses: Readonly<Record<number, number>>;
  /** Producer clients created between the marks. */
  readonly clientsCreated: number;
  readonly warnings: number;
}

/** Serve one app until the runner's load is done; see the module doc. */
export async function serveHttp(options: HttpScenario, probe: Probe): Promise<HttpServerResult> {
  const driver = await benchDriver();
  const logger = countingLogger();
  const ctx: SecurityContext = { bootstrapServers: options.bootstrapServers, clientId: "kshare-bench-http" };
  const registry = createRegistry({ driver, logger });
  let naiveClients = 0;
  /** Per-request producers still open: waited for before the result, so none outlives the scenario. */
  const naiveOpen = new Set<Promise<void>>();

  let app: { fetch: (request: Request) => Response | Promise<Response> };
  if (options.app === "gateway") {
    app = createGatewayApp({
      registry,
      users: [HTTP_USER],
      contexts: new Map([[HTTP_USER.username, ctx]]),
      topics,
      clusterId: "kshare",
      logger,
    });
  } else if (options.app === "publish") {
    app = new Hono().post(HTTP_PATH, async (c) => {
      const record = await c.req.json<HttpRecord>();
      const report = await (await registry.producer(ctx)).publish(orders, record.value.data);
      return c.json({ topic_name: report.topic, partition_id: report.partition, offset: report.offset }, 200);
    });
  } else if (options.app === "naive") {
    app = new Hono().post(HTTP_PATH, async (c) => {
      const record = await c.req.json<HttpRecord>();
      const perRequest = createRegistry({ driver, logger });
      let closed!: () => void;
      const open = new Promise<void>((resolve) => (closed = resolve));
      naiveOpen.add(open);
      try {
        const producer = await perRequest.producer(ctx);
        const report = await producer.publish(orders, record.value.data);
        return c.json({ topic_name: report.topic, partition_id: report.partition, offset: report.offset }, 200);
      } finally {
        await perRequest.close();
        naiveClients++;
        naiveOpen.delete(open);
        closed();
      }
    });
  } else {
    const bare = new Hono();
    if (options.app === "bare-auth") bare.use(HTTP_PATH, basicAuth({ verifyUser: verifyUsers([HTTP_USER]) }));
    app = bare.post(HTTP_PATH, async (c) => {
      await c.req.arrayBuffer();
      return c.body(null, 202);
    });
  }

  let statuses: Record<number, number> = {};
  const counted = async (request: Request): Promise<Response> => {
    const response = await app.fetch(request);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    return response;
  };
  const server = await serve(counted, { hostname: "127.0.0.1", port: 0 });
  try {
    for (let i = 0; i < options.warmupRequests; i++) {
      const response = await fetch(server.url + HTTP_PATH, { method: "POST", headers: HTTP_HEADERS, body: HTTP_BODY });
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`${options.app}: warm-up request answered ${response.status}`);
    }
    const created = () => Object.values(registry.stats().contexts).reduce((sum, c) => sum + c.clientsCreated, 0) + naiveClients;
    const createdBefore = created();
    statuses = {};
    // The load runs while this mark waits for the runner's answer: sample across it.
    const sampler = sampleProcess();
    await probe.mark(`warm ${server.url}`);
    await probe.mark("done");
    return {
      scenario: "http",
      driver: driver.name,
      librdkafkaVersion: driver.librdkafkaVersion,
      // A copy: requests still in flight when the load stopped are answered while the server and registry close.
      statuses: { ...statuses },
      clientsCreated: created() - createdBefore,
      warnings: logger.warnings + logger.errors,
      ...sampler.stop(),
    };
  } finally {
    await server.close(5_000);
    await Promise.all(naiveOpen);
    await registry.close();
  }
}
