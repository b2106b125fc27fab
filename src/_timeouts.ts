/**
 * Many timeouts at the price of a few timers. A publish with a deadline
 * needs a timeout that almost never fires: it is started with the publish and
 * stopped by its delivery report (so are a request body's read and an async
 * handler's run). At tens of thousands of records a second a
 * runtime timer each (`setTimeout`, then `clearTimeout`) is a large part of
 * the work: on Deno its Node-compatible timers took 15% of the gateway's
 * event loop under a streaming flood.
 *
 * So timeouts of one length share a list, in the order they were started,
 * which is the order they come due, and one runtime timer, armed for the
 * first of them. Starting one appends it; stopping one unlinks it; neither
 * touches a timer unless its list was empty or becomes empty. (Node's own
 * timers are built the same way, one list per duration; Deno's and Bun's
 * `setTimeout` pay per call.)
 *
 * @module
 */
import { MAX_TIMER_MS } from "./_util.ts";

/** A timeout started by {@link Timeouts.start}; stop it with {@link Timeouts.stop}. */
export interface Timeout {
  /** Opaque to callers. */
  readonly [timeoutBrand]: true;
}
declare const timeoutBrand: unique symbol;

/** One started timeout: a link of its list while pending, unlinked once fired or stopped. */
interface Entry {
  /** When it comes due, on `performance.now()`'s clock. */
  readonly due: number;
  readonly fire: () => void;
  list: TimeoutList | undefined;
  previous: Entry | undefined;
  next: Entry | undefined;
}

/** The timeouts of one length, oldest (first due) first, with one runtime timer for the first. */
class TimeoutList {
  head: Entry | undefined;
  tail: Entry | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly delayMs: number, readonly owner: Timeouts) {}

  arm(waitMs: number): void {
    this.timer = setTimeout(this.expire, Math.min(Math.max(1, Math.ceil(waitMs)), MAX_TIMER_MS));
  }

  /** Fire every entry that is due, in order; arm the timer again for the first one left. */
  expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    let thrown: { error: unknown } | undefined;
    for (let first = this.head; first !== undefined && first.due <= now; first = this.head) {
      this.unlink(first);
      try {
        first.fire();
      } catch (error) {
        thrown ??= { error };
      }
    }
    if (this.head !== undefined) this.arm(this.head.due - now);
    else this.owner.drop(this);
    // A callback that threw fails like a timer's callback would, once the list is whole again.
    if (thrown) throw thrown.error;
  };

  unlink(entry: Entry): void {
    if (entry.previous) entry.previous.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    else this.tail = entry.previous;
    entry.list = entry.previous = entry.next = undefined;
  }
}

/**
 * Timeouts grouped by length (whole milliseconds). A module keeps one
 * (`timeouts`); a test makes its own.
 */
export class Timeouts {
  readonly #lists = new Map<number, TimeoutList>();

  /**
   * Call `fire` in about `delayMs` (rounded up to a whole millisecond), unless
   * stopped first. `fire` should not throw: one that does is rethrown from
   * the timer once the timeouts due with it have fired.
   */
  start(delayMs: number, fire: () => void): Timeout {
    const delay = Number.isFinite(delayMs) ? Math.max(0, Math.ceil(delayMs)) : MAX_TIMER_MS;
    let list = this.#lists.get(delay);
    if (list === undefined) {
      list = new TimeoutList(delay, this);
      this.#lists.set(delay, list);
    }
    const entry: Entry = { due: performance.now() + delay, fire, list, previous: list.tail, next: undefined };
    if (list.tail) list.tail.next = entry;
    else list.head = entry;
    list.tail = entry;
    if (list.timer === undefined) list.arm(delay);
    return entry as unknown as Timeout;
  }

  /** Stop `timeout`: it will not fire. Harmless once it fired or was stopped. */
  stop(timeout: Timeout): void {
    const entry = timeout as unknown as Entry;
    const list = entry.list;
    if (list === undefined) return;
    list.unlink(entry);
    if (list.head === undefined) {
      clearTimeout(list.timer);
      list.timer = undefined;
      this.drop(list);
    }
  }

  /** Runtime timers armed now: one per length with a timeout pending. */
  get armed(): number {
    let armed = 0;
    for (const list of this.#lists.values()) if (list.timer !== undefined) armed++;
    return armed;
  }

  /** Forget an empty list (its timer is not armed). */
  drop(list: TimeoutList): void {
    if (list.head === undefined && this.#lists.get(list.delayMs) === list) this.#lists.delete(list.delayMs);
  }
}

/** The timeouts of this module graph: publish deadlines, the gateway's body reads, handler timeouts. */
export const timeouts: Timeouts = new Timeouts();
