/**
 * What a publish takes beside the value ({@link PublishOptions},
 * {@link PublishRecord}), and the record it makes of them for the driver:
 * options checked, value serialized, headers merged. Every bad option is
 * refused here, before anything is sent, with an error naming it.
 *
 * @module
 */
import * as v from "valibot";
import type { OutgoingRecord } from "./driver.ts";
import { type Bytes, serializeValue, toBytes, type Topic } from "./topic.ts";
import { isPlainObject, MAX_TIMER_MS } from "./_util.ts";

/**
 * Per-record options of a publish.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type PublishOptions, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * const byName: PublishOptions = { key: "o-1", headers: { source: "web" }, partition: 0 };
 * const inOrder: PublishOptions = { headers: [["trace", "a"], ["trace", "b"]] }; // a name may repeat
 * const bounded: PublishOptions = { timeoutMs: 2_000 }; // acknowledged within 2 s, or PublishTimeoutError
 * await producer.publish(orders, { id: "o-1" }, byName);
 * await producer.publish(orders, { id: "o-2" }, inOrder);
 * await producer.publish(orders, { id: "o-3" }, bounded);
 * ```
 */
export interface PublishOptions {
  /** Record key; default: the topic's `key(value)`, else none. */
  readonly key?: Bytes | null;
  /**
   * Headers, over the topic's headers: an object (one value per name), or a
   * list of `[name, value]` pairs sent in its order, where a name may repeat
   * (as in `message.raw.headers`). Either way a name given here replaces the
   * topic's header of that name.
   */
  readonly headers?: Readonly<Record<string, Bytes>> | ReadonlyArray<readonly [name: string, value: Bytes]>;
  /** Explicit partition; default: librdkafka's partitioner (by key). */
  readonly partition?: number;
  /** Create time in ms since the epoch; default: now. */
  readonly timestamp?: number;
  /**
   * Reject with {@link PublishTimeoutError} unless the broker acknowledged the
   * record within this many milliseconds (1 to 2 147 483 647). An
   * acknowledgement after it is a `PublishTimeoutError` too: never a late
   * success. A record still waiting for room in librdkafka's queue at the
   * deadline is dropped, never sent. One already handed to librdkafka cannot
   * be recalled (librdkafka has no per-record timeout): it may still be
   * delivered, at the latest within the producer's `message.timeout.ms`
   * (default 300 000 ms; set it lower in the context's `producer` settings for
   * a tighter bound). Default: no deadline of its own, only `message.timeout.ms`.
   */
  readonly timeoutMs?: number;
}

/**
 * One record of a {@link Producer.publishBatch}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type PublishRecord, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }) });
 * const records: PublishRecord<v.InferInput<typeof orders.schema>>[] = [
 *   { value: { id: "o-1", total: 10 }, key: "o-1" },
 *   { value: { id: "o-2", total: 20 }, key: "o-2", headers: { source: "import" } },
 * ];
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * const reports = await producer.publishBatch(orders, records); // in input order
 * ```
 */
export interface PublishRecord<T> extends PublishOptions {
  /** The value, validated against the topic's schema. */
  readonly value: T;
}

/** The record of one publish, as the driver takes it; throws a `TypeError` naming a bad option. */
export function encode<S extends v.GenericSchema>(
  topic: Topic<S>,
  value: v.InferOutput<S>,
  options: PublishOptions | undefined,
): OutgoingRecord {
  const partition = options?.partition;
  if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) {
    throw new TypeError(`Topic "${topic.name}": partition must be a non-negative integer, got ${partition}`);
  }
  const timestamp = options?.timestamp;
  if (timestamp !== undefined && (typeof timestamp !== "number" || !Number.isFinite(timestamp) || timestamp < 0)) {
    throw new TypeError(`Topic "${topic.name}": timestamp must be milliseconds since the epoch (a finite number ≥ 0), got ${String(timestamp)}`);
  }
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS))) {
    throw new TypeError(`Topic "${topic.name}": timeoutMs must be milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(timeoutMs)}`);
  }
  const key = options?.key !== undefined ? options.key : topic.key?.(value);
  return {
    topic: topic.name,
    value: serializeValue(topic.serializer, value),
    key: key ?? null,
    headers: topic.headers || options?.headers ? encodeHeaders(topic.name, topic.headers?.(value), options?.headers) : undefined,
    partition,
    timestamp,
    deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
  };
}

/** The topic's headers, then the publish's, as the driver's list; a name the publish gives replaces the topic's. */
function encodeHeaders(
  topic: string,
  fromTopic: Readonly<Record<string, Bytes>> | undefined,
  own: PublishOptions["headers"],
): OutgoingRecord["headers"] {
  const list: Array<readonly [string, Uint8Array]> = [];
  if (own !== undefined && !Array.isArray(own) && !isPlainObject(own)) {
    // A Map or a Headers object has no own enumerable names: its headers would be dropped without a word.
    throw new TypeError(`Topic "${topic}": headers must be an object or a list of [name, value] pairs, got ${describe(own)}`);
  }
  if (!Array.isArray(own)) {
    const merged = { ...fromTopic, ...own as Readonly<Record<string, Bytes>> | undefined };
    for (const name of Object.keys(merged)) list.push([name, headerValue(topic, name, merged[name])]);
    return list.length === 0 ? undefined : list;
  }
  const pairs = own as ReadonlyArray<readonly [string, Bytes]>;
  const given = new Set<string>();
  for (const pair of pairs) {
    if (!Array.isArray(pair) || typeof pair[0] !== "string") {
      throw new TypeError(`Topic "${topic}": headers must be [name, value] pairs with a string name, got ${describe(pair)}`);
    }
    given.add(pair[0]);
  }
  if (fromTopic) { for (const name of Object.keys(fromTopic)) if (!given.has(name)) list.push([name, headerValue(topic, name, fromTopic[name])]); }
  for (const [name, value] of pairs) list.push([name, headerValue(topic, name, value)]);
  return list.length === 0 ? undefined : list;
}

/** A header's value as bytes; a clear error for anything but text or bytes. */
function headerValue(topic: string, name: string, value: unknown): Uint8Array {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new TypeError(`Topic "${topic}": header "${name}" must be a string or Uint8Array, got ${describe(value)}`);
  }
  return toBytes(value);
}

/** What a wrong value was, for an error message: its type, never its content. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
