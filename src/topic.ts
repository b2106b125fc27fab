/**
 * The topic model: a topic's name, the valibot schema of its values, how its
 * records are keyed and encoded, and its consumer settings.
 *
 * @module
 */
import type * as v from "valibot";
import type { Payload } from "./driver.ts";

/**
 * Encodes values to bytes and back. The default is {@link jsonSerializer}.
 *
 * @example Bytes passed through, e.g. for a dead-letter topic
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type Serializer } from "@kshare/kshare";
 * const rawBytes: Serializer = {
 *   serialize: (value) => value as Uint8Array, // the schema below made sure it is
 *   deserialize: (bytes) => bytes,
 * };
 * const deadLetters = defineTopic({ name: "orders.dlq", schema: v.instance(Uint8Array), serializer: rawBytes });
 * ```
 */
export interface Serializer {
  /** Encode a validated value. */
  serialize(value: unknown): Uint8Array;
  /** Decode a record's bytes; the result is validated against the topic's schema afterwards. */
  deserialize(bytes: Uint8Array): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * `bytes` as UTF-8 text; a `TypeError` for malformed UTF-8. Decoded leniently
 * first: a strict decoder took 2.5× as long on Deno (its slow path), and a
 * replacement character in the text, a malformed sequence or one the bytes
 * really hold, is the only case the strict decoder has to settle.
 */
function utf8(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return text.includes("\uFFFD") ? strictDecoder.decode(bytes) : text;
}

/**
 * UTF-8 JSON, the default serializer.
 *
 * @example
 * ```ts
 * import { jsonSerializer } from "@kshare/kshare";
 * const bytes = jsonSerializer.serialize({ id: 1 });
 * console.log(jsonSerializer.deserialize(bytes)); // { id: 1 }
 * ```
 */
export const jsonSerializer: Serializer = Object.freeze({
  serialize: (value: unknown) => encoder.encode(JSON.stringify(value)),
  deserialize: (bytes: Uint8Array) => JSON.parse(utf8(bytes)),
});

/**
 * Per-topic consumer settings.
 *
 * @example A smaller buffer for a slow handler
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type TopicConsumerSettings } from "@kshare/kshare";
 * const slow: Partial<TopicConsumerSettings> = { maxBufferedMessages: 50 };
 * const thumbnails = defineTopic({ name: "thumbnails", schema: v.object({ url: v.string() }), consumer: slow });
 * console.log(thumbnails.consumer.maxBufferedMessages); // 50 (default 1000)
 * ```
 */
export interface TopicConsumerSettings {
  /**
   * How many of this topic's messages may be waiting or in a handler at once,
   * per consumer. Reaching it pauses the topic's partitions; they resume when
   * half have drained. Default: the registry's `defaults.topic`, else 1000.
   */
  readonly maxBufferedMessages: number;
}

/**
 * A record key or header value: a string (UTF-8) or raw bytes.
 *
 * @example A binary key and a text header
 * ```ts
 * import * as v from "valibot";
 * import { type Bytes, defineTopic, registry } from "@kshare/kshare";
 * const events = defineTopic({ name: "events", schema: v.object({ id: v.string() }) });
 * const tenant: Bytes = new Uint8Array([0x00, 0x2a]); // sent as is
 * const traceId: Bytes = crypto.randomUUID(); // sent as UTF-8
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * await producer.publish(events, { id: "e-1" }, { key: tenant, headers: { "trace-id": traceId } });
 * ```
 */
export type Bytes = string | Uint8Array;

/**
 * What {@link defineTopic} takes.
 *
 * @example A definition written out, then defined
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type TopicDefinition } from "@kshare/kshare";
 * const Payment = v.object({ id: v.string(), amount: v.number() });
 * const definition: TopicDefinition<typeof Payment> = {
 *   name: "payments",
 *   schema: Payment,
 *   key: (payment) => payment.id,
 *   headers: { source: "checkout" },
 *   consumer: { maxBufferedMessages: 200 },
 * };
 * const payments = defineTopic(definition);
 * ```
 */
export interface TopicDefinition<S extends v.GenericSchema> {
  /** Kafka topic name: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`. */
  readonly name: string;
  /** Schema of the values; publish validates against it, and so does the consumer. */
  readonly schema: S;
  /** Derive a record's key from its value (a publish's own `key` wins). */
  readonly key?: (value: v.InferOutput<S>) => Bytes | null | undefined;
  /** Headers added to every record (a publish's own `headers` win per name). */
  readonly headers?: Readonly<Record<string, Bytes>> | ((value: v.InferOutput<S>) => Readonly<Record<string, Bytes>>);
  /** Value encoding; default {@link jsonSerializer}. */
  readonly serializer?: Serializer;
  /** Consumer settings of this topic. */
  readonly consumer?: Partial<TopicConsumerSettings>;
}

/**
 * A defined topic. Create with {@link defineTopic}.
 *
 * @example A publish function bound to one topic
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry, type SecurityContext, type Topic } from "@kshare/kshare";
 *
 * function publisherOf<S extends v.GenericSchema>(topic: Topic<S>, ctx: SecurityContext) {
 *   return async (value: v.InferInput<S>) => (await registry.producer(ctx)).publish(topic, value);
 * }
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const publishOrder = publisherOf(orders, { bootstrapServers: "localhost:9092" });
 * await publishOrder({ id: "o-1" });
 * console.log(orders.name, orders.consumer.maxBufferedMessages); // "orders" 1000
 * ```
 */
export interface Topic<S extends v.GenericSchema = v.GenericSchema> {
  /** Kafka topic name. */
  readonly name: string;
  /** Schema of the values. */
  readonly schema: S;
  /** Derives a record's key from its value. */
  readonly key?: (value: v.InferOutput<S>) => Bytes | null | undefined;
  /** Headers added to every record. */
  readonly headers?: (value: v.InferOutput<S>) => Readonly<Record<string, Bytes>>;
  /** Value encoding. */
  readonly serializer: Serializer;
  /**
   * Consumer settings, kshare's defaults applied. A registry whose
   * `defaults.topic` sets a value applies it to a topic whose definition
   * set none (`consumer.stats()` shows the bound in effect).
   */
  readonly consumer: TopicConsumerSettings;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** kshare's `maxBufferedMessages`, below a registry's default. */
export const DEFAULT_MAX_BUFFERED_MESSAGES = 1000;

/** Topics whose definition set no `maxBufferedMessages`: a registry's default applies to them. */
const unbounded = new WeakSet<Topic>();

/** The `maxBufferedMessages` of `topic` in a registry whose default is `fallback`: the topic's own if its definition set one. */
export function maxBufferedOf(topic: Topic, fallback: number): number {
  return unbounded.has(topic) ? fallback : topic.consumer.maxBufferedMessages;
}

/**
 * Define a topic: the TypeScript counterpart of
 * `modelBuilder.Topic<T>(t => t.HasName(...).HasConsumer(c => c.HasMaxBufferedMessages(n)))`.
 * Throws a `TypeError` naming the bad setting.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 *
 * export const orders = defineTopic({
 *   name: "orders",
 *   schema: v.object({ id: v.string(), total: v.number() }),
 *   key: (order) => order.id,
 *   consumer: { maxBufferedMessages: 500 },
 * });
 * ```
 */
export function defineTopic<S extends v.GenericSchema>(definition: TopicDefinition<S>): Topic<S> {
  const { name, schema, key, headers, serializer = jsonSerializer, consumer } = definition;
  if (typeof name !== "string" || !TOPIC_NAME.test(name) || name === "." || name === "..") {
    throw new TypeError(
      `Invalid topic name ${JSON.stringify(name)}: use 1 to 249 characters of a-z, A-Z, 0-9, ".", "_" and "-", not "." or ".."`,
    );
  }
  if (typeof schema !== "object" || schema === null || (schema as { kind?: unknown }).kind !== "schema") {
    throw new TypeError(`Topic "${name}": schema must be a valibot schema`);
  }
  if ((schema as { async?: unknown }).async === true) {
    throw new TypeError(`Topic "${name}": async schemas are not supported; use a synchronous valibot schema`);
  }
  const maxBufferedMessages = consumer?.maxBufferedMessages ?? DEFAULT_MAX_BUFFERED_MESSAGES;
  if (!Number.isSafeInteger(maxBufferedMessages) || maxBufferedMessages < 1) {
    throw new TypeError(`Topic "${name}": consumer.maxBufferedMessages must be a positive integer, got ${maxBufferedMessages}`);
  }
  const topic: Topic<S> = Object.freeze({
    name,
    schema,
    key,
    headers: typeof headers === "function" ? headers : headers ? () => headers : undefined,
    serializer,
    consumer: Object.freeze({ maxBufferedMessages }),
  });
  if (consumer?.maxBufferedMessages === undefined) unbounded.add(topic as unknown as Topic);
  return topic;
}

/**
 * A validated value as `serializer` writes it. The default JSON serializer's
 * output is returned as text (drivers encode it straight into their
 * buffers); like `jsonSerializer`, undefined becomes an empty value.
 */
export function serializeValue(serializer: Serializer, value: unknown): Payload {
  return serializer === jsonSerializer ? JSON.stringify(value) ?? "" : serializer.serialize(value);
}

/** Bytes of a key or header value. */
export function toBytes(value: Bytes): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}
