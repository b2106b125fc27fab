/**
 * The answers of Confluent REST Proxy v3's produce API to delivered records:
 * their types, their schemas (for the OpenAPI document), and how an answer is
 * built, before the publish and then from its delivery report. Error answers
 * are in `errors.ts`.
 *
 * @module
 */
import * as v from "valibot";
import type { DeliveryReport } from "../driver.ts";
import { serializeValue, type Topic } from "../topic.ts";
import { type ErrorOutcome, type RestProxyErrorBody, RestProxyErrorBodySchema } from "./errors.ts";
import type { AnyTopic, PayloadType, PreparedRecord } from "./records.ts";

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

/** What became of one record of a request: where it went, or its error answer. */
export type RecordOutcome = ProduceResponse | ErrorOutcome;

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
