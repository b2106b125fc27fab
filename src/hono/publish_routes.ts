/**
 * `publishRoutes()`: Confluent REST Proxy v3's produce API for a set of
 * defined topics, publishing through each request's `c.var.kafka`. This file
 * is its route table and what each route checks before a body is read; the
 * options are in `publish_routes_options.ts`, the publishing in `_produce.ts` and
 * `_streaming.ts`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { KAFKA_AUTHORIZATION, UNKNOWN_TOPIC_PARTITION } from "./error_codes.ts";
import { restProxyError, restProxyErrorHandler } from "./errors.ts";
import type { KafkaEnv } from "./kafka.ts";
import type { PublishRoutesOptions } from "./publish_routes_options.ts";
import type { AnyTopic } from "./records.ts";
import { answerBatch, batchBody } from "./_produce.ts";
import { type PublishConfig, publishConfig } from "./_publish_config.ts";
import { lengthStated, limitBody, limitedStream, nonEmptyBody } from "./_request_body.ts";
import { answerRecords } from "./_streaming.ts";

/**
 * The REST Proxy v3 produce API for `options.topics`, to mount behind an auth
 * middleware and {@link kafka}:
 *
 * - `GET /v3/clusters`, `GET /v3/clusters/:cluster_id`
 * - `POST /v3/clusters/:cluster_id/topics/:topic_name/records`: one record
 *   (status = its outcome), or several concatenated records (streaming mode:
 *   200, one result object per record, in order, each with its `error_code`)
 * - `POST /v3/clusters/:cluster_id/topics/:topic_name/records:batch`:
 *   `{ entries: [{ id, ... }] }` → 207 `{ successes, failures }`
 *
 * A route reached without `c.var.kafka` (no `kafka()` in front) answers 403:
 * there is no default context.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { Hono } from "hono";
 * import { basicAuth } from "hono/basic-auth";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { kafka, publishRoutes, verifyUsers } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * const app = new Hono();
 * app.use("/v3/*", basicAuth({ verifyUser: verifyUsers([{ username: "alice", password: process.env.ALICE_PASSWORD! }]) }));
 * app.use("/v3/*", kafka({ resolveContext: () => ({ bootstrapServers: "localhost:9092", clientId: "alice" }) }));
 * app.route("/", publishRoutes({ topics: [orders], clusterId: "local" }));
 * ```
 */
export function publishRoutes(options: PublishRoutesOptions): Hono<KafkaEnv> {
  const config = publishConfig(options);
  const { clusterId } = config;
  const limit = limitBody(config.body);
  const batch = batchBody(config.maxBatchEntries);

  const app = new Hono<KafkaEnv>();
  app.onError(restProxyErrorHandler({ logger: config.logger }));

  app.get("/v3/clusters", (c) => {
    requireContext(c);
    return c.json({
      kind: "KafkaClusterList",
      metadata: { self: new URL(c.req.url).href, next: null },
      data: [cluster(c, clusterId)],
    });
  });

  app.get("/v3/clusters/:cluster_id", (c) => {
    requireContext(c);
    checkCluster(c, clusterId);
    return c.json(cluster(c, clusterId));
  });

  // `records` and `records:batch` (its colon also percent-encoded) are one route: Hono's RegExpRouter
  // cannot have a static segment and a pattern at the same position, and an app with a route it cannot
  // take is routed by the slower TrieRouter, for every request. The first handler answers `records`
  // itself, with the body limit inside it rather than chained before it (a mounted app wraps every
  // handler of a route in its error handler, and each wrapper costs per request); a batch goes on down.
  app.post(
    "/v3/clusters/:cluster_id/topics/:topic_name/:records{records(?:(?::|%3[Aa])batch)?}",
    async function produceRecords(c, next) {
      const topic = checkProduceRequest(c, config);
      const admitted = admit(c, config);
      const calm = config.turns.urgent();
      const release = () => {
        calm(false);
        admitted();
      };
      const failed = (error: unknown) => {
        release();
        throw error;
      };
      if (c.req.param("records") !== "records") return next().then(release, failed);
      // Returned, not awaited: no frame of this handler is held while the publish is under way.
      if (lengthStated(c, config.body)) {
        return nonEmptyBody(c, config.body).then((body) => answerRecords(c, config, topic, body, release, () => calm(true))).catch(failed);
      }
      let response: Response | undefined;
      await limitedStream(c, config.body, async () => {
        response = await answerRecords(c, config, topic, await nonEmptyBody(c, config.body), release, () => calm(true));
      }).catch(failed);
      return response!;
    },
    limit,
    createMiddleware(async function nonEmptyBatch(c, next) {
      await nonEmptyBody(c, config.body);
      await next();
    }),
    batch,
    async function produceBatch(c) {
      return await answerBatch(c, config, topicOf(c, config), c.req.valid("json").entries);
    },
  );
  return app;
}

/** Fail closed: without kafka() in front there is no context to publish with. */
function requireContext(c: Context<KafkaEnv>): void {
  if (!c.get("kafka")) throw restProxyError(403, KAFKA_AUTHORIZATION, "No Kafka security context for this caller");
}

/** 404 for a path whose cluster id is not this cluster's. */
function checkCluster(c: Context<KafkaEnv>, clusterId: string): void {
  if (c.req.param("cluster_id") !== clusterId) throw restProxyError(404, 404, "Cluster not found");
}

/** The topic of a produce path: 404 for another cluster id (first), 404 / `40403` for a topic not in `options.topics`. */
function topicOf(c: Context<KafkaEnv>, config: PublishConfig): AnyTopic {
  checkCluster(c, config.clusterId);
  const topic = config.topics.get(c.req.param("topic_name")!);
  if (!topic) throw restProxyError(404, UNKNOWN_TOPIC_PARTITION, "This server does not host this topic-partition.");
  return topic;
}

/** A media type of JSON: `application/json` or `application/<anything>+json`. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * What a produce request must be before its body is read, checked in this
 * order: a context (fail closed: without kafka() in front there is none),
 * this cluster and a defined topic, a JSON content type. Answers its topic.
 */
function checkProduceRequest(c: Context<KafkaEnv>, config: PublishConfig): AnyTopic {
  requireContext(c);
  const topic = topicOf(c, config);
  const contentType = c.req.header("content-type") ?? "";
  const semicolon = contentType.indexOf(";");
  if (!JSON_MEDIA_TYPE.test((semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim())) {
    throw restProxyError(415, 415, "HTTP 415 Unsupported Media Type: send Content-Type: application/json");
  }
  return topic;
}

/**
 * Count a produce request against its tenant's bounds (429 with
 * `Retry-After` when at one); answers the release, safe to call more than once.
 */
function admit(c: Context<KafkaEnv>, config: PublishConfig): () => void {
  const tenant = c.var.kafka.fingerprint;
  const refused = config.limits.admit(tenant);
  if (refused !== undefined) {
    throw restProxyError(429, 429, `Too many requests: ${refused}`, { "Retry-After": String(config.retryAfterSeconds) });
  }
  let released = false;
  return () => {
    if (!released) config.limits.release(tenant);
    released = true;
  };
}

function cluster(c: Context, clusterId: string) {
  const self = new URL(`/v3/clusters/${clusterId}`, c.req.url).href;
  return { kind: "KafkaCluster", metadata: { self, resource_name: `crn:///kafka=${clusterId}` }, cluster_id: clusterId };
}
