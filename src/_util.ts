/** Helpers shared by the core; of them only {@link Logger} is public (exported by `mod.ts`). */

/**
 * Where kshare reports what it skipped or could not do. `console` fits.
 *
 * @example One JSON line per event
 * ```ts
 * import { createRegistry, type Logger } from "@kshare/kshare";
 * const jsonLogger: Logger = {
 *   warn: (message, fields) => console.log(JSON.stringify({ level: "warn", message, ...fields })),
 *   error: (message, fields) => console.log(JSON.stringify({ level: "error", message, ...fields })),
 * };
 * const kafka = createRegistry({ logger: jsonLogger });
 * ```
 */
export interface Logger {
  /** Something was skipped or retried; the process goes on. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed and needs attention. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The longest delay a timer takes on every runtime (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A promise with its resolve function, for one-shot wake-ups. */
export function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Wait `ms`, or less if `cancel` resolves or aborts first. The timer is
 * always cleared, so a stopped component leaves no timer behind.
 *
 * Give a long-lived cancel (a component's close) as an `AbortSignal`: its
 * listener is removed when the wait ends, so any number of waits leave nothing
 * on it. A promise cannot drop a reaction: each wait on one stays attached to
 * it until it settles, so a promise suits only a cancel that settles soon.
 */
export function delay(ms: number, cancel?: Promise<unknown> | AbortSignal): Promise<void> {
  if (cancel === undefined || cancel instanceof Promise) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    return Promise.race(cancel ? [elapsed, cancel.then(() => undefined)] : [elapsed]).finally(() => clearTimeout(timer));
  }
  if (cancel.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const end = (): void => {
      clearTimeout(timer);
      cancel.removeEventListener("abort", end);
      abortListeners--;
      resolve();
    };
    const timer = setTimeout(end, Math.min(ms, MAX_TIMER_MS));
    cancel.addEventListener("abort", end, { once: true });
    abortListeners++;
  });
}

/** Listeners {@link delay} holds on abort signals now. */
let abortListeners = 0;

/** How many waits of {@link delay} listen on an abort signal now: 0 when none is in progress (for tests: no wait leaves a listener behind). */
export function pendingAbortListeners(): number {
  return abortListeners;
}

const setImmediateOrNot = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;

/**
 * Resolve after the event loop had a turn (timers, I/O): a loop whose awaits
 * all settle at once runs on microtasks alone and would starve everything
 * else. `setImmediate` where the runtime has it (Node, Deno, Bun), else a
 * timer.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediateOrNot ? setImmediateOrNot(resolve) : setTimeout(resolve, 0));
}

/** Exponential backoff with full jitter: a random delay in [base/2, base] where base = initial * 2^(attempt-1), capped. */
export function backoff(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return base / 2 + Math.random() * (base / 2);
}

/** Message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A plain object (literal or null prototype): nothing inherited from a class (a getter, a field, a Map's entries). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * `bytes` as standard base64 (with padding). `btoa` takes a string of
 * Latin-1 characters: the bytes become one such string, a chunk at a time, so
 * that no call spreads more arguments than an engine accepts.
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

/**
 * Resolves once `promise` settled or `signal` aborted, whichever is first.
 * Its listener on the (long-lived) signal is removed when it resolves.
 */
export function settledOrAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const end = (): void => {
      signal.removeEventListener("abort", end);
      resolve();
    };
    signal.addEventListener("abort", end, { once: true });
    promise.then(end, end);
  });
}
