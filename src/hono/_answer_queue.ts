/**
 * The answers of one streaming produce request, in request order: filled by
 * its publishing loop as records are framed, drained by its writer as they
 * settle.
 *
 * @module
 */
import type { ErrorOutcome } from "./errors.ts";
import type { RecordOutcome } from "./responses.ts";

/** The outcome of a record whose publish rejected, which `produce` never lets happen. */
const UNANSWERED: ErrorOutcome = { status: 500, body: { error_code: 500, message: "Internal Server Error" } };

/**
 * The outcomes of one streaming request, in order: filled by its publishing
 * loop, drained by its writer. An outcome is dropped once handed out, so a
 * written answer is not held until the request ends.
 */
export class AnswerQueue {
  /** Each pushed record's slot, filled when its outcome settles. */
  #slots: Array<{ outcome: RecordOutcome | undefined }> = [];
  #head = 0;
  #ended = false;
  #wake: (() => void) | undefined;
  /** Pushed outcomes not settled yet. */
  #unsettled = 0;
  /** The publishing loop, waiting for fewer than `limit` unsettled outcomes (see {@link below}). */
  #room: { limit: number; resolve: () => void } | undefined;

  push(answer: Promise<RecordOutcome>): void {
    const slot: { outcome: RecordOutcome | undefined } = { outcome: undefined };
    this.#slots.push(slot);
    this.#unsettled++;
    const fill = (outcome: RecordOutcome) => {
      slot.outcome = outcome;
      this.#unsettled--;
      const room = this.#room;
      if (room !== undefined && this.#unsettled < room.limit) {
        this.#room = undefined;
        room.resolve();
      }
      this.#notify();
    };
    // `produce` never rejects; if it did, this record would still get a line rather than end the stream.
    answer.then(fill, () => fill(UNANSWERED));
  }

  /**
   * Undefined when fewer than `limit` pushed outcomes are unsettled, else a
   * promise resolved once that is so: the publishing loop's window, which
   * bounds what one stream keeps in flight (and alive) at once.
   */
  below(limit: number): Promise<void> | undefined {
    if (this.#unsettled < limit) return undefined;
    return new Promise((resolve) => (this.#room = { limit, resolve }));
  }

  /** No outcome follows. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** Resolves true once the next outcome has settled; false once every outcome was handed out and the queue ended. */
  async settled(): Promise<boolean> {
    while (this.#slots[this.#head]?.outcome === undefined) {
      if (this.#ended && this.#head >= this.#slots.length) return false;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return true;
  }

  /** The next outcome if it has settled (handed out once), else undefined. */
  shift(): RecordOutcome | undefined {
    const outcome = this.#slots[this.#head]?.outcome;
    if (outcome === undefined) return undefined;
    this.#slots[this.#head++] = undefined!;
    if (this.#head > 1024 && this.#head * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
    return outcome;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
