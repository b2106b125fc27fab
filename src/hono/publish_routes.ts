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
import { type Logger, MAX_TIMER_MS } from "../_util.ts";
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  describeIssues,
  type ErrorOutcome,
  errorResponse,
  invalid,
  KAFKA_AUTHORIZATION,
  publishFailure,
  restProxyError,
  restProxyErrorHandler,
  UNKNOWN_TOPIC_PARTITION,
} from "./errors.ts";
import { isBlank, type JsonChunk, splitJsonObjects } from "../_json_stream.ts";
import { type BoundProducer, inFlightUntil, type KafkaEnv } from "./kafka.ts";
import { TenantLimits } from "./_tenant_limits.ts";
import { Turns } from "./_turns.ts";
import { type AnyTopic, BatchEntrySchema, EntryIdSchema, isErrorOutcome, prepareRecord, type ProduceRecord } from "./records.ts";
import { type BatchResponse, pendingResponse, produceResponse, type RecordOutcome } from "./responses.ts";

/**
 * Options of {@link publishRoutes}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { publishRoutes, type PublishRoutesOptions } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * const options: PublishRoutesOptions = {
 *   topics: [orders],
 *   clusterId: "local", // POST /v3/clusters/local/topics/orders/records
 *   maxBodyBytes: 256 * 1024,
 *   maxBatchEntries: 25,
 *   publishTimeoutMs: 5_000, // no acknowledgement within 5 s: 503 / 50003
 *   retryAfterSeconds: 10, // of a 503, and of a 429
 *   maxRequestsPerTenant: 8, // a security context's 9th request at once: 429
 *   maxRecordsInFlightPerTenant: 5_000, // records awaiting Kafka's acknowledgement, per security context
 *   maxRecordsPerRequest: 1_000, // a streaming request's 1001st record: an error answer, and nothing after it
 *   bodyTimeoutMs: 10_000, // a body not received within 10 s: 408
 *   logger: console,
 * };
 * const routes = publishRoutes(options);
 * ```
 */
export interface PublishRoutesOptions {
  /** The topics that can be published to; any other topic name is answered 404 / `40403`. */
  readonly topics: readonly AnyTopic[];
  /** The cluster id of the paths, as `GET /v3/clusters` reports it (default `"kshare"`); another id is answered 404. */
  readonly clusterId?: string;
  /** Largest request body in bytes (default 1 MiB); larger is answered 413 by Hono's `bodyLimit`. */
  readonly maxBodyBytes?: number;
  /** Most entries of one `records:batch` request (default 10, at most 50). */
  readonly maxBatchEntries?: number;
  /**
   * Delivery deadline of every publish, in ms (default
   * {@link DEFAULT_PUBLISH_TIMEOUT_MS}, 10 000; at most 2 147 483 647): a
   * record not acknowledged within it is answered 503 / `50003` with
   * `Retry-After`, never a late 200. It counts from the publish, a first
   * connect of the caller's producer included. What a record not yet sent
   * then becomes: see `PublishOptions.timeoutMs`.
   */
  readonly publishTimeoutMs?: number;
  /** `Retry-After` of a 503 and of a 429, in seconds (default 5). */
  readonly retryAfterSeconds?: number;
  /**
   * Most produce requests of one tenant at once (default 256); one more is answered 429
   * with `Retry-After` before its body is read. A tenant is a security
   * context (`c.var.kafka.fingerprint`): its requests share one producer.
   */
  readonly maxRequestsPerTenant?: number;
  /**
   * Most records of one tenant awaiting Kafka's acknowledgement at once
   * (default 20 000). A
   * request arriving at the bound is answered 429 with `Retry-After`; a
   * record reaching it inside a streaming request or a batch is answered
   * `error_code` 429 and not published (a stream ends there: its last answer
   * says how many records were refused).
   */
  readonly maxRecordsInFlightPerTenant?: number;
  /**
   * Most records of one streaming request (default 10 000): the record past it is
   * answered `error_code` 413, the last answer, saying how many records were
   * refused; it and the records after it are not published.
   */
  readonly maxRecordsPerRequest?: number;
  /**
   * Time to receive a request's body, from the start of reading it (default
   * 30 000 ms; at most 2 147 483 647): a body
   * not complete by then is answered 408 and nothing of it is published.
   */
  readonly bodyTimeoutMs?: number;
  /** Where unexpected errors are reported (default `console`). */
  readonly logger?: Logger;
}

/**
 * Default of {@link PublishRoutesOptions.maxBodyBytes}.
 *
 * @example Accepting bodies four times the default size
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { DEFAULT_MAX_BODY_BYTES, publishRoutes } from "@kshare/kshare/hono";
 *
 * const events = defineTopic({ name: "events", schema: v.object({ kind: v.string(), data: v.unknown() }) });
 * const routes = publishRoutes({ topics: [events], maxBodyBytes: 4 * DEFAULT_MAX_BODY_BYTES }); // 4 MiB
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES: number = 1024 * 1024;
/**
 * Default of {@link PublishRoutesOptions.maxBatchEntries}.
 *
 * @example A client sending many records in batches a default server accepts
 * ```ts
 * import process from "node:process";
 * import { DEFAULT_MAX_BATCH_ENTRIES } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const orders = Array.from({ length: 42 }, (_, i) => ({ id: `o-${i}`, customer: "c-7", total: 9.5 }));
 * const entries = orders.map((order) => ({ id: order.id, value: { data: order } }));
 * for (let i = 0; i < entries.length; i += DEFAULT_MAX_BATCH_ENTRIES) {
 *   await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records:batch", {
 *     method: "POST",
 *     headers: { "Content-Type": "application/json", Authorization: auth },
 *     body: JSON.stringify({ entries: entries.slice(i, i + DEFAULT_MAX_BATCH_ENTRIES) }),
 *   });
 * }
 * ```
 */
export const DEFAULT_MAX_BATCH_ENTRIES: number = 10;
/**
 * Upper bound of {@link PublishRoutesOptions.maxBatchEntries}.
 *
 * @example Clamping a configured batch size (`publishRoutes` throws a `TypeError` above the bound)
 * ```ts
 * import process from "node:process";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { DEFAULT_MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, publishRoutes } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const requested = Number(process.env.MAX_BATCH_ENTRIES ?? DEFAULT_MAX_BATCH_ENTRIES);
 * const routes = publishRoutes({ topics: [orders], maxBatchEntries: Math.min(requested, MAX_BATCH_ENTRIES) });
 * ```
 */
export const MAX_BATCH_ENTRIES: number = 50;
// Defaults of the per-tenant bounds; the numbers are written in PublishRoutesOptions' docs and the README.
const DEFAULT_MAX_REQUESTS_PER_TENANT = 256;
const DEFAULT_MAX_RECORDS_IN_FLIGHT_PER_TENANT = 20_000;
const DEFAULT_MAX_RECORDS_PER_REQUEST = 10_000;
const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/**
 * Default of {@link PublishRoutesOptions.publishTimeoutMs}: 10 s.
 *
 * @example A client that waits a little longer than the gateway's deadline
 * ```ts
 * import process from "node:process";
 * import { DEFAULT_PUBLISH_TIMEOUT_MS } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ value: { data: { id: "o-1", customer: "c-7", total: 42 } } }),
 *   // The gateway answers by its deadline (503 when Kafka did not acknowledge): a bound above it never cuts an answer off.
 *   signal: AbortSignal.timeout(DEFAULT_PUBLISH_TIMEOUT_MS + 5_000),
 * });
 * ```
 */
export const DEFAULT_PUBLISH_TIMEOUT_MS: number = 10_000;

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
  const clusterId = options.clusterId ?? "kshare";
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBatchEntries = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
  const retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  const publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const maxRequestsPerTenant = options.maxRequestsPerTenant ?? DEFAULT_MAX_REQUESTS_PER_TENANT;
  const maxRecordsInFlight = options.maxRecordsInFlightPerTenant ?? DEFAULT_MAX_RECORDS_IN_FLIGHT_PER_TENANT;
  const maxRecordsPerRequest = options.maxRecordsPerRequest ?? DEFAULT_MAX_RECORDS_PER_REQUEST;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  for (
    const [name, value] of [
      ["maxRequestsPerTenant", maxRequestsPerTenant],
      ["maxRecordsInFlightPerTenant", maxRecordsInFlight],
      ["maxRecordsPerRequest", maxRecordsPerRequest],
    ] as const
  ) {
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(bodyTimeoutMs) || bodyTimeoutMs < 1 || bodyTimeoutMs > MAX_TIMER_MS) {
    throw new TypeError(`bodyTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${bodyTimeoutMs}`);
  }
  const limits = new TenantLimits(maxRequestsPerTenant, maxRecordsInFlight);
  const turns = new Turns(TURN_MS);
  if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 1 || publishTimeoutMs > MAX_TIMER_MS) {
    throw new TypeError(`publishTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${publishTimeoutMs}`);
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new TypeError(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  if (!Number.isInteger(maxBatchEntries) || maxBatchEntries < 1 || maxBatchEntries > MAX_BATCH_ENTRIES) {
    throw new TypeError(`maxBatchEntries must be an integer from 1 to ${MAX_BATCH_ENTRIES}, got ${maxBatchEntries}`);
  }
  const topics = new Map(options.topics.map((t) => [t.name, t]));
  if (topics.size !== options.topics.length) throw new TypeError("publishRoutes: topic names must be unique");
  if (topics.size === 0) throw new TypeError("publishRoutes: needs at least one topic");

  /** 404 for a path whose cluster id is not this cluster's. */
  function checkCluster(c: Context<KafkaEnv>): void {
    if (c.req.param("cluster_id") !== clusterId) throw restProxyError(404, 404, "Cluster not found");
  }

  /** The topic of a produce path: 404 for another cluster id (first), 404 / `40403` for a topic not in `options.topics`. */
  function topicOf(c: Context<KafkaEnv>): AnyTopic {
    checkCluster(c);
    const topic = topics.get(c.req.param("topic_name")!);
    if (!topic) throw restProxyError(404, UNKNOWN_TOPIC_PARTITION, "This server does not host this topic-partition.");
    return topic;
  }

  /**
   * What a produce request must be before its body is read, checked in this
   * order: a context (fail closed: without kafka() in front there is none),
   * this cluster and a defined topic, a JSON content type. Answers its topic.
   */
  function checkProduceRequest(c: Context<KafkaEnv>): AnyTopic {
    requireContext(c);
    const topic = topicOf(c);
    const contentType = c.req.header("content-type") ?? "";
    const semicolon = contentType.indexOf(";");
    if (!JSON_MEDIA_TYPE.test((semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim())) {
      throw restProxyError(415, 415, "HTTP 415 Unsupported Media Type: send Content-Type: application/json");
    }
    return topic;
  }
  const tooLarge = () => {
    throw restProxyError(413, 413, `The request body is larger than ${maxBodyBytes} bytes`);
  };
  /** Hono's `bodyLimit`: counts a body without a stated length (chunked) as it is read. */
  const streamLimit = bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge });
  /**
   * Whether the headers state the body's length, which is then judged here
   * (413 when over the limit) the way `bodyLimit` would judge it, but without
   * touching `c.req.raw.body`: on Deno that turns the body into a stream,
   * several µs slower to read. False for a body `streamLimit` must count.
   */
  function lengthStated(c: Context): boolean {
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) return false;
    if (parseInt(length, 10) > maxBodyBytes) tooLarge();
    return true;
  }
  /**
   * `streamLimit` with the body timeout over its read: Hono's `bodyLimit`
   * reads a body of unstated length whole before `next` runs, which stops the timer.
   */
  function limitedStream(c: Context, next: () => Promise<void>): Promise<void> {
    let received!: () => void;
    const inside = new Promise<void>((resolve) => (received = resolve));
    const read = streamLimit(c, () => {
      received();
      return next();
    });
    return within(read as Promise<void>, bodyTimeoutMs, bodyTimedOut, inside);
  }
  const bodyTimedOut = () => restProxyError(408, 408, `The request body was not received within ${bodyTimeoutMs} ms`, { Connection: "close" });
  const limit = createMiddleware(async function limit(c, next) {
    if (lengthStated(c)) await next();
    else await limitedStream(c, next);
  });
  /**
   * The request body, at most `maxBodyBytes` (behind `limit`), received
   * within `bodyTimeoutMs` (408 otherwise: a slow body holds its tenant's
   * request slot no longer); 422 when it holds nothing but whitespace.
   */
  async function nonEmptyBody(c: Context): Promise<Uint8Array> {
    const body = new Uint8Array(await within(c.req.arrayBuffer(), bodyTimeoutMs, bodyTimedOut));
    if (isBlank(body)) throw restProxyError(422, 422, "Payload error. Request body is empty. Data is required.");
    return body;
  }

  /**
   * Count a produce request against its tenant's bounds (429 with
   * `Retry-After` when at one); answers the release, safe to call more than once.
   */
  function admit(c: Context<KafkaEnv>): () => void {
    const tenant = c.var.kafka.fingerprint;
    const refused = limits.admit(tenant);
    if (refused !== undefined) {
      throw restProxyError(429, 429, `Too many requests: ${refused}`, { "Retry-After": String(retryAfterSeconds) });
    }
    let released = false;
    return () => {
      if (!released) limits.release(tenant);
      released = true;
    };
  }

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

  /**
   * Publish one request record, counted in its tenant's records in flight
   * until it settles (a 429 outcome, nothing published, when they are at
   * their bound); never rejects. Its answer is built before the publish (see
   * `pendingResponse`): a record in flight holds that, not its value, and the
   * burst of delivery reports that settles thousands of records at once only
   * adds where each went. (Promise callbacks, not an async function: see
   * `kafka()`'s publish.)
   */
  function produce(
    kafka: BoundProducer,
    topic: AnyTopic,
    input: unknown,
    schema?: v.GenericSchema<unknown, ProduceRecord>,
  ): Promise<Outcome> {
    const tenant = kafka.fingerprint;
    let taken = false;
    // A throw before the publish is under way (a key nested too deeply to serialize: RangeError; a key function
    // that throws) is this record's outcome, not the request's: the records before it in a stream or batch are
    // already published.
    try {
      const prepared = prepareRecord(topic, input, schema, publishTimeoutMs);
      if (isErrorOutcome(prepared)) return Promise.resolve(prepared);
      const pending = pendingResponse(clusterId, topic, prepared);
      if (!limits.takeRecord(tenant)) return refusedRecord;
      taken = true;
      return kafka.publish(topic, prepared.value, prepared.options).then((report): Outcome => {
        limits.settled(tenant);
        // A value the topic's schema refuses (no pending answer) is refused by the producer too: not delivered.
        return pending === undefined ? failure(kafka, topic, new TypeError("no answer for a delivered record")) : produceResponse(pending, report);
      }, (error: unknown) => {
        limits.settled(tenant);
        return failure(kafka, topic, error);
      });
    } catch (error) {
      // A synchronous throw from publish itself: the record taken above never reaches Kafka.
      if (taken) limits.settled(tenant);
      return Promise.resolve(failure(kafka, topic, error));
    }
  }
  /** What `error` answers; an unexpected one is logged. */
  function failure(kafka: BoundProducer, topic: AnyTopic, error: unknown): ErrorOutcome {
    const outcome = publishFailure(error, { retryAfterSeconds, valuePath: "value.data" });
    if (outcome.status === 500) logUnexpected(options.logger ?? console, kafka, topic, error);
    return outcome;
  }
  /** The answer of a record refused at its tenant's bound on records in flight (one promise: a stream ends at it). */
  const refusedRecord: Promise<Outcome> = Promise.resolve({
    status: 429,
    body: { error_code: 429, message: `Too many records: at most ${maxRecordsInFlight} of one tenant awaiting Kafka at once` },
    retryAfterSeconds,
  });

  const app = new Hono<KafkaEnv>();
  app.onError(restProxyErrorHandler(options.logger ? { logger: options.logger } : {}));

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
    checkCluster(c);
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
      const topic = checkProduceRequest(c);
      const release = admit(c);
      const failed = (error: unknown) => {
        release();
        throw error;
      };
      if (c.req.param("records") !== "records") return next().then(release, failed);
      // Returned, not awaited: no frame of this handler is held while the publish is under way.
      if (lengthStated(c)) return nonEmptyBody(c).then((body) => answerRecords(c, topic, body, release)).catch(failed);
      let response: Response | undefined;
      await limitedStream(c, async () => {
        response = await answerRecords(c, topic, await nonEmptyBody(c), release);
      }).catch(failed);
      return response!;
    },
    limit,
    createMiddleware(async function nonEmptyBatch(c, next) {
      await nonEmptyBody(c);
      await next();
    }),
    batchBody,
    async function produceBatch(c) {
      const topic = topicOf(c);
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

  /**
   * What one framed record of a request becomes: its answer, and whether it
   * ends the request (nothing after it can be framed, or a bound was reached).
   * At a bound, the records after it (`rest`, framed only to be counted) are
   * neither published nor answered: its answer says how many were refused.
   */
  function produceChunk(
    kafka: BoundProducer,
    topic: AnyTopic,
    chunk: JsonChunk,
    index: number,
    rest: Iterator<JsonChunk>,
  ): RecordAnswer {
    if ("malformed" in chunk) return { answer: Promise.resolve(invalid(chunk.malformed)), last: true };
    if (index >= maxRecordsPerRequest) {
      const answer = refusedFrom(rest, turns).then((refused): Outcome => {
        const message = `At most ${maxRecordsPerRequest} records per request: ${refused}`;
        return { status: 413, body: { error_code: 413, message } };
      });
      return { answer, last: true };
    }
    let input: unknown;
    try {
      input = JSON.parse(chunk.text);
    } catch {
      return { answer: Promise.resolve(invalid("Malformed JSON in request body")), last: false };
    }
    const answer = produce(kafka, topic, input);
    // At the tenant's bound on records in flight the stream ends: later records would only be refused too, or,
    // published after it, out of the order the client sent them in.
    if (answer !== refusedRecord) return { answer, last: false };
    const refused = refusedFrom(rest, turns).then((refused): Outcome => {
      const message = `Too many records: at most ${maxRecordsInFlight} of one tenant awaiting Kafka at once; ${refused}`;
      return { status: 429, body: { error_code: 429, message }, retryAfterSeconds };
    });
    return { answer: refused, last: true };
  }

  /**
   * Publish the record, or each of the concatenated records (streaming mode),
   * of a produce request; `release` (the request's tenant slot) once its last
   * answer is written.
   */
  function answerRecords(c: Context<KafkaEnv>, topic: AnyTopic, body: Uint8Array, release: () => void): Promise<Response> {
    const kafka = c.var.kafka;
    const chunks = splitJsonObjects(body);
    // nonEmptyBody: there is a first chunk. A second one decides between one answer and a stream of them.
    const first = produceChunk(kafka, topic, chunks.next().value!, 0, chunks);
    const second = first.last ? undefined : chunks.next();
    if (second === undefined || second.done) {
      return first.answer.then((result) => {
        release();
        return "status" in result ? errorResponse(result) : c.json(result, 200);
      });
    }
    c.header("Content-Type", "application/json");
    // The response is returned before its results are written: the request is in flight until the last one is.
    let written!: () => void;
    inFlightUntil(kafka, new Promise<void>((resolve) => (written = resolve)));
    // Answers are written in request order, as they settle, while later records are still being published.
    const answers = new AnswerQueue();
    answers.push(first.answer);
    void publishRest(kafka, topic, chunks, second.value, answers);
    return Promise.resolve(stream(c, async (out) => {
      try {
        // Each turn writes the answers settled by then, in order, as one chunk.
        while (await answers.settled()) {
          if (turns.over()) await turns.take();
          let text = "";
          for (let result = answers.shift(); result !== undefined; result = turns.over() ? undefined : answers.shift()) {
            text += JSON.stringify("status" in result ? result.body : result) + "\n";
          }
          await out.write(text);
        }
      } finally {
        release();
        written();
      }
    }, async () => {
      // The client went away: the publishes still settle; there is nobody to tell.
    }));
  }

  /**
   * Publish the records of a streaming request from its second on, in order
   * (the producer keeps that order per partition), in {@link turns}: framing,
   * parsing and validating a 1 MiB body is tens of ms of work, which then
   * holds back other requests, /healthz or delivery reports for one turn at most.
   */
  async function publishRest(
    kafka: BoundProducer,
    topic: AnyTopic,
    chunks: Generator<JsonChunk>,
    second: JsonChunk,
    answers: AnswerQueue,
  ): Promise<void> {
    try {
      let index = 1;
      for (let chunk: JsonChunk | undefined = second; chunk !== undefined; index++) {
        if (turns.over()) await turns.take();
        const { answer, last } = produceChunk(kafka, topic, chunk, index, chunks);
        answers.push(answer);
        if (last) break;
        const next = chunks.next();
        chunk = next.done ? undefined : next.value;
      }
    } finally {
      answers.end();
    }
  }
  return app;
}

/** One framed record's answer; `last`: the request ends with it. */
interface RecordAnswer {
  readonly answer: Promise<Outcome>;
  readonly last: boolean;
}

/** What became of one record. */
type Outcome = RecordOutcome;

/**
 * What a bound refused: the record at it and every one `rest` still frames
 * (a part that cannot be framed counts as one, as it would have been
 * answered). Framing the rest of a 1 MiB body takes ms: it takes turns too.
 */
async function refusedFrom(rest: Iterator<JsonChunk>, turns: Turns): Promise<string> {
  let after = 0;
  for (;;) {
    if (turns.over()) await turns.take();
    if (rest.next().done) break;
    after++;
  }
  return `${after + 1} ${after === 0 ? "record was" : "records were"} refused (this one and the ${after} after it), none of them published`;
}

/**
 * Length of a turn of streaming work, in ms. Short, so that one turn per
 * stream under way, between two polls of I/O, is still a short wait for
 * another tenant's request.
 */
const TURN_MS = 1;

/**
 * `promise`, or the error `onTimeout` makes once `ms` passed first, unless
 * `stop` resolved before (the timed part is over; `promise` goes on). A late
 * rejection of `promise` (the client gone after the timeout) is ignored.
 */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error, stop?: Promise<void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    stop?.then(() => clearTimeout(timer));
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The outcome of a record whose publish rejected, which `produce` never lets happen. */
const UNANSWERED: ErrorOutcome = { status: 500, body: { error_code: 500, message: "Internal Server Error" } };

/**
 * The outcomes of one streaming request, in order: filled by its publishing
 * loop, drained by its writer. An outcome is dropped once handed out, so a
 * written answer is not held until the request ends.
 */
class AnswerQueue {
  /** Each pushed record's slot, filled when its outcome settles. */
  #slots: Array<{ outcome: Outcome | undefined }> = [];
  #head = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  push(answer: Promise<Outcome>): void {
    const slot: { outcome: Outcome | undefined } = { outcome: undefined };
    this.#slots.push(slot);
    const fill = (outcome: Outcome) => {
      slot.outcome = outcome;
      this.#notify();
    };
    // `produce` never rejects; if it did, this record would still get a line rather than end the stream.
    answer.then(fill, () => fill(UNANSWERED));
  }

  /** No outcome follows. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Resolves true once the next outcome has settled; false once every outcome was handed out and the queue ended. */
  async settled(): Promise<boolean> {
    while (this.#slots[this.#head]?.outcome === undefined) {
      if (this.#ended && this.#head >= this.#slots.length) return false;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return true;
  }

  /** The next outcome if it has settled (handed out once), else undefined. */
  shift(): Outcome | undefined {
    const outcome = this.#slots[this.#head]?.outcome;
    if (outcome === undefined) return undefined;
    this.#slots[this.#head++] = undefined!;
    if (this.#head > 1024 && this.#head * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
    return outcome;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** A media type of JSON: `application/json` or `application/<anything>+json`. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Fail closed: without kafka() in front there is no context to publish with. */
function requireContext(c: Context<KafkaEnv>): void {
  if (!c.get("kafka")) throw restProxyError(403, KAFKA_AUTHORIZATION, "No Kafka security context for this caller");
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
