/**
 * A record of Confluent REST Proxy v3's produce API as it comes in: the
 * request schema (valibot) and what a request record becomes, a kshare
 * publish. The answers are in `responses.ts`.
 *
 * Keys and values come as `{ type, data }` with `type` one of `JSON` (the
 * default), `STRING` or `BINARY` (base64). A value is always a value of the
 * topic's model: a `JSON` value is validated against the topic's schema; a
 * `STRING` or `BINARY` value is decoded with the topic's serializer first,
 * then validated the same way. Nothing reaches Kafka that the topic's schema
 * did not accept.
 *
 * @module
 */
import * as v from "valibot";
import type { PublishOptions } from "../publish_options.ts";
import type { Bytes, Topic } from "../topic.ts";
import { describeIssues, type ErrorOutcome, invalid } from "./errors.ts";

/**
 * A topic of any schema. `Topic` alone means `Topic<GenericSchema>`, whose
 * `key(value: unknown)` a topic with a typed key function is not assignable
 * to (parameters are contravariant), so lists of topics use this.
 *
 * @example One list of topics of different schemas, for the routes and their document
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { type AnyTopic, openApiDocument, publishRoutes } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (order) => order.id });
 * const payments = defineTopic({ name: "payments", schema: v.object({ orderId: v.string(), amount: v.number() }) });
 * const topics: readonly AnyTopic[] = [orders, payments]; // `Topic[]` would refuse `orders` and its typed key
 *
 * const routes = publishRoutes({ topics });
 * const document = openApiDocument({ topics });
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyTopic = Topic<any>;

/**
 * How a key or value is encoded in a request: JSON, a UTF-8 string, or base64 bytes.
 *
 * @example The body of a produce request: a binary key and a JSON value
 * ```ts
 * import type { PayloadType } from "@kshare/kshare/hono";
 *
 * type Payload = { type: PayloadType; data: unknown };
 * const key: Payload = { type: "BINARY", data: btoa("o-1") }; // base64 of the key's bytes
 * const value: Payload = { type: "JSON", data: { id: "o-1", customer: "c-7", total: 42 } }; // JSON is the default type
 * const body = JSON.stringify({ key, value });
 * ```
 */
export type PayloadType = "JSON" | "STRING" | "BINARY";

const Base64 = v.pipe(v.string("expected a base64 string"), v.base64("expected a base64 string"));

/** A key or value, `{ type?, data }`, whose `JSON` data is `json` (a missing `type` means `JSON`). */
function payload<T extends v.GenericSchema>(json: T) {
  return v.variant("type", [
    v.strictObject({ type: v.optional(v.literal("JSON"), "JSON"), data: json }),
    v.strictObject({ type: v.literal("STRING"), data: v.string("STRING data must be a string") }),
    v.strictObject({ type: v.literal("BINARY"), data: Base64 }),
  ], "type must be JSON, STRING or BINARY");
}

/** A key or value: `{ type?, data }`. */
export const PayloadSchema = payload(v.optional(v.unknown()));

/** One record header: a name and a base64 value. */
export const HeaderSchema = v.strictObject({
  name: v.pipe(v.string("expected a header name"), v.nonEmpty("a header name must not be empty")),
  value: Base64,
});

/** The latest time a `Date` can hold, in ms since the epoch (ECMAScript: 100,000,000 days). */
const LATEST_DATE_MS = 8_640_000_000_000_000;
/** A record timestamp: an ISO 8601 date-time (as REST Proxy sends it) or milliseconds since the epoch. */
const TimestampSchema = v.union([
  v.pipe(
    v.string(),
    v.isoTimestamp("expected an ISO 8601 date-time"),
    v.transform((s) => Date.parse(s)),
    v.check((ms) => Number.isFinite(ms), "expected an ISO 8601 date-time"),
    v.minValue(0, "expected a date-time from 1970 on (Kafka timestamps are not negative)"),
  ),
  // At most the latest time a Date holds: a later one (1e308 is an integer) would be published, then fail
  // to be answered, since the answer states the create time as an ISO 8601 date-time.
  v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(LATEST_DATE_MS, `expected at most ${LATEST_DATE_MS} ms since the epoch`)),
], "expected an ISO 8601 date-time or milliseconds since the epoch");

/** The entries of one produce request record. */
const recordEntries = {
  partition_id: v.nullish(
    v.pipe(
      v.number("expected a partition number"),
      v.integer("expected an integer"),
      v.minValue(0, "expected a partition number >= 0"),
    ),
  ),
  // In order; a name may repeat, as Kafka allows.
  headers: v.nullish(v.array(HeaderSchema, "expected an array of { name, value }")),
  key: v.nullish(PayloadSchema),
  value: v.nullish(PayloadSchema),
  timestamp: v.nullish(TimestampSchema),
};

/** One record of `POST /v3/clusters/:cluster_id/topics/:topic_name/records`. */
export const ProduceRecordSchema = v.strictObject(recordEntries, "expected a record object");

/**
 * The record schema of one topic, for documentation: {@link ProduceRecordSchema}
 * with the topic's schema as the `JSON` value's data. (Requests are checked
 * against the generic one; the producer validates the value.)
 */
export function topicRecordSchema(topic: AnyTopic): v.GenericSchema {
  return v.strictObject({ ...recordEntries, value: v.nullish(payload(topic.schema)) });
}

/** The `records:batch` request schema of one topic, for documentation. */
export function topicBatchSchema(topic: AnyTopic, maxEntries: number): v.GenericSchema {
  const entry = v.strictObject({ id: EntryIdSchema, ...recordEntries, value: v.nullish(payload(topic.schema)) });
  return v.strictObject({ entries: v.pipe(v.array(entry), v.minLength(1), v.maxLength(maxEntries)) });
}
/** A validated produce request record. */
export type ProduceRecord = v.InferOutput<typeof ProduceRecordSchema>;

/** The id of a batch entry: unique in its batch, 1 to 80 characters. */
export const EntryIdSchema = v.pipe(
  v.string("expected an id string"),
  v.nonEmpty("an id must not be empty"),
  v.check((id) => id.trim() !== "", "an id must not be blank"),
  v.maxLength(80, "an id has at most 80 characters"),
);

/** One entry of `POST .../records:batch`: a record with an `id`. */
export const BatchEntrySchema = v.strictObject({ id: EntryIdSchema, ...recordEntries }, "expected a record object");

/** A record ready to publish. */
export interface PreparedRecord {
  /** The value to publish (validated again by the producer). */
  readonly value: unknown;
  /** Key, headers, partition, timestamp and the publish's deadline. */
  readonly options: PublishOptions;
  /** How the key was sent; `null` when the key is the topic's or none. */
  readonly keyType: PayloadType | null;
  /** How the value was sent. */
  readonly valueType: PayloadType;
}

const encoder = new TextEncoder();

/**
 * Turn a request record (already parsed JSON) into a publish of `topic`:
 * the envelope is validated here (400 with the issues' paths), the value's
 * schema by the producer. `schema` is {@link ProduceRecordSchema} or
 * {@link BatchEntrySchema}; `timeoutMs` becomes the publish's.
 */
export function prepareRecord<S extends v.GenericSchema>(
  topic: Topic<S>,
  input: unknown,
  schema: v.GenericSchema<unknown, ProduceRecord> = ProduceRecordSchema,
  timeoutMs?: number,
): PreparedRecord | ErrorOutcome {
  let record = schema === ProduceRecordSchema ? commonRecord(input) : undefined;
  if (record === undefined) {
    const parsed = v.safeParse(schema, input);
    if (!parsed.success) return invalid(`Invalid record: ${describeIssues(parsed.issues)}`);
    record = parsed.output;
  }

  let value: unknown = null;
  if (record.value && record.value.type !== "JSON") {
    const bytes = record.value.type === "STRING" ? encoder.encode(record.value.data) : fromBase64(record.value.data);
    try {
      value = topic.serializer.deserialize(bytes);
    } catch {
      return invalid(`Invalid record: value.data: cannot be decoded as a value of topic "${topic.name}"`);
    }
  } else if (record.value) {
    value = record.value.data ?? null;
  }

  let key: Bytes | null | undefined;
  if (record.key === null) key = null; // explicitly none
  else if (record.key?.type === "JSON") {
    key = record.key.data === undefined || record.key.data === null ? null : JSON.stringify(record.key.data);
  } else if (record.key?.type === "STRING") key = record.key.data;
  else if (record.key?.type === "BINARY") key = fromBase64(record.key.data);

  const headers = record.headers && record.headers.length > 0 ? record.headers.map((h) => [h.name, fromBase64(h.value)] as const) : undefined;
  const options: PublishOptions = {
    ...(key !== undefined && { key }),
    ...(headers && { headers }),
    ...(record.partition_id != null && { partition: record.partition_id }),
    // The create time is set here, not left to the client library, so the answer can report it (see produceResponse).
    timestamp: record.timestamp ?? Date.now(),
    ...(timeoutMs !== undefined && { timeoutMs }),
  };
  return { value, options, keyType: record.key ? record.key.type : null, valueType: record.value?.type ?? "JSON" };
}

/**
 * {@link ProduceRecordSchema}'s output for the records most requests send,
 * without running the schema: a `value` and optionally a `key`, each
 * `{ data }`, `{ type: "JSON", data }` or `{ type: "STRING", data: "…" }`,
 * and no other field. `undefined` for any other input, which the schema then
 * checks and, when invalid, explains. It recognises only inputs the schema
 * accepts and answers what the schema outputs (the tests compare the two): on
 * V8, valibot's object schemas cost more per request than all the rest of a
 * record's handling.
 */
export function commonRecord(input: unknown): ProduceRecord | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  let key: CommonPayload | undefined;
  let value: CommonPayload | undefined;
  // for-in, like the schema's check for unknown fields: every enumerable name counts.
  for (const name in input) {
    if (name === "key") {
      if ((key = commonPayload((input as { key: unknown }).key)) === undefined) return undefined;
    } else if (name === "value") {
      if ((value = commonPayload((input as { value: unknown }).value)) === undefined) return undefined;
    } else return undefined;
  }
  return { ...(key && { key }), ...(value && { value }) };
}

type CommonPayload = { type: "JSON"; data: unknown } | { type: "STRING"; data: string };

/** A key or value of {@link commonRecord}'s forms as the schema outputs it, or `undefined` for any other. */
function commonPayload(payload: unknown): CommonPayload | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  let type: unknown = "JSON";
  let data = false;
  for (const name in payload) {
    if (name === "type") type = (payload as { type: unknown }).type;
    else if (name === "data") data = true;
    else return undefined;
  }
  if (!data) return undefined;
  const content = (payload as { data: unknown }).data;
  if (type === "JSON") return { type, data: content };
  if (type === "STRING" && typeof content === "string") return { type, data: content };
  return undefined;
}

/** True when `prepared` is an error outcome rather than a record. */
export function isErrorOutcome(prepared: PreparedRecord | ErrorOutcome): prepared is ErrorOutcome {
  return "status" in prepared;
}

/** Bytes of a base64 string (already validated as base64). */
export function fromBase64(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
