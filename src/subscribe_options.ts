/**
 * How a topic's consumer handles what goes wrong: {@link SubscribeOptions},
 * the check that refuses options that would silently mean something else,
 * and the defaults they fall back to.
 *
 * @module
 */
import type { ConsumedMessage, InvalidMessage } from "./consumed_message.ts";
import { MAX_TIMER_MS } from "./_util.ts";

/**
 * How one topic's messages are handled when something goes wrong.
 *
 * By default a message is never given up: a handler that fails (throws,
 * rejects, or runs past `handlerTimeoutMs`) is retried with backoff until it
 * succeeds or the consumer closes, and its partition waits meanwhile
 * (at-least-once). Skipping is opt-in: with a finite `retries`, `onError` is
 * called after the last one and the message is skipped, its offset committed.
 *
 * @example Give up after 5 retries and set the message aside
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry, type SubscribeOptions } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const options: SubscribeOptions = {
 *   retries: 5, // after the first failure: 6 attempts in all
 *   retryBackoffMs: 200, // then 200, 400, 800, 1600, 3200 ms
 *   handlerTimeoutMs: 10_000, // an attempt still running after 10 s fails (message.signal is aborted)
 *   onError: (error, message) => console.error(`gave up on ${message.topic} at offset ${message.offset}`, error),
 *   onInvalid: ({ offset, error }) => console.warn(`skipped offset ${offset}: ${error.message}`),
 * };
 * registry.consumer({ bootstrapServers: "localhost:9092" }, "billing")
 *   .subscribe(orders, (message) => console.log(message.value.id), options);
 * ```
 */
export interface SubscribeOptions {
  /** Called for a message that failed decoding or its schema; then it is skipped. Default: log a warning. */
  readonly onInvalid?: (message: InvalidMessage) => void | Promise<void>;
  /**
   * Called when the handler still fails after its `retries`; then the message
   * is skipped and its offset committed. Only with a finite `retries` (without
   * one a message is retried until it succeeds, so `onError` would never be
   * called: `subscribe` refuses it). Default: log an error.
   */
  readonly onError?: (error: unknown, message: ConsumedMessage<unknown>) => void | Promise<void>;
  /**
   * Retries after the first failure before the message is given up to
   * `onError`. Default: `Infinity`, retried until the handler succeeds or the
   * consumer closes (its partition waits; other partitions and topics flow).
   */
  readonly retries?: number;
  /** First retry delay in ms, doubled each retry up to 30 s (default 100). Each failure is logged as a warning. */
  readonly retryBackoffMs?: number;
  /**
   * How long one attempt of the handler may run, in ms, before it counts as
   * failed (an error naming topic, partition, offset and this bound) and goes
   * through the retry policy; `message.signal` is aborted then. Default
   * 60 000: far above an ordinary handler and the 30 s an HTTP call commonly
   * allows itself, so only a stuck one trips it, and a stuck handler no longer
   * holds its partition (and, with the topic paused, its topic) for ever.
   * `Infinity` turns it off. The attempt's promise cannot be cancelled: a
   * handler that ignores the signal runs on beside its retry.
   */
  readonly handlerTimeoutMs?: number;
  /**
   * Which records of the topic this member handles, by their headers: a
   * predicate over the headers as fetched (in order, names may repeat, values
   * as bytes), or an object of header names to the text (exact) or pattern
   * the header must match, every one of them (a repeated header: its last
   * value, as Kafka's `lastHeader`; a missing one never matches). A record
   * that does not match is skipped before anything else: not decoded, not
   * validated, never handed to the handler, `onInvalid` or `onError`; its
   * offset is committed in order with the others, and it is counted in
   * `consumer.stats().filtered`. A predicate that throws is logged and the
   * record handled as a match: a faulty filter drops nothing.
   *
   * @example Only the records of one tenant, or of a predicate
   * ```ts
   * import * as v from "valibot";
   * import { defineTopic, registry } from "@kshare/kshare";
   *
   * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
   * const refunds = defineTopic({ name: "refunds", schema: v.object({ id: v.string() }) });
   * const text = new TextDecoder();
   * registry.consumer({ bootstrapServers: "localhost:9092" }, "eu-billing")
   *   .subscribe(orders, (m) => console.log(m.value.id), { headerFilter: { tenant: "acme", region: /^eu-/ } })
   *   .subscribe(refunds, (m) => console.log(m.value.id), {
   *     headerFilter: (headers) => headers.some(([name, value]) => name === "source" && text.decode(value) !== "replay"),
   *   });
   * ```
   */
  readonly headerFilter?:
    | ((headers: ReadonlyArray<readonly [name: string, value: Uint8Array]>) => boolean)
    | Readonly<Record<string, string | RegExp>>;
}

/** How long one attempt of a handler may run by default ({@link SubscribeOptions.handlerTimeoutMs}). */
export const DEFAULT_HANDLER_TIMEOUT_MS = 60_000;
/** First retry delay by default ({@link SubscribeOptions.retryBackoffMs}). */
export const DEFAULT_RETRY_BACKOFF_MS = 100;
/** Longest retry delay: the backoff doubles up to it. */
export const MAX_RETRY_BACKOFF_MS = 30_000;

/** Refuse options that would silently mean something else (a negative or NaN retry count, delay or timeout, a hook that is not a function, an onError that would never be called). */
export function checkSubscribeOptions(topic: string, options: SubscribeOptions): void {
  const { retries, retryBackoffMs, handlerTimeoutMs, onInvalid, onError } = options;
  if (retries !== undefined && !((Number.isSafeInteger(retries) && retries >= 0) || retries === Infinity)) {
    throw new TypeError(
      `Topic "${topic}": retries must be a whole number ≥ 0, got ${String(retries)} (or Infinity, the default: retry until the handler succeeds)`,
    );
  }
  if (
    handlerTimeoutMs !== undefined &&
    !(typeof handlerTimeoutMs === "number" && handlerTimeoutMs > 0 && (handlerTimeoutMs <= MAX_TIMER_MS || handlerTimeoutMs === Infinity))
  ) {
    throw new TypeError(`Topic "${topic}": handlerTimeoutMs must be a number of ms > 0 and ≤ ${MAX_TIMER_MS}, or Infinity, got ${String(handlerTimeoutMs)}`);
  }
  if (retryBackoffMs !== undefined && !(typeof retryBackoffMs === "number" && Number.isFinite(retryBackoffMs) && retryBackoffMs >= 0)) {
    throw new TypeError(`Topic "${topic}": retryBackoffMs must be a finite number of ms ≥ 0, got ${String(retryBackoffMs)}`);
  }
  for (const [name, hook] of [["onInvalid", onInvalid], ["onError", onError]] as const) {
    if (hook !== undefined && typeof hook !== "function") throw new TypeError(`Topic "${topic}": ${name} must be a function`);
  }
  if (onError !== undefined && !Number.isFinite(retries ?? Infinity)) {
    throw new TypeError(
      `Topic "${topic}": onError is called only after a finite number of retries, and retries is ${
        retries ?? "not set (default: retry until the handler succeeds)"
      }; set retries (e.g. retries: 5) to give messages up to onError, or drop onError`,
    );
  }
}
