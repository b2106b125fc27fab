/**
 * Records waiting for room in librdkafka's queue: the one back-pressure
 * queue of every driver's producer.
 *
 * librdkafka refuses a record with `ERR__QUEUE_FULL` while its queue holds
 * `queue.buffering.max.messages` records or `queue.buffering.max.kbytes`.
 * The driver then keeps the record here, and every later record behind it
 * (a record that waits is never overtaken, so the order of a partition is
 * the order of the publishes), and hands them over oldest first whenever
 * delivery reports freed room ({@link WaitingRecords.drain}).
 *
 * Bounds: at most `maxWaitingRecords` records and `maxWaitingBytes` bytes
 * wait; past either, a record is refused at once with {@link QueueFullError}.
 * A record waits at most until its own `deadline` and the delivery timeout
 * (`message.timeout.ms`, counted from when it began to wait): then it is
 * dropped, never handed over, and rejected.
 *
 * Threads: everything runs on the JavaScript thread. Ownership: a waiting
 * record (and its bytes) belongs to this queue until it is handed over or
 * rejected; the driver's handover copies what librdkafka needs.
 *
 * @module
 */
import type { DeliveryReport, OutgoingRecord, Payload, ProducerConfig } from "../driver.ts";
import { QueueFullError } from "../errors.ts";

/** Default of `maxWaitingRecords`: as many as librdkafka's own queue holds by default. */
export const DEFAULT_MAX_WAITING_RECORDS = 100_000;
/** Default of `maxWaitingBytes`: 64 MiB. */
export const DEFAULT_MAX_WAITING_BYTES = 64 * 1024 * 1024;

/** Settles a record's produce with its delivery report. */
export type Resolve = (report: DeliveryReport) => void;
/** Settles a record's produce with an error; `topic` is the record's. */
export type Reject = (error: Error, topic: string) => void;
/**
 * The callback of `ProducerClient.send`: `undefined` once the record was
 * delivered, else its error. Kept as the record's {@link Reject}, beside the
 * resolve {@link SENT}.
 */
export type Done = (error: Error | undefined, topic: string) => void;

/**
 * The resolve of a record given to `send`, never called: a driver that finds
 * it settles a delivered record with `(reject as Done)(undefined, topic)`,
 * building no delivery report.
 */
export const SENT: Resolve = () => {};

/**
 * Hand one record to librdkafka. False when its queue is full: the record
 * stays with the caller, nothing was settled. True when the record is
 * librdkafka's (settled by its delivery report). An error when librdkafka
 * refused it: nothing was settled, the caller settles it with that error.
 */
export type Handover = (record: OutgoingRecord, resolve: Resolve, reject: Reject) => boolean | Error;

interface Waiter {
  readonly record: OutgoingRecord;
  readonly resolve: Resolve;
  readonly reject: Reject;
  /** Bytes counted against `maxWaitingBytes`. */
  readonly bytes: number;
  /** Past this (`Date.now()` clock) the record is dropped: its own deadline or the delivery timeout, the earlier. */
  readonly deadline: number;
}

/** Bytes of a record held in JavaScript: key, value, header names and values (text: one per UTF-16 unit). */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = payloadBytes(record.key) + payloadBytes(record.value);
  if (record.headers) { for (const [name, value] of record.headers) bytes += name.length + value.length; }
  return bytes;
}

function payloadBytes(payload: Payload | null | undefined): number {
  return payload == null ? 0 : payload.length;
}

/** A bound given in a {@link ProducerConfig}: a number ≥ 0 (`Infinity`: none), else a `TypeError`. */
function bound(config: ProducerConfig, name: "maxWaitingRecords" | "maxWaitingBytes", fallback: number): number {
  const value = config[name] ?? fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new TypeError(`${name} must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

/** The waiting records of one producer, oldest first. */
export class WaitingRecords {
  readonly #handover: Handover;
  readonly #timedOut: () => Error;
  readonly #dropped: (() => void) | undefined;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #deliveryTimeoutMs: number;
  /** Oldest first from #head; entries before #head are spent. */
  #waiters: (Waiter | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  /** One timer, for the oldest record's deadline; #timed is that record. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timed: Waiter | undefined;
  /** Set by {@link close}: every waiting and later record is rejected with it. */
  #closed: Error | undefined;

  /**
   * `handover` gives a record to librdkafka; `timedOut` is the error of a
   * record that found no room before the delivery timeout; `dropped` is
   * called after each awaited record (not {@link SENT}) it rejects. Throws a
   * `TypeError` for a bound that is not a number ≥ 0.
   */
  constructor(config: ProducerConfig, handover: Handover, timedOut: () => Error, dropped?: () => void) {
    this.#handover = handover;
    this.#timedOut = timedOut;
    this.#dropped = dropped;
    this.#maxRecords = bound(config, "maxWaitingRecords", DEFAULT_MAX_WAITING_RECORDS);
    this.#maxBytes = bound(config, "maxWaitingBytes", DEFAULT_MAX_WAITING_BYTES);
    const props = config.properties;
    this.#deliveryTimeoutMs = Number(props["message.timeout.ms"] ?? props["delivery.timeout.ms"] ?? 300_000);
  }

  /** Records waiting. */
  get length(): number {
    return this.#waiters.length - this.#head;
  }

  /**
   * Produce `record`: hand it over at once when nothing waits and librdkafka
   * has room; otherwise keep it behind the records waiting. Returns the
   * reason it was refused at once, nothing settled (the caller settles it, or
   * throws it for `send`): {@link QueueFullError} past a bound, the close
   * error, the deadline passed already, librdkafka's refusal. A record past
   * its deadline is not handed over.
   */
  submit(record: OutgoingRecord, resolve: Resolve, reject: Reject): Error | undefined {
    if (this.#closed) return this.#closed;
    const own = record.deadline;
    if (own !== undefined && Date.now() >= own) return this.#timedOut();
    if (this.#waiters.length === this.#head) {
      const handed = this.#handover(record, resolve, reject);
      if (handed === true) return undefined;
      if (handed !== false) return handed;
    }
    const bytes = recordBytes(record);
    if (this.length >= this.#maxRecords) return new QueueFullError(record.topic, "maxWaitingRecords", this.#maxRecords);
    if (this.#bytes + bytes > this.#maxBytes) return new QueueFullError(record.topic, "maxWaitingBytes", this.#maxBytes);
    const expires = Date.now() + this.#deliveryTimeoutMs;
    this.#waiters.push({ record, resolve, reject, bytes, deadline: own !== undefined && own < expires ? own : expires });
    this.#bytes += bytes;
    if (this.#timer === undefined) this.#arm();
    return undefined;
  }

  /**
   * Hand waiting records over, oldest first, until librdkafka's queue is full
   * again; drop those past their deadline. Call when delivery reports freed
   * room: one refused handover per call, however many records wait.
   */
  drain(): void {
    const now = Date.now();
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head]!;
      if (this.#closed) this.#drop(waiter, this.#closed);
      else if (now >= waiter.deadline) this.#drop(waiter, this.#timedOut());
      else {
        const handed = this.#handover(waiter.record, waiter.resolve, waiter.reject);
        if (handed === false) break;
        if (handed !== true) this.#drop(waiter, handed);
      }
      this.#waiters[this.#head++] = undefined; // let it be collected
      this.#bytes -= waiter.bytes;
    }
    if (this.#head === this.#waiters.length) {
      this.#waiters = [];
      this.#head = 0;
      this.#bytes = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
    this.#arm();
  }

  /** Reject a waiting record that will not be handed over. */
  #drop(waiter: Waiter, error: Error): void {
    waiter.reject(error, waiter.record.topic);
    if (waiter.resolve !== SENT) this.#dropped?.();
  }

  /** Reject every waiting record, and every later one, with `error`. */
  close(error: Error): void {
    this.#closed ??= error;
    this.drain();
  }

  /**
   * Set the one timer for the oldest record's deadline (none when nothing
   * waits). A later record with an earlier deadline of its own is dropped
   * when it comes first; its publish has been rejected by the core's timer.
   */
  #arm(): void {
    const oldest = this.#waiters[this.#head];
    if (oldest === this.#timed && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timed = oldest;
    if (oldest === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.drain();
    }, Math.max(0, oldest.deadline - Date.now()));
  }
}
