/**
 * The FFI producer: `rd_kafka_produceva` in, delivery-report events out.
 *
 * Produce: each record is written as produceva's arguments by a
 * {@link ProduceEncoder} (`_produce_encoder.ts`, which says how) and handed to
 * librdkafka, which copies it during the call; no variadic function is
 * called. A producer with a `transactional.id` has its transactional calls in
 * `_producer_transactions.ts`.
 *
 * The hot path (one produce, one delivery report) allocates no BigInt and no
 * buffer: 64-bit fields are read as two 32-bit halves of a number, and each
 * report's `rd_kafka_message_t` is copied into one reused buffer.
 *
 * Delivery: `rd_kafka_conf_set_events(DR | ERROR)` makes librdkafka post
 * delivery reports and errors as events on the main queue, read by a pump
 * (see `_queue.ts` for how it waits). Each record carries a numeric id as its
 * per-message opaque; the report's `_private` field brings it back and
 * settles that record's promise, or, for a record given to `send`, calls its
 * callback: no promise and no delivery report object for those.
 *
 * @module
 */
import type { ClientEvents, DeliveryReport, OutgoingRecord, ProducerClient, ProducerConfig } from "../../driver.ts";
import { ClosedError } from "../../errors.ts";
import { signal } from "../../_util.ts";
import { ERR__PURGE_INFLIGHT, ERR__PURGE_QUEUE, ERR__QUEUE_FULL, ERR__TIMED_OUT } from "../../_kafka_codes.ts";
import { type Done, type Reject, type Resolve, SENT, WaitingRecords } from "../_waiting.ts";
import { type Client, createClient } from "./_client.ts";
import { getI64, getU64, SIZES } from "./_c_memory.ts";
import type { Pointer } from "./_native_types.ts";
import { type EventQueue, openEventQueue } from "./_queue.ts";
import { EVENT_DR, EVENT_ERROR, MESSAGE, PURGE_ALL, RD_KAFKA_PRODUCER } from "./_symbols.ts";
import { ProduceEncoder } from "./_produce_encoder.ts";
import { FfiTransactions } from "./_producer_transactions.ts";
import type { Librdkafka } from "./library.ts";

/** How long a new producer waits for a first broker answer. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Delivery reports read per `rd_kafka_event_message_array` call. */
const DR_BATCH = 1024;

/** Create a producer, resolving once a broker answered (or rejecting after {@link CONNECT_TIMEOUT_MS}). */
export async function createFfiProducer(
  rdkafka: Librdkafka,
  config: ProducerConfig,
  events: ClientEvents,
): Promise<ProducerClient> {
  const client = createClient(rdkafka, RD_KAFKA_PRODUCER, config, EVENT_DR | EVENT_ERROR);
  let producer: FfiProducer;
  try {
    producer = new FfiProducer(client, config, events);
  } catch (error) {
    await client.destroy(0);
    throw error;
  }
  try {
    await client.ping(CONNECT_TIMEOUT_MS);
  } catch (error) {
    await producer.close(0);
    throw error;
  }
  return producer;
}

class FfiProducer implements ProducerClient {
  readonly #client: Client;
  readonly #events: ClientEvents;
  /** The main queue (our reference; released by #queue.close()). */
  readonly #queue: EventQueue;
  /**
   * Records handed to librdkafka and not yet reported, in slots: a record's
   * slot number is its opaque, which its delivery report brings back. A
   * settled record's slot is reused, so the table grows to the most records
   * ever in flight and then allocates nothing per record (a Map keyed by an
   * ever-growing id, plus an object per record, made every record garbage the
   * collector had to promote while it was in flight).
   */
  readonly #resolves: (Resolve | undefined)[] = [];
  readonly #rejects: (Reject | undefined)[] = [];
  readonly #topicNames: string[] = [];
  /** Slots free for reuse. */
  readonly #freeSlots: number[] = [];
  /** Records in slots. */
  #inFlight = 0;
  /** The resolving functions of the promise being created (see #capture). */
  #nextResolve: Resolve | undefined;
  #nextReject: Reject | undefined;
  /** One executor for every produce() promise: no closure per record. */
  readonly #capture = (resolve: Resolve, reject: Reject) => {
    this.#nextResolve = resolve;
    this.#nextReject = reject;
  };
  /** Woken by every batch of delivery reports: flush waits on it. */
  #progress = signal();
  /**
   * Records waiting for room while librdkafka's queue is full, oldest first.
   * After every delivery-report event they are handed over in order until the
   * queue is full again: one failed call per event however many wait.
   */
  readonly #waiting: WaitingRecords;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #pump: Promise<void>;

  /** The scratch buffer of produceva's arguments, and the topic handles they refer to. */
  readonly #encoder: ProduceEncoder;
  /** Out-array for rd_kafka_event_message_array: DR_BATCH message pointers. */
  readonly #messages = new Uint8Array(8 * DR_BATCH);
  readonly #messagesView = new DataView(this.#messages.buffer);
  /** One delivery report's `rd_kafka_message_t`, copied out of its event; reused. */
  readonly #message = new Uint8Array(MESSAGE.size);
  readonly #messageView = new DataView(this.#message.buffer);
  /** Told after each record of produce() settled (see ProducerClient.onSettled). */
  #settled: (() => void) | undefined;
  /** The client's fatal error, once there was one: the reason of every record it gives up on. */
  #fatal: Error | undefined;
  /** Present with a `transactional.id`; close waits until it is idle before freeing the handle. */
  readonly transactions?: FfiTransactions;

  constructor(client: Client, config: ProducerConfig, events: ClientEvents) {
    this.#client = client;
    this.#events = {
      ...events,
      onFatal: (error) => {
        this.#fatal ??= error;
        events.onFatal(error);
      },
    };
    this.#encoder = new ProduceEncoder(client);
    this.#waiting = new WaitingRecords(
      config,
      (record, resolve, reject) => this.#enqueue(record, resolve, reject),
      () => client.error(ERR__QUEUE_FULL, "Local: Queue full: no room before the record's deadline or the delivery timeout"),
      () => this.#settled?.(),
    );
    // rd_kafka_queue_get_main returns a new reference to rk's main queue.
    this.#queue = openEventQueue(client.rdkafka, client.c.rd_kafka_queue_get_main(client.rk)!);
    this.#pump = this.#run();
    if (config.properties["transactional.id"] !== undefined) this.transactions = new FfiTransactions(client, () => this.#closed);
  }

  /** Read the main queue until close: one event at a time, each freed after use. */
  async #run(): Promise<void> {
    while (!this.#closed) {
      const event = await this.#queue.next(-1);
      if (event === null) continue;
      try {
        this.#handle(event);
      } catch (error) {
        this.#events.onError?.(error as Error);
      } finally {
        this.#client.c.rd_kafka_event_destroy(event);
      }
      // Only now: the reported messages count against the queue until their event is destroyed.
      if (this.#waiting.length > 0) this.#waiting.drain();
    }
  }

  #handle(event: Pointer): void {
    const { c, native } = this.#client;
    const type = c.rd_kafka_event_type(event);
    if (type === EVENT_DR) {
      // The messages belong to the event; every field is copied out before it is destroyed.
      for (;;) {
        const count = c.rd_kafka_event_message_array(event, this.#messages, SIZES[DR_BATCH]!);
        for (let i = 0; i < count; i++) this.#report(native.pointerAt(getU64(this.#messagesView, i * 8))!);
        if (count < DR_BATCH) break;
      }
      this.#progress.resolve();
      this.#progress = signal();
    } else if (type === EVENT_ERROR) {
      this.#client.errorEvent(event, this.#events);
    }
  }

  /** Settle the record of one delivery report (`message` owned by its event). */
  #report(message: Pointer): void {
    const { c, native } = this.#client;
    native.copyInto(message, this.#message);
    const fields = this.#messageView;
    const slot = getI64(fields, MESSAGE.opaque);
    const resolve = this.#resolves[slot];
    if (resolve === undefined) return;
    const reject = this.#rejects[slot]!;
    const topic = this.#topicNames[slot]!;
    this.#release(slot);
    const err = fields.getInt32(MESSAGE.err, true);
    // A dead client's records are purged when it is closed: the fatal error is why.
    const purged = err === ERR__PURGE_QUEUE || err === ERR__PURGE_INFLIGHT;
    const error = err === 0 ? undefined : purged && this.#fatal !== undefined ? this.#fatal : this.#client.error(err);
    // A record of send(): its `done` hears the outcome; it is none of produce()'s, which onSettled counts.
    if (resolve === SENT) return (reject as Done)(error, topic);
    if (error !== undefined) {
      reject(error, topic);
    } else {
      const partition = fields.getInt32(MESSAGE.partition, true);
      const offset = getI64(fields, MESSAGE.offset);
      const timestamp = Number(c.rd_kafka_message_timestamp(message, null));
      resolve(timestamp >= 0 ? { topic, partition, offset, timestamp } : { topic, partition, offset });
    }
    this.#settled?.();
  }

  /** A free slot for a record about to be handed to librdkafka. */
  #acquire(topic: string, resolve: Resolve, reject: Reject): number {
    const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()! : this.#resolves.length;
    this.#resolves[slot] = resolve;
    this.#rejects[slot] = reject;
    this.#topicNames[slot] = topic;
    this.#inFlight++;
    return slot;
  }

  /** Empty `slot` (its record settles now) for reuse. */
  #release(slot: number): void {
    this.#resolves[slot] = undefined;
    this.#rejects[slot] = undefined;
    this.#freeSlots.push(slot);
    this.#inFlight--;
  }

  produce(record: OutgoingRecord): Promise<DeliveryReport> {
    if (this.#closed) {
      this.#settled?.();
      return Promise.reject(new ClosedError("The producer"));
    }
    const promise = new Promise<DeliveryReport>(this.#capture);
    const resolve = this.#nextResolve!;
    const reject = this.#nextReject!;
    this.#nextResolve = this.#nextReject = undefined;
    const refused = this.#waiting.submit(record, resolve, reject);
    if (refused !== undefined) {
      reject(refused, record.topic);
      this.#settled?.();
    }
    return promise;
  }

  onSettled(settled: () => void): void {
    this.#settled = settled;
  }

  send(record: OutgoingRecord, done: Done): void {
    if (this.#closed) throw new ClosedError("The producer");
    // `done` is the caller's one callback for all its records: the slot keeps it, nothing is allocated.
    const refused = this.#waiting.submit(record, SENT, done);
    if (refused !== undefined) throw refused;
  }

  /**
   * Hand one record to librdkafka. False when its queue is full (back-pressure:
   * the caller keeps the record); true once it is queued; librdkafka's error
   * when it refused the record (nothing settled).
   */
  #enqueue(record: OutgoingRecord, resolve: Resolve, reject: Reject): boolean | Error {
    const { c, rk } = this.#client;
    const slot = this.#acquire(record.topic, resolve, reject);
    let count: number;
    try {
      count = this.#encoder.encode(record, slot);
    } catch (error) {
      // Never leave a slot behind: flush() waits for every slot to empty.
      this.#release(slot);
      return error as Error;
    }
    // An error returned by produceva is ours to free: destroyed here or by takeError.
    const error = c.rd_kafka_produceva(rk, this.#encoder.vector, SIZES[count] ?? count);
    if (error === null) return true;
    this.#release(slot);
    if (c.rd_kafka_error_code(error) === ERR__QUEUE_FULL) {
      c.rd_kafka_error_destroy(error);
      return false;
    }
    return this.#client.takeError(error)!;
  }

  async flush(timeoutMs: number): Promise<void> {
    // With delivery reports as events rd_kafka_flush cannot serve them; with
    // a 0 timeout it only wakes the brokers to send what lingers. The wait
    // happens here, on delivery reports.
    this.#client.c.rd_kafka_flush(this.#client.rk, 0);
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight > 0 || this.#waiting.length > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw this.#client.error(
          ERR__TIMED_OUT,
          `Flush timed out with ${this.#inFlight + this.#waiting.length} records undelivered`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#progress.promise, new Promise((r) => (timer = setTimeout(r, remaining)))]);
      clearTimeout(timer);
    }
  }

  ping(timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("The producer"));
    // A topic it produced to: asked about, it reaches that partition's leader, not the controller (see _client.ts).
    return this.#client.ping(timeoutMs, this.#encoder.knownTopic());
  }

  close(timeoutMs: number): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    try {
      await this.flush(timeoutMs);
    } catch {
      // Records still queued after the bound are failed below.
    }
    this.#closed = true;
    // At once: no expiry timer may hand a waiting record to the closing client.
    this.#waiting.close(new ClosedError("The producer"));
    // A transactional call still uses rk (on a worker thread, or between its slices).
    await this.transactions?.idle();
    const { c, rk } = this.#client;
    // Drop what is still queued or in flight: rd_kafka_destroy then returns promptly.
    c.rd_kafka_purge(rk, PURGE_ALL);
    await this.#queue.close(); // ends the pump's wait
    await this.#pump;
    for (let slot = 0; slot < this.#rejects.length; slot++) {
      const reject = this.#rejects[slot];
      if (reject === undefined) continue;
      const awaited = this.#resolves[slot] !== SENT;
      this.#release(slot);
      reject(new ClosedError("The producer"), this.#topicNames[slot]!);
      if (awaited) this.#settled?.();
    }
    this.#progress.resolve();
    // Application topic references go before the client: the purged records no longer use them.
    this.#encoder.destroyTopics();
    await this.#client.destroy(0);
  }
}
