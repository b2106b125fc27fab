/**
 * Publishing one record of a produce request and answering it, and the
 * `records:batch` answer made of such records.
 *
 * @module
 */
import type { Context } from "hono";
import { vValidator } from "@hono/valibot-validator";
import * as v from "valibot";
import type { Logger } from "../_util.ts";
import { describeIssues, type ErrorOutcome, publishFailure, restProxyError } from "./errors.ts";
import type { BoundProducer, KafkaEnv } from "./kafka.ts";
import { type AnyTopic, BatchEntrySchema, EntryIdSchema, isErrorOutcome, prepareRecord, type ProduceRecord } from "./records.ts";
import { type BatchResponse, pendingResponse, produceResponse, type RecordOutcome } from "./responses.ts";
import type { PublishConfig } from "./_publish_config.ts";
import { isKafkaError } from "../kafka_error.ts";

/**
 * Publish one request record, counted in its tenant's records in flight
 * until it settles (`config.refusedRecord`, nothing published, when they are
 * at their bound); never rejects. Its answer is built before the publish (see
 * `pendingResponse`): a record in flight holds that, not its value, and the
 * burst of delivery reports that settles thousands of records at once only
 * adds where each went. (Promise callbacks, not an async function: see
 * `kafka()`'s publish.)
 */
export function produce(
  config: PublishConfig,
  kafka: BoundProducer,
  topic: AnyTopic,
  input: unknown,
  schema?: v.GenericSchema<unknown, ProduceRecord>,
): Promise<RecordOutcome> {
  const { limits } = config;
  const tenant = kafka.fingerprint;
  let taken = false;
  // A throw before the publish is under way (a key nested too deeply to serialize: RangeError; a key function
  // that throws) is this record's outcome, not the request's: the records before it in a stream or batch are
  // already published.
  try {
    const prepared = prepareRecord(topic, input, schema, config.publishTimeoutMs);
    if (isErrorOutcome(prepared)) return Promise.resolve(prepared);
    const pending = pendingResponse(config.clusterId, topic, prepared);
    if (!limits.takeRecord(tenant)) return config.refusedRecord;
    taken = true;
    return kafka.publish(topic, prepared.value, prepared.options).then((report): RecordOutcome => {
      limits.settled(tenant);
      // A value the topic's schema refuses (no pending answer) is refused by the producer too: not delivered.
      return pending === undefined ? failure(config, kafka, topic, new TypeError("no answer for a delivered record")) : produceResponse(pending, report);
    }, (error: unknown) => {
      limits.settled(tenant);
      return failure(config, kafka, topic, error);
    });
  } catch (error) {
    // A synchronous throw from publish itself: the record taken above never reaches Kafka.
    if (taken) limits.settled(tenant);
    return Promise.resolve(failure(config, kafka, topic, error));
  }
}

/** What `error` answers; an unexpected one is logged. */
function failure(config: PublishConfig, kafka: BoundProducer, topic: AnyTopic, error: unknown): ErrorOutcome {
  const outcome = publishFailure(error, { retryAfterSeconds: config.retryAfterSeconds, valuePath: "value.data" });
  if (outcome.status === 500) logUnexpected(config.logger, kafka, topic, error);
  return outcome;
}

function logUnexpected(logger: Logger, kafka: BoundProducer, topic: AnyTopic, error: unknown): void {
  logger.error("kshare/hono: publish failed", {
    context: kafka.fingerprint,
    topic: topic.name,
    error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error,
    code: isKafkaError(error) ? error.code : undefined,
  });
}

/** The envelope of a `records:batch` body: at most `maxBatchEntries` entries with unique ids (each entry is checked by {@link produce}). */
function batchSchema(maxBatchEntries: number) {
  return v.strictObject({
    entries: v.pipe(
      v.array(v.looseObject({ id: EntryIdSchema }, "expected an entry object with an id"), "expected an array of entries"),
      v.minLength(1, "needs at least one entry"),
      v.maxLength(maxBatchEntries, `at most ${maxBatchEntries} entries per batch`),
      v.check((entries) => new Set(entries.map((e) => e.id)).size === entries.length, "entry ids must be unique"),
    ),
  }, "expected { entries: [...] }");
}

/** The entries of a valid `records:batch` body, as {@link batchBody} leaves them in `c.req.valid("json")`. */
export type BatchEntries = v.InferOutput<ReturnType<typeof batchSchema>>["entries"];

/** A validator of `records:batch` bodies (400 naming the issues), made once per app. */
export function batchBody(maxBatchEntries: number) {
  return vValidator("json", batchSchema(maxBatchEntries), (result) => {
    if (!result.success) throw restProxyError(400, 400, `Invalid batch: ${describeIssues(result.issues)}`);
  });
}

/** 207 with every entry of the batch, by id, in `successes` or `failures`, in request order. */
export async function answerBatch(c: Context<KafkaEnv>, config: PublishConfig, topic: AnyTopic, entries: BatchEntries): Promise<Response> {
  const kafka = c.var.kafka;
  const results = await Promise.all(entries.map((entry) => produce(config, kafka, topic, entry, BatchEntrySchema)));
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
}
