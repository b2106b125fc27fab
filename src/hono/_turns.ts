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

/** Round-robin turns of about `budgetMs` each, one per event-loop task; owned by one `publishRoutes` app. */
export class Turns {
  readonly budgetMs: number;
  #waiting: Array<() => void> = [];
  #scheduled = false;
  /** When the current turn ends (performance.now()); in the past outside any turn. */
  #deadline = 0;

  constructor(budgetMs: number) {
    this.budgetMs = budgetMs;
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

  /** Whether the current turn's time is spent; true outside any turn. */
  over(): boolean {
    return performance.now() >= this.#deadline;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    later(this.#next);
  }

  #next = (): void => {
    this.#scheduled = false;
    const resolve = this.#waiting.shift();
    if (resolve === undefined) return;
    // The next turn's task is queued before this one runs: due when this one ends, with I/O handled between.
    if (this.#waiting.length > 0) this.#schedule();
    this.#deadline = performance.now() + this.budgetMs;
    resolve();
  };
}

const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;
/**
 * Runs `run` in a later task, after the event loop polled I/O. Node and Bun
 * run an immediate after the I/O of the current loop iteration; Deno runs its
 * immediates before polling again (a chain of them starves sockets), so there
 * a timer is the task that lets I/O in.
 */
const later: (run: () => void) => void = immediate !== undefined && !("Deno" in globalThis) ? (run) => immediate(run) : (run) => setTimeout(run, 0);
