/**
 * What a handler receives: a message decoded and validated against its
 * topic's schema ({@link ConsumedMessage}), or, for `onInvalid`, one that
 * failed ({@link InvalidMessage}); and {@link decodeMessage}, which makes one
 * of them from a record as fetched.
 *
 * @module
 */
import * as v from "valibot";
import type { IncomingMessage } from "./driver.ts";
import { ValidationError } from "./errors.ts";
import type { Topic } from "./topic.ts";

/**
 * A message as a handler receives it: decoded and validated.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { type ConsumedMessage, defineTopic, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }) });
 * function onOrder(message: ConsumedMessage<v.InferOutput<typeof orders.schema>>): void {
 *   console.log(message.value.total, message.key, message.headers["trace"]); // typed value; key and headers as text
 *   console.log(`${message.topic}[${message.partition}] at offset ${message.offset}`, message.timestamp);
 * }
 * await registry.consumer({ bootstrapServers: "localhost:9092" }, "billing").subscribe(orders, onOrder).start();
 * ```
 */
export interface ConsumedMessage<T> {
  /** Topic the message came from. */
  readonly topic: string;
  /** Partition the message came from. */
  readonly partition: number;
  /** Offset of the message in its partition. */
  readonly offset: number;
  /** Key as UTF-8 text, or null when the record has none (the bytes are `raw.key`). */
  readonly key: string | null;
  /** Headers as UTF-8 text; of repeated names, the last wins (every one is in `raw.headers`). */
  readonly headers: Readonly<Record<string, string>>;
  /** The value after the topic's schema (its output type). */
  readonly value: T;
  /** Record timestamp in ms since the epoch, when the broker reported one. */
  readonly timestamp?: number;
  /**
   * The record as fetched, before any decoding: key and value bytes, and
   * every header in order (names may repeat, values are bytes). `key` and
   * `headers` above are UTF-8 text views of it; read `raw` for binary keys or
   * header values, repeated header names, or to forward the record unchanged.
   * Do not modify its bytes.
   *
   * @example A binary key and every value of a repeated header
   * ```ts
   * import * as v from "valibot";
   * import { defineTopic, type MessageHandler } from "@kshare/kshare";
   *
   * const events = defineTopic({ name: "events", schema: v.object({ id: v.string() }) });
   * const handler: MessageHandler<v.InferOutput<typeof events.schema>> = (message) => {
   *   const keyBytes = message.raw.key; // Uint8Array | null, exactly as written
   *   const traces = message.raw.headers
   *     .filter(([name]) => name === "trace")
   *     .map(([, bytes]) => new TextDecoder().decode(bytes));
   *   console.log(keyBytes?.length, traces);
   * };
   * ```
   */
  readonly raw: IncomingMessage;
  /**
   * Aborted when this attempt should stop: it ran past the subscription's
   * `handlerTimeoutMs` (the attempt then counts as failed and goes through
   * the retry policy), or the consumer is closing. `signal.reason` is the
   * error saying which. Pass it on to what the handler awaits (`fetch`, a
   * database driver) or check it between steps: a JavaScript promise cannot
   * be cancelled, so a handler that ignores it runs on after the timeout, and
   * the retry may start while it does. Each attempt gets a signal of its own.
   *
   * @example Give up a slow HTTP call when the attempt times out
   * ```ts
   * import * as v from "valibot";
   * import { defineTopic, type MessageHandler } from "@kshare/kshare";
   *
   * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
   * const charge: MessageHandler<v.InferOutput<typeof orders.schema>> = async (message) => {
   *   await fetch("https://billing.example/charges", { method: "POST", body: JSON.stringify(message.value), signal: message.signal });
   * };
   * ```
   */
  readonly signal: AbortSignal;
}

/**
 * A message whose value could not be decoded or failed its schema.
 *
 * @example Set invalid records aside on a dead-letter topic, unchanged
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type InvalidMessage, registry } from "@kshare/kshare";
 *
 * const ctx = { bootstrapServers: "localhost:9092" };
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const deadLetters = defineTopic({ // bytes in, bytes out
 *   name: "orders.dead-letters",
 *   schema: v.nullable(v.custom<Uint8Array>((x) => x instanceof Uint8Array, "expected bytes")),
 *   serializer: { serialize: (bytes) => bytes as Uint8Array, deserialize: (bytes) => bytes },
 * });
 * const producer = await registry.producer(ctx);
 * const setAside = async ({ raw, error }: InvalidMessage) => {
 *   console.warn(`orders[${raw.partition}] at offset ${raw.offset}: ${error.message}`);
 *   await producer.publish(deadLetters, raw.value, { key: raw.key, headers: raw.headers });
 * };
 * registry.consumer(ctx, "billing").subscribe(orders, (m) => console.log(m.value.id), { onInvalid: setAside });
 * ```
 */
export interface InvalidMessage {
  /** Topic the message came from. */
  readonly topic: string;
  /** Partition the message came from. */
  readonly partition: number;
  /** Offset of the message, so it can be found again. */
  readonly offset: number;
  /** Key as UTF-8 text, or null. */
  readonly key: string | null;
  /** A {@link ValidationError} (schema) or the serializer's error (decoding). */
  readonly error: Error;
  /**
   * The record as fetched: key, value and headers as bytes, so it can be set
   * aside unchanged (for example published to a dead-letter topic whose
   * serializer passes bytes through). Do not modify its bytes.
   */
  readonly raw: IncomingMessage;
}

/**
 * A topic's handler. A rejected promise or throw triggers the retry policy.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type MessageHandler, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }) });
 * const charge: MessageHandler<v.InferOutput<typeof orders.schema>> = async (message) => {
 *   const response = await fetch("https://billing.example/charges", { method: "POST", body: JSON.stringify(message.value) });
 *   if (!response.ok) throw new Error(`billing answered ${response.status}`); // retried with backoff until it succeeds
 * };
 * registry.consumer({ bootstrapServers: "localhost:9092" }, "billing").subscribe(orders, charge);
 * ```
 */
export type MessageHandler<T> = (message: ConsumedMessage<T>) => void | Promise<void>;

const decoder = new TextDecoder();
/** The headers of every message without any: one shared, frozen object. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Decode and validate a record as fetched: the message its handler gets, or
 * why it is invalid (the serializer threw, or the schema refused the value).
 * Internal (not exported by `mod.ts`).
 */
export function decodeMessage(topic: Topic, message: IncomingMessage): { consumed: Delivery } | { invalid: InvalidMessage } {
  const key = message.key === null ? null : decoder.decode(message.key);
  let decoded: unknown;
  let invalid: Error | undefined;
  try {
    decoded = message.value === null ? null : topic.serializer.deserialize(message.value);
  } catch (error) {
    invalid = error instanceof Error ? error : new Error(String(error));
  }
  let value: unknown;
  if (!invalid) {
    const result = v.safeParse(topic.schema, decoded);
    if (result.success) value = result.output;
    else invalid = new ValidationError(topic.name, result.issues);
  }
  if (invalid) {
    return { invalid: { topic: topic.name, partition: message.partition, offset: message.offset, key, error: invalid, raw: message } };
  }
  let headers: Readonly<Record<string, string>> = NO_HEADERS;
  if (message.headers.length > 0) {
    const decoded: Record<string, string> = {};
    for (const [name, bytes] of message.headers) decoded[name] = decoder.decode(bytes);
    headers = decoded;
  }
  return { consumed: new Delivery(topic.name, message, key, headers, value) };
}

/**
 * One attempt's {@link ConsumedMessage}. Its abort controller is made only
 * when the handler reads `signal` (most never do, and a controller per message
 * would cost every synchronous handler); an abort before that is remembered.
 * Internal (not exported by `mod.ts`).
 */
export class Delivery implements ConsumedMessage<unknown> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp?: number;
  #controller: AbortController | undefined;
  #reason: Error | undefined;

  constructor(
    topic: string,
    readonly raw: IncomingMessage,
    readonly key: string | null,
    readonly headers: Readonly<Record<string, string>>,
    readonly value: unknown,
  ) {
    this.topic = topic;
    this.partition = raw.partition;
    this.offset = raw.offset;
    this.timestamp = raw.timestamp;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** The same message for a next attempt, with a signal of its own. */
  retry(): Delivery {
    return new Delivery(this.topic, this.raw, this.key, this.headers, this.value);
  }

  /** Abort this attempt's signal (the first reason wins). */
  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
