/**
 * Handling one consumed message: the header filter, decoding and validation,
 * then the handler's attempts, each bounded by `handlerTimeoutMs` and traced
 * when tracing is on, with retries and backoff after a failure, and the
 * `onInvalid` and `onError` hooks. The shared consumer calls
 * {@link handleMessage} for each message of a partition, in order.
 *
 * @module
 */
import type { IncomingMessage } from "./driver.ts";
import { decodeMessage, type Delivery, type InvalidMessage } from "./consumed_message.ts";
import { DEFAULT_HANDLER_TIMEOUT_MS, DEFAULT_RETRY_BACKOFF_MS, MAX_RETRY_BACKOFF_MS } from "./subscribe_options.ts";
import type { Subscription } from "./_flow.ts";
import type { TraceSpan, Tracing } from "./tracing.ts";
import { delay, type Logger, messageOf } from "./_util.ts";
import { type Timeout, timeouts } from "./_timeouts.ts";

/** What handling a message needs from its consumer. */
export interface Handling {
  readonly groupId: string;
  readonly logger: Logger;
  /** The registry's tracing; undefined without `RegistryOptions.tracing`. */
  readonly tracing: Tracing | undefined;
  /** Attempts whose handler promise is pending: the consumer aborts their signals at close. */
  readonly attempts: Set<Delivery>;
  /** Whether the consumer is closing: retries that stop then were not ended by a revocation. */
  readonly closing: () => boolean;
}
/**
 * Decode, validate and run the handler, with retries after a failure. True
 * once the message is finished with (its offset may be committed); false
 * when this member stopped owning the partition (`owner` aborted: revoked,
 * client died, close) before the handler succeeded. Synchronous (no
 * promise) while nothing is asynchronous: a valid message whose handler
 * returned without a promise.
 */
export function handleMessage(run: Handling, sub: Subscription, message: IncomingMessage, owner: AbortSignal): boolean | Promise<boolean> {
  if (sub.accepts !== undefined && !accepts(run, sub, message)) {
    sub.filtered++;
    return true;
  }
  const decoded = decodeMessage(sub.topic, message);
  if ("invalid" in decoded) return skipInvalid(run, sub, decoded.invalid);
  const { consumed } = decoded;
  const outcome = attempt(run, sub, consumed);
  if (outcome === undefined) return true;
  if (!(outcome instanceof Promise)) return retry(run, sub, consumed, outcome.failure, owner);
  return outcome.then((failed) => failed === undefined ? true : retry(run, sub, consumed, failed.failure, owner));
}

/**
 * One attempt of the handler: `undefined` when it succeeded, `{ failure }`
 * when it threw, else a promise of either. The promise settles at the latest
 * after `handlerTimeoutMs`, with a timeout failure (and the attempt's signal
 * aborted); the handler's own promise may settle later and is then ignored.
 */
function attempt(run: Handling, sub: Subscription, message: Delivery): { failure: unknown } | undefined | Promise<{ failure: unknown } | undefined> {
  const tracing = run.tracing;
  // Traced, the attempt runs in a span of its own, ended when the attempt's outcome is known.
  let span: TraceSpan | undefined;
  let result: void | Promise<void>;
  try {
    if (tracing === undefined) {
      result = sub.handler(message);
    } else {
      const [started, context] = tracing.process(run.groupId, message.raw);
      span = started;
      result = tracing.run(context, sub.handler, message);
    }
  } catch (failure) {
    if (span) tracing!.fail(span, failure);
    return { failure };
  }
  // A handler that returned without a promise is not awaited: no timer, no turn of the microtask queue per message.
  if (result === undefined || result === null || typeof (result as { then?: unknown }).then !== "function") {
    if (span) tracing!.end(span);
    return undefined;
  }
  const timeoutMs = sub.options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
  run.attempts.add(message);
  return new Promise((resolve) => {
    // One per message in flight: a shared list's, not a runtime timer of its own (see _timeouts.ts).
    let timeout: Timeout | undefined;
    const settle = (outcome: { failure: unknown } | undefined): void => {
      if (timeout !== undefined) timeouts.stop(timeout);
      run.attempts.delete(message);
      if (span) {
        // The first outcome ends the span: the timeout's, or the handler's own.
        if (outcome === undefined) tracing!.end(span);
        else tracing!.fail(span, outcome.failure);
        span = undefined;
      }
      resolve(outcome);
    };
    if (timeoutMs !== Infinity) {
      timeout = timeouts.start(timeoutMs, () => {
        const failure = new Error(
          `Handler of topic "${message.topic}" partition ${message.partition} offset ${message.offset} did not finish within handlerTimeoutMs (${timeoutMs} ms)`,
        );
        failure.name = "HandlerTimeoutError";
        message.abort(failure);
        settle({ failure });
      });
    }
    Promise.resolve(result).then(() => settle(undefined), (failure: unknown) => settle({ failure }));
  });
}

/** Whether `message` passes its topic's header filter; one that throws lets it pass (logged). */
function accepts(run: Handling, sub: Subscription, message: IncomingMessage): boolean {
  try {
    return Boolean(sub.accepts!(message.headers));
  } catch (error) {
    run.logger.error("kshare: headerFilter threw; the message is handled as a match", {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      error: messageOf(error),
    });
    return true;
  }
}

async function skipInvalid(run: Handling, sub: Subscription, info: InvalidMessage): Promise<true> {
  const { onInvalid } = sub.options;
  await guard(run, "onInvalid", () =>
    onInvalid ? onInvalid(info) : run.logger.warn("kshare: skipped an invalid message", {
      topic: info.topic,
      partition: info.partition,
      offset: info.offset,
      error: info.error.message,
    }));
  return true;
}

/**
 * The retries after a first failed attempt, with backoff, each failure
 * logged. By default (no finite `retries`) until one succeeds: the message
 * is never skipped. With finite `retries`, then `onError` and the message is
 * skipped. False when this member stopped owning the partition (`owner`
 * aborted) first: nothing is committed, the partition's next owner (or this
 * member again, after a new assignment) handles the message.
 */
async function retry(run: Handling, sub: Subscription, consumed: Delivery, firstFailure: unknown, owner: AbortSignal): Promise<boolean> {
  const { options } = sub;
  const retries = options.retries ?? Infinity;
  const backoffMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  let failure = firstFailure;
  for (let retried = 1; retried <= retries; retried++) {
    if (owner.aborted) return leave(run, consumed);
    const waitMs = Math.min(MAX_RETRY_BACKOFF_MS, backoffMs * 2 ** Math.min(retried - 1, 30));
    run.logger.warn("kshare: handler failed; retrying", {
      topic: consumed.topic,
      partition: consumed.partition,
      offset: consumed.offset,
      attempt: retried,
      retryInMs: waitMs,
      error: messageOf(failure),
    });
    await delay(waitMs, owner);
    if (owner.aborted) return leave(run, consumed);
    const outcome = await attempt(run, sub, consumed.retry());
    if (outcome === undefined) return true;
    failure = outcome.failure;
  }
  if (owner.aborted) return leave(run, consumed);
  await guard(run, "onError", () =>
    options.onError ? options.onError(failure, consumed) : run.logger.error("kshare: handler failed, message skipped", {
      topic: consumed.topic,
      partition: consumed.partition,
      offset: consumed.offset,
      attempts: retries + 1,
      error: messageOf(failure),
    }));
  return true;
}

/** Retries stopped: this member no longer owns the partition. False: the message is not committed. */
function leave(run: Handling, consumed: Delivery): false {
  if (!run.closing()) {
    run.logger.warn("kshare: partition no longer owned (revoked); retries stopped, its next owner gets the message", {
      topic: consumed.topic,
      partition: consumed.partition,
      offset: consumed.offset,
    });
  }
  return false;
}

/** Run an application hook; its own failure is logged, never allowed to stop the loop. */
async function guard(run: Handling, hook: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (error) {
    run.logger.error(`kshare: ${hook} hook threw`, { group: run.groupId, error: messageOf(error) });
  }
}
