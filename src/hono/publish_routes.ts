/**
 * `publishRoutes()`: Confluent REST Proxy v3's produce API for a set of
 * defined topics, publishing through each request's `c.var.kafka`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { stream } from "hono/streaming";
import { vValidator } from "@hono/valibot-validator";
import * as v from "valibot";
import type { Logger } from "../_util.ts";
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  describeIssues,
  type ErrorOutcome,
  errorResponse,
  invalid,
  publishFailure,
  restProxyError,
  restProxyErrorHandler,
  UNKNOWN_TOPIC_PARTITION,
} from "./errors.ts";
import { isBlank, splitJsonObjects } from "./_json_stream.ts";
import type { BoundProducer, KafkaEnv } from "./kafka.ts";
import {
  type AnyTopic,
  BatchEntrySchema,
  type BatchResponse,
  EntryIdSchema,
  isErrorOutcome,
  prepareRecord,
  type ProduceRecord,
  type ProduceResponse,
  produceResponse,
} from "./records.ts";

/** Options of {@link publishRoutes}. */
export interface PublishRoutesOptions {
  /** The topics that can be published to; any other topic name is answered 404 / `40403`. */
  readonly topics: readonly AnyTopic[];
  /** The cluster id of the paths, as `GET /v3/clusters` reports it (default `"kshare"`); another id is answered 404. */
  readonly clusterId?: string;
  /** Largest request body in bytes (default 1 MiB); larger is answered 413 by Hono's `bodyLimit`. */
  readonly maxBodyBytes?: number;
  /** Most entries of one `records:batch` request (default 10, at most 50). */
  readonly maxBatchEntries?: number;
  /** `Retry-After` of a 503, in seconds (default 5). */
  readonly retryAfterSeconds?: number;
  /** Where unexpected errors are reported (default `console`). */
  readonly logger?: Logger;
}

/** Default of {@link PublishRoutesOptions.maxBodyBytes}. */
export const DEFAULT_MAX_BODY_BYTES: number = 1024 * 1024;
/** Default of {@link PublishRoutesOptions.maxBatchEntries}. */
export const DEFAULT_MAX_BATCH_ENTRIES: number = 10;
/** Upper bound of {@link PublishRoutesOptions.maxBatchEntries}. */
export const MAX_BATCH_ENTRIES: number = 50;

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
 * import { Hono } from "hono";
 * import { basicAuth } from "hono/basic-auth";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { kafka, publishRoutes } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * const app = new Hono();
 * app.use("/v3/*", basicAuth({ username: "alice", password: "s3cret" }));
 * app.use("/v3/*", kafka({ resolveContext: () => ({ bootstrapServers: "localhost:9092", clientId: "alice" }) }));
 * app.route("/", publishRoutes({ topics: [orders], clusterId: "local" }));
 * ```
 */
export function publishRoutes(options: PublishRoutesOptions): Hono<KafkaEnv> {
  const clusterId = options.clusterId ?? "kshare";
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBatchEntries = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new TypeError(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  if (!Number.isInteger(maxBatchEntries) || maxBatchEntries < 1 || maxBatchEntries > MAX_BATCH_ENTRIES) {
    throw new TypeError(`maxBatchEntries must be an integer from 1 to ${MAX_BATCH_ENTRIES}, got ${maxBatchEntries}`);
  }
  const topics = new Map(options.topics.map((t) => [t.name, t]));
  if (topics.size !== options.topics.length) throw new TypeError("publishRoutes: topic names must be unique");
  if (topics.size === 0) throw new TypeError("publishRoutes: needs at least one topic");

  /** Fail closed: without kafka() in front there is no context to publish with. */
  const requireContext = createMiddleware<KafkaEnv>(async function requireContext(c, next) {
    if (!c.get("kafka")) throw restProxyError(403, 40301, "No Kafka security context for this caller");
    await next();
  });

  const ClusterParams = v.object({ cluster_id: v.literal(clusterId) });
  const clusterParams = vValidator("param", ClusterParams, (result) => {
    if (!result.success) throw restProxyError(404, 404, "Cluster not found");
  });
  const TopicParams = v.object({ cluster_id: v.literal(clusterId), topic_name: v.picklist([...topics.keys()]) });
  const topicParams = vValidator("param", TopicParams, (result) => {
    if (result.success) return;
    if (result.issues.some((issue) => issue.path?.[0]?.key === "cluster_id")) throw restProxyError(404, 404, "Cluster not found");
    throw restProxyError(404, UNKNOWN_TOPIC_PARTITION, "This server does not host this topic-partition.");
  });

  const jsonContent = createMiddleware(async function jsonContent(c, next) {
    const mediaType = c.req.header("content-type")?.split(";")[0]?.trim() ?? "";
    if (!/^application\/([\w.-]+\+)?json$/i.test(mediaType)) {
      throw restProxyError(415, 415, "HTTP 415 Unsupported Media Type: send Content-Type: application/json");
    }
    await next();
  });
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw restProxyError(413, 413, `The request body is larger than ${maxBodyBytes} bytes`);
    },
  });
  const nonEmptyBody = createMiddleware(async function nonEmptyBody(c, next) {
    if (isBlank(new Uint8Array(await c.req.arrayBuffer()))) {
      throw restProxyError(422, 422, "Payload error. Request body is empty. Data is required.");
    }
    await next();
  });

  const BatchSchema = v.strictObject({
    entries: v.pipe(
      v.array(v.looseObject({ id: EntryIdSchema }, "expected an entry object with an id"), "expected an array of entries"),
      v.minLength(1, "needs at least one entry"),
      v.maxLength(maxBatchEntries, `at most ${maxBatchEntries} entries per batch`),
      v.check((entries) => new Set(entries.map((e) => e.id)).size === entries.length, "entry ids must be unique"),
    ),
  }, "expected { entries: [...] }");
  const batchBody = vValidator("json", BatchSchema, (result) => {
    if (!result.success) throw restProxyError(400, 400, `Invalid batch: ${describeIssues(result.issues)}`);
  });

  /** Publish one request record; never rejects. */
  async function produce(
    kafka: BoundProducer,
    topic: AnyTopic,
    input: unknown,
    schema?: v.GenericSchema<unknown, ProduceRecord>,
  ) {
    const prepared = prepareRecord(topic, input, schema);
    if (isErrorOutcome(prepared)) return prepared;
    try {
      const report = await kafka.publish(topic, prepared.value, prepared.options);
      return produceResponse(clusterId, topic, prepared, report);
    } catch (error) {
      const outcome = publishFailure(error, { retryAfterSeconds, valuePath: "value.data" });
      if (outcome.status === 500) logUnexpected(options.logger ?? console, kafka, topic, error);
      return outcome;
    }
  }

  const app = new Hono<KafkaEnv>();
  app.onError(restProxyErrorHandler(options.logger ? { logger: options.logger } : {}));

  app.get("/v3/clusters", requireContext, (c) =>
    c.json({
      kind: "KafkaClusterList",
      metadata: { self: new URL(c.req.url).href, next: null },
      data: [cluster(c, clusterId)],
    }));

  app.get("/v3/clusters/:cluster_id", requireContext, clusterParams, (c) => c.json(cluster(c, clusterId)));

  app.post(
    "/v3/clusters/:cluster_id/topics/:topic_name/records",
    requireContext,
    topicParams,
    jsonContent,
    limit,
    nonEmptyBody,
    async (c) => {
      const topic = topics.get(c.req.valid("param").topic_name)!;
      const kafka = c.var.kafka;
      // Publishes start in request order (the producer keeps that order per partition); answers follow in the same order.
      const results: Promise<ProduceResponse | ErrorOutcome>[] = [];
      for (const chunk of splitJsonObjects(new Uint8Array(await c.req.arrayBuffer()))) {
        if ("malformed" in chunk) {
          results.push(Promise.resolve(invalid(chunk.malformed)));
          break;
        }
        let input: unknown;
        try {
          input = JSON.parse(chunk.text);
        } catch {
          results.push(Promise.resolve(invalid("Malformed JSON in request body")));
          continue;
        }
        results.push(produce(kafka, topic, input));
      }
      if (results.length === 1) {
        const result = await results[0]!;
        return "status" in result ? errorResponse(result) : c.json(result, 200);
      }
      c.header("Content-Type", "application/json");
      return stream(c, async (out) => {
        for (const result of results) {
          const answer = await result;
          await out.write(JSON.stringify("status" in answer ? answer.body : answer) + "\n");
        }
      }, async () => {
        // The client went away: the publishes still settle; there is nobody to tell.
      });
    },
  );

  app.post(
    "/v3/clusters/:cluster_id/topics/:topic_name/:batch{records(?::|%3[Aa])batch}",
    requireContext,
    topicParams,
    jsonContent,
    limit,
    nonEmptyBody,
    batchBody,
    async (c) => {
      const topic = topics.get(c.req.valid("param").topic_name)!;
      const { entries } = c.req.valid("json");
      const kafka = c.var.kafka;
      const results = await Promise.all(entries.map((entry) => produce(kafka, topic, entry, BatchEntrySchema)));
      const successes: Array<BatchResponse["successes"][number]> = [];
      const failures: Array<BatchResponse["failures"][number]> = [];
      results.forEach((result, i) => {
        const id = entries[i]!.id;
        if ("status" in result) failures.push({ id, error_code: result.body.error_code, message: result.body.message });
        else {
          const { error_code: _, ...success } = result;
          successes.push({ id, ...success });
        }
      });
      return c.json({ successes, failures } satisfies BatchResponse, 207);
    },
  );

  return app;
}

function cluster(c: Context, clusterId: string) {
  const self = new URL(`/v3/clusters/${clusterId}`, c.req.url).href;
  return { kind: "KafkaCluster", metadata: { self, resource_name: `crn:///kafka=${clusterId}` }, cluster_id: clusterId };
}

function logUnexpected(logger: Logger, kafka: BoundProducer, topic: AnyTopic, error: unknown): void {
  logger.error("kshare/hono: publish failed", {
    context: kafka.fingerprint,
    topic: topic.name,
    error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error,
    code: (error as { code?: unknown } | null)?.code,
  });
}
