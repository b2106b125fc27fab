/**
 * The records of Confluent REST Proxy v3's produce API: the request schema
 * (valibot), the conversion of a request record into a kshare publish, and
 * the response shape.
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
import type { DeliveryReport } from "../driver.ts";
import { type Bytes, serializeValue, type Topic } from "../topic.ts";
import { describeIssues, type ErrorOutcome, invalid, type RestProxyErrorBody, RestProxyErrorBodySchema } from "./errors.ts";

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

/**
 * Where a key or value went: how it was sent and its size in bytes as written.
 *
 * @example
 * ```ts
 * import type { PayloadInfo, ProduceResponse } from "@kshare/kshare/hono";
 *
 * const describe = (payload: PayloadInfo | null) => (payload ? `${payload.size} bytes (${payload.type})` : "none");
 * function logSizes(answer: ProduceResponse): void {
 *   console.log(`${answer.topic_name}@${answer.offset}: key ${describe(answer.key)}, value ${describe(answer.value)}`);
 * }
 * ```
 */
export interface PayloadInfo {
  /** How it was sent. */
  readonly type: PayloadType;
  /** Bytes written to Kafka. */
  readonly size: number;
}

/**
 * The answer to one produced record, as REST Proxy v3 gives it.
 *
 * @example A client producing one record
 * ```ts
 * import process from "node:process";
 * import type { ProduceResponse } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ value: { data: { id: "o-1", customer: "c-7", total: 42 } } }),
 * });
 * if (res.ok) {
 *   const { topic_name, partition_id, offset, timestamp } = (await res.json()) as ProduceResponse;
 *   console.log(`${topic_name}/${partition_id}@${offset}, created ${timestamp}`);
 * }
 * ```
 */
export interface ProduceResponse {
  /** Always 200. */
  readonly error_code: 200;
  /** The cluster of the request path. */
  readonly cluster_id: string;
  /** The topic written to. */
  readonly topic_name: string;
  /** The partition written to. */
  readonly partition_id: number;
  /** The record's offset in its partition. */
  readonly offset: number;
  /** The record's create time, ISO 8601. */
  readonly timestamp: string;
  /** The key written, or null for none. */
  readonly key: PayloadInfo | null;
  /** The value written. */
  readonly value: PayloadInfo | null;
}

/**
 * The answer to `records:batch` (status 207): every entry, by id, in `successes` or `failures`.
 *
 * @example A client producing a batch, then picking the entries worth retrying
 * ```ts
 * import process from "node:process";
 * import type { BatchResponse } from "@kshare/kshare/hono";
 *
 * const auth = `Basic ${btoa(`alice:${process.env.GATEWAY_PASSWORD!}`)}`;
 * const orders = [{ id: "o-1", customer: "c-7", total: 42 }, { id: "o-2", customer: "c-9", total: 7 }];
 * const res = await fetch("http://localhost:8082/v3/clusters/kshare/topics/orders/records:batch", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json", Authorization: auth },
 *   body: JSON.stringify({ entries: orders.map((order) => ({ id: order.id, value: { data: order } })) }),
 * });
 * const { successes, failures } = (await res.json()) as BatchResponse; // when res.status is 207
 * for (const s of successes) console.log(`${s.id}: partition ${s.partition_id}, offset ${s.offset}`);
 * const retry = failures.filter((f) => f.error_code === 50003).map((f) => f.id);
 * ```
 */
export interface BatchResponse {
  /** The entries delivered, in request order. */
  readonly successes: ReadonlyArray<Omit<ProduceResponse, "error_code"> & { readonly id: string }>;
  /** The entries not delivered, in request order. */
  readonly failures: ReadonlyArray<RestProxyErrorBody & { readonly id: string }>;
}

// Schemas of the answers, for the OpenAPI document; the types above are what the code checks against.
const PayloadInfoSchema = v.object({ type: v.picklist(["JSON", "STRING", "BINARY"]), size: v.number() });
const produceResponseEntries = {
  cluster_id: v.string(),
  topic_name: v.string(),
  partition_id: v.number(),
  offset: v.number(),
  timestamp: v.pipe(v.string(), v.isoTimestamp()),
  key: v.nullable(PayloadInfoSchema),
  value: v.nullable(PayloadInfoSchema),
};
/** {@link ProduceResponse} as a schema. */
export const ProduceResponseSchema: v.GenericSchema<ProduceResponse> = v.object({
  error_code: v.literal(200),
  ...produceResponseEntries,
});
/** {@link BatchResponse} as a schema. */
export const BatchResponseSchema: v.GenericSchema<BatchResponse> = v.object({
  successes: v.array(v.object({ id: v.string(), ...produceResponseEntries })),
  failures: v.array(v.object({ id: v.string(), ...RestProxyErrorBodySchema.entries })),
});

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

/** A {@link ProduceResponse} before delivery: all but where the record went. */
export type PendingResponse = Omit<ProduceResponse, "partition_id" | "offset">;

/**
 * The REST Proxy answer to a record about to be published, all but where it
 * goes: the sizes of its key and value as the topic's key function and
 * serializer write them. Built before the publish, so that a record in
 * flight holds this small answer rather than its value; undefined when the
 * value does not parse for the topic (the producer refuses it, with its own
 * error). A key function that throws throws here, before the publish.
 */
export function pendingResponse<S extends v.GenericSchema>(
  clusterId: string,
  topic: Topic<S>,
  prepared: PreparedRecord,
): PendingResponse | undefined {
  const parsed = v.safeParse(topic.schema, prepared.value);
  if (!parsed.success) return undefined;
  const output = parsed.output;
  const explicitKey = prepared.options.key;
  const key = explicitKey !== undefined ? explicitKey : topic.key?.(output) ?? null;
  return {
    error_code: 200,
    cluster_id: clusterId,
    topic_name: topic.name,
    // The record's create time. The delivery report's timestamp is not used: it does not say whether it
    // is the create time or the broker's log-append time, and the embedded broker reports a constant there.
    timestamp: new Date(prepared.options.timestamp!).toISOString(),
    key: key === null ? null : {
      type: prepared.keyType ?? (typeof key === "string" ? "STRING" : "BINARY"),
      size: typeof key === "string" ? utf8Length(key) : key.byteLength,
    },
    value: { type: prepared.valueType, size: serializedSize(topic, output) },
  };
}

/** The REST Proxy answer to a delivered record: its {@link pendingResponse} and where it went. */
export function produceResponse(pending: PendingResponse, report: DeliveryReport): ProduceResponse {
  return {
    error_code: 200,
    cluster_id: pending.cluster_id,
    topic_name: pending.topic_name,
    partition_id: report.partition,
    offset: report.offset,
    timestamp: pending.timestamp,
    key: pending.key,
    value: pending.value,
  };
}

/** Bytes of `value` as the topic's serializer writes it; for the default serializer counted rather than encoded again. */
function serializedSize(topic: AnyTopic, value: unknown): number {
  const payload = serializeValue(topic.serializer, value);
  return typeof payload === "string" ? utf8Length(payload) : payload.byteLength;
}

/** Bytes of `text` in UTF-8, as `TextEncoder` writes it (a lone surrogate as U+FFFD, 3 bytes), without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one code point beyond the BMP
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Bytes of a base64 string (already validated as base64). */
export function fromBase64(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
