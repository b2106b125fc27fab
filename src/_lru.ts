/**
 * Which live security contexts the registry closes: the least recently used
 * idle one when a new context needs room under `maxContexts`, and any one
 * idle for `idleTimeoutMs`. Knows nothing of Kafka: an entry says whether it
 * is busy and when its last work ended, and the owner's `evict` closes it.
 *
 * An entry holds its place from {@link Lru.admit} until the close `evict`
 * started has settled, so the clients (and their librdkafka threads) of the
 * entries held and closing together stay within the bound, unless every
 * entry is busy at once (then see {@link Lru.admit}).
 *
 * @module
 */
import { MAX_TIMER_MS, signal } from "./_util.ts";

/** What the LRU reads of an entry. */
export interface LruEntry {
  /** Work in flight (a publish, a connect, an open consumer): a busy entry is never evicted. */
  readonly busy: boolean;
  /** When its last work ended (`Date.now()`): it is idle since then. */
  readonly lastUsed: number;
}

/** Why an entry was evicted: to make room under the bound, or idle past the timeout. */
export type EvictionReason = "bound" | "idle";

/** Options of {@link Lru}. */
export interface LruOptions<E> {
  /** Most entries held (and closing) at once; `Infinity`: no bound. */
  readonly max: number;
  /** An entry idle this long is evicted; `Infinity`: never. */
  readonly idleTimeoutMs: number;
  /**
   * Close `entry`'s clients. The entry has left the LRU when this is called;
   * its place is free once the promise settles. Must not reject.
   */
  readonly evict: (entry: E, reason: EvictionReason) => Promise<void>;
}

/** Entries in the order their last work ended (least recent first), under a bound and an idle timeout. */
export class Lru<E extends LruEntry> {
  readonly #max: number;
  readonly #idleTimeoutMs: number;
  readonly #evict: (entry: E, reason: EvictionReason) => Promise<void>;
  /** Held entries, least recently idle first: {@link idle} moves an entry to the end. */
  readonly #held = new Set<E>();
  /** Entries whose eviction has not settled yet: they still count against the bound. */
  #closing = 0;
  /** Resolved (and replaced) whenever an eviction settles: a place may be free. */
  #freed = signal();
  #admitting = new Map<E, Promise<boolean>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: LruOptions<E>) {
    this.#max = options.max;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#evict = options.evict;
  }

  /** Entries held plus entries still closing. */
  get size(): number {
    return this.#held.size + this.#closing;
  }

  /** Whether `entry` holds a place. */
  holds(entry: E): boolean {
    return this.#held.has(entry);
  }

  /**
   * Hold `entry` (once, however many callers), first making room: while the
   * LRU is full, the least recently used idle entry is evicted and its close
   * awaited, or a close already under way is awaited. When every entry is
   * busy and none is closing, `entry` is held over the bound at once (a caller
   * is never made to wait for other callers' work, nor refused) and resolves
   * `false`; the excess goes as entries go idle ({@link idle}).
   */
  admit(entry: E): Promise<boolean> {
    if (this.#held.has(entry)) return Promise.resolve(true);
    let admitting = this.#admitting.get(entry);
    if (!admitting) {
      admitting = this.#admit(entry).finally(() => this.#admitting.delete(entry));
      this.#admitting.set(entry, admitting);
    }
    return admitting;
  }

  async #admit(entry: E): Promise<boolean> {
    while (!this.#stopped && this.size >= this.#max) {
      const victim = this.#leastRecentIdle();
      if (victim) await this.#close(victim, "bound");
      else if (this.#closing > 0) await this.#freed.promise;
      else {
        this.#held.add(entry);
        return false;
      }
    }
    this.#held.add(entry);
    return true;
  }

  /**
   * `entry`'s work has ended: it becomes the most recently used. Over the
   * bound (every entry was busy at an admission), the least recently used
   * idle entries go until the bound holds again.
   */
  idle(entry: E): void {
    if (this.#stopped || !this.#held.delete(entry)) return;
    this.#held.add(entry);
    while (this.#held.size > this.#max) {
      const victim = this.#leastRecentIdle();
      if (!victim) break;
      void this.#close(victim, "bound");
    }
    this.#arm();
  }

  /** Let `entry` go without evicting it: it holds no client any more. */
  release(entry: E): void {
    this.#held.delete(entry);
  }

  /** Evict nothing from now on and stop the idle timer (the owner is closing everything itself). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #leastRecentIdle(): E | undefined {
    for (const entry of this.#held) if (!entry.busy) return entry;
    return undefined;
  }

  #close(entry: E, reason: EvictionReason): Promise<void> {
    this.#held.delete(entry);
    this.#closing++;
    const settled = () => {
      this.#closing--;
      const freed = this.#freed;
      this.#freed = signal();
      freed.resolve();
    };
    return this.#evict(entry, reason).then(settled, settled);
  }

  /** One timer for all entries, due when the longest idle one times out; none while nothing is idle. */
  #arm(): void {
    if (this.#timer !== undefined || this.#stopped || this.#idleTimeoutMs === Infinity) return;
    let oldest = Infinity;
    for (const entry of this.#held) if (!entry.busy && entry.lastUsed < oldest) oldest = entry.lastUsed;
    if (oldest === Infinity) return;
    // At least 1 ms: should the clock and the sweep ever disagree, the timer idles instead of spinning.
    const wait = Math.min(MAX_TIMER_MS, Math.max(1, oldest + this.#idleTimeoutMs - Date.now()));
    this.#timer = setTimeout(this.#sweep, wait);
    unrefTimer(this.#timer);
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    for (const entry of [...this.#held]) {
      if (!entry.busy && now - entry.lastUsed >= this.#idleTimeoutMs) void this.#close(entry, "idle");
    }
    this.#arm();
  };
}

/**
 * The idle timer must not keep a process alive that has nothing else to do:
 * `unref()` where the timer is an object (Node, Bun, Deno's Node timers),
 * `Deno.unrefTimer` where it is a number.
 */
function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "object" && timer !== null) {
    (timer as { unref?: () => void }).unref?.();
  } else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno?.unrefTimer?.(timer);
  }
}
