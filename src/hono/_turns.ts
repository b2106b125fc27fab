/**
 * Turns of the streaming work of one `publishRoutes` app. Every streaming
 * request's publishing and answer writing runs in short turns, one turn per
 * task of the event loop, in the order they were asked for: round robin
 * between streams, whichever tenant they belong to. Between two turns the
 * event loop handles I/O, so another tenant's single-record request, a
 * `/healthz` or a burst of delivery reports waits for at most one turn,
 * however many streams are under way.
 *
 * @module
 */

/**
 * Round-robin turns of about `budgetMs` each, one per event-loop task; owned
 * by one `publishRoutes` app. While a request that is not (or not yet known
 * to be) a stream is under way, or one ended less than {@link RECENT_MS}
 * ago, turns last an eighth of that, and each waits for a timer (about a
 * millisecond) rather than only for the I/O in between: such a request waits
 * between turns several times (its arrival, its body, its delivery report),
 * so each wait is kept short, and the streams leave most of the process's
 * time to it, and to the librdkafka threads that carry its record. Streams
 * alone get whole turns, back to back.
 */
export class Turns {
  readonly budgetMs: number;
  /** Requests under way that are not streams (see {@link urgent}). */
  #urgent = 0;
  /** When the last of them ended (on `#now`'s clock). */
  #lastEnded = -Infinity;
  #waiting: Array<() => void> = [];
  #scheduled = false;
  /** When the current turn ends (on `#now`'s clock); in the past outside any turn. */
  #deadline = 0;
  readonly #now: () => number;
  readonly #defer: Defer;

  /**
   * Turns of `budgetMs`; `now` is the clock in ms, `defer` runs the next
   * turn (a test's own, else `performance.now` and {@link deferTurn}).
   */
  constructor(budgetMs: number, now: () => number = () => performance.now(), defer: Defer = deferTurn) {
    this.budgetMs = budgetMs;
    this.#now = now;
    this.#defer = defer;
  }

  /**
   * Resolves in a later task, when the caller's turn comes: after the turns
   * asked for before it. The turn lasts until {@link over}, then the caller
   * asks for another.
   */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  /**
   * Count a request under way that is not (yet known to be) a stream: turns
   * are short until the function returned is called with whether it was a
   * stream after all (the first call counts; more are harmless).
   */
  urgent(): (wasStream: boolean) => void {
    this.#urgent++;
    let ended = false;
    return (wasStream) => {
      if (ended) return;
      ended = true;
      this.#urgent--;
      if (!wasStream) this.#lastEnded = this.#now();
    };
  }

  /** Whether the current turn's time is spent; true outside any turn. */
  over(): boolean {
    return this.#now() >= this.#deadline;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(this.#next, this.#short(this.#now()));
  }

  /** Whether turns are short now: a request that is not a stream is under way or just ended. */
  #short(now: number): boolean {
    return this.#urgent > 0 || now - this.#lastEnded < RECENT_MS;
  }

  #next = (): void => {
    this.#scheduled = false;
    const resolve = this.#waiting.shift();
    if (resolve === undefined) return;
    // The next turn's task is queued before this one runs: due when this one ends, with I/O handled between.
    if (this.#waiting.length > 0) this.#schedule();
    const now = this.#now();
    this.#deadline = now + (this.#short(now) ? this.budgetMs * SHORT_TURN : this.budgetMs);
    resolve();
  };
}

/** How long after a request that was not a stream turns stay short: its client's next request is likely. */
const RECENT_MS = 100;

/**
 * A short turn's share of a whole one. With the pause of about a millisecond
 * before each, streams get an eighth of the event loop or less while short
 * turns last (measured on Bun: the quiet tenant's p99 under a flood 3.2-3.4 ms
 * against 3.8-3.9 ms with a quarter; see bench/RESULTS.md).
 */
const SHORT_TURN = 1 / 8;

/** Runs the next turn in a later task; `pause`: after a timer, not only after the I/O polled in between. */
export type Defer = (run: () => void, pause: boolean) => void;

const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;
/**
 * Runs `run` in a later task, after the event loop polled I/O. Node and Bun
 * run an immediate after the I/O of the current loop iteration; Deno runs its
 * immediates before polling again (a chain of them starves sockets), so there
 * a timer is the task that lets I/O in (about 2 ms a hop). With `pause`, a
 * timer of 1 ms on every runtime.
 */
export const deferTurn: Defer = immediate !== undefined && !("Deno" in globalThis)
  ? (run, pause) => pause ? setTimeout(run, 1) : immediate(run)
  : (run, pause) => setTimeout(run, pause ? 1 : 0);
