/**
 * The FFI producer: `rd_kafka_produceva` in, delivery-report events out.
 *
 * Produce: each record becomes an array of `rd_kafka_vu_t` (72 bytes each)
 * written into one reusable scratch buffer together with the bytes they point
 * to (key, value, header names and values), then handed to
 * `rd_kafka_produceva` with `RD_KAFKA_MSG_F_COPY`: librdkafka copies all of it
 * during the call, so the scratch buffer is free again when it returns. The
 * array has no `RD_KAFKA_VTYPE_END` entry (produceva takes a count and
 * rejects END as an invalid argument); no variadic function is called. The
 * topic goes as an `rd_kafka_topic_t` handle kept per topic name
 * (`RD_KAFKA_VTYPE_RKT`): by name, produceva would look the topic up under
 * the client's write lock for every record, contending with its broker
 * threads.
 *
 * The hot path (one produce, one delivery report) allocates no BigInt and no
 * buffer: 64-bit fields are written and read as two 32-bit halves of a
 * number, and each report's `rd_kafka_message_t` is copied into one reused
 * buffer.
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
import type {
  ClientEvents,
  DeliveryReport,
  OutgoingRecord,
  Payload,
  ProducerClient,
  ProducerConfig,
  ProducerTransactions,
  TopicPartitionOffset,
} from "../../driver.ts";
import { ClosedError } from "../../errors.ts";
import { signal, yieldToEventLoop } from "../../_util.ts";
import { ERR__PURGE_INFLIGHT, ERR__PURGE_QUEUE, ERR__QUEUE_FULL, ERR__TIMED_OUT } from "../../_kafka_codes.ts";
import { type Done, type Reject, type Resolve, SENT, WaitingRecords } from "../_waiting.ts";
import { type Client, createClient } from "./_client.ts";
import { consumerGroupMetadata } from "./_consumer.ts";
import { cString, getI64, getU64, setI64, SIZES } from "./_c_memory.ts";
import type { Pointer } from "./_native_types.ts";
import { type EventQueue, openEventQueue } from "./_queue.ts";
import {
  EVENT_DR,
  EVENT_ERROR,
  MESSAGE,
  MSG_F_COPY,
  PURGE_ALL,
  RD_KAFKA_PRODUCER,
  VTYPE_HEADER,
  VTYPE_KEY,
  VTYPE_MSGFLAGS,
  VTYPE_OPAQUE,
  VTYPE_PARTITION,
  VTYPE_RKT,
  VTYPE_TIMESTAMP,
  VTYPE_TOPIC,
  VTYPE_VALUE,
  VU_SIZE,
} from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

/** How long a new producer waits for a first broker answer. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Delivery reports read per `rd_kafka_event_message_array` call. */
const DR_BATCH = 1024;
/**
 * Topic handles kept per producer at most. Beyond it, records of other
 * topics go by name (slower, same result), so a producer writing to
 * ever-new topic names holds a bounded number of handles.
 */
const MAX_TOPIC_HANDLES = 1024;
/**
 * Where a transactional call cannot run off the JavaScript thread (Bun), it
 * waits at most this long per call, then yields to the event loop (delivery
 * reports are served meanwhile) and resumes: librdkafka's transactional
 * calls are resumable after a retriable timeout.
 */
const TXN_SLICE_MS = 50;

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

/** Bytes `payload` takes at most in UTF-8 (a UTF-16 unit encodes to at most 3). */
function payloadBound(payload: Payload | null | undefined): number {
  return payload == null ? 0 : typeof payload === "string" ? payload.length * 3 : payload.length;
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

  /** Scratch for produceva: vu entries, then the bytes they point to. Reused; only used during the call. */
  #scratch = new Uint8Array(4096);
  #view = new DataView(this.#scratch.buffer);
  /** Address of #scratch's memory (stable while #scratch is referenced). */
  #base: number;
  readonly #encoder = new TextEncoder();
  /**
   * Topic handles by name, as the address produceva takes. Each is an
   * application reference from `rd_kafka_topic_new`, released by
   * `rd_kafka_topic_destroy` in #close before the client is destroyed.
   */
  readonly #topics = new Map<string, { readonly rkt: Pointer; readonly address: number }>();
  /** Out-array for rd_kafka_event_message_array: DR_BATCH message pointers. */
  readonly #messages = new Uint8Array(8 * DR_BATCH);
  readonly #messagesView = new DataView(this.#messages.buffer);
  /** One delivery report's `rd_kafka_message_t`, copied out of its event; reused. */
  readonly #message = new Uint8Array(MESSAGE.size);
  readonly #messageView = new DataView(this.#message.buffer);
  /** The client's fatal error, once there was one: the reason of every record it gives up on. */
  #fatal: Error | undefined;
  /** Present with a `transactional.id` (see {@link #transactionsOf}). */
  readonly transactions?: ProducerTransactions;
  /** The transactional call under way, if any: close waits for it before freeing the handle. */
  #txnCall: Promise<void> | undefined;

  constructor(client: Client, config: ProducerConfig, events: ClientEvents) {
    this.#client = client;
    this.#events = {
      ...events,
      onFatal: (error) => {
        this.#fatal ??= error;
        events.onFatal(error);
      },
    };
    this.#base = Number(client.native.bufferAddress(this.#scratch));
    this.#waiting = new WaitingRecords(
      config,
      (record, resolve, reject) => this.#enqueue(record, resolve, reject),
      () => client.error(ERR__QUEUE_FULL, "Local: Queue full: no room before the record's deadline or the delivery timeout"),
    );
    // rd_kafka_queue_get_main returns a new reference to rk's main queue.
    this.#queue = openEventQueue(client.rdkafka, client.c.rd_kafka_queue_get_main(client.rk)!);
    this.#pump = this.#run();
    if (config.properties["transactional.id"] !== undefined) this.transactions = this.#transactionsOf();
  }

  /**
   * The transactional calls. init, commit and abort wait for the coordinator:
   * on a worker thread where the runtime can (Deno, koffi), else on this
   * thread in slices of {@link TXN_SLICE_MS}, resumed until `timeoutMs`.
   * Every error they return is ours, read and freed by takeError.
   */
  #transactionsOf(): ProducerTransactions {
    const client = this.#client;
    const { c, rk } = client;
    const nb = client.rdkafka.nonblocking();
    type Blocking = (rk: Pointer, timeoutMs: number) => Pointer | null;
    type Async = (rk: Pointer, timeoutMs: number) => Promise<Pointer | null>;
    const waiting = async (blocking: Blocking, nonblocking: Async | undefined, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (this.#closed) throw new ClosedError("The producer");
        const remaining = Math.max(0, deadline - Date.now());
        const error = nonblocking ? await nonblocking(rk, remaining) : blocking(rk, Math.min(remaining, TXN_SLICE_MS));
        const e = client.takeError(error);
        if (e === null) return;
        if (!(e.retriable && e.code === ERR__TIMED_OUT && Date.now() < deadline)) throw e;
        await yieldToEventLoop();
      }
    };
    const tracked = (call: Promise<void>): Promise<void> => {
      const settled = call.then(() => {}, () => {});
      this.#txnCall = settled;
      void settled.then(() => {
        if (this.#txnCall === settled) this.#txnCall = undefined;
      });
      return call;
    };
    return {
      init: (timeoutMs) => tracked(waiting(c.rd_kafka_init_transactions, nb?.rd_kafka_init_transactions_async, timeoutMs)),
      begin: () => {
        if (this.#closed) return Promise.reject(new ClosedError("The producer"));
        const e = client.takeError(c.rd_kafka_begin_transaction(rk));
        return e === null ? Promise.resolve() : Promise.reject(e);
      },
      commit: (timeoutMs) => tracked(waiting(c.rd_kafka_commit_transaction, nb?.rd_kafka_commit_transaction_async, timeoutMs)),
      abort: (timeoutMs) => tracked(waiting(c.rd_kafka_abort_transaction, nb?.rd_kafka_abort_transaction_async, timeoutMs)),
      sendOffsets: (offsets, consumer, timeoutMs) => {
        if (this.#closed) return Promise.reject(new ClosedError("The producer"));
        let metadata: Pointer | undefined;
        try {
          metadata = consumerGroupMetadata(consumer);
        } catch (error) {
          return Promise.reject(error);
        }
        if (metadata === undefined) return Promise.reject(new TypeError("sendOffsets: the consumer is not a client of the FFI driver"));
        return tracked(this.#sendOffsets(offsets, metadata, timeoutMs));
      },
    };
  }

  /**
   * rd_kafka_send_offsets_to_transaction with `offsets` and `metadata` (ours:
   * freed here, with the list, once the call returned). Not resumable: where
   * it cannot run on a worker thread (Bun) it blocks for up to `timeoutMs`.
   */
  async #sendOffsets(offsets: readonly TopicPartitionOffset[], metadata: Pointer, timeoutMs: number): Promise<void> {
    const client = this.#client;
    const { c, rk } = client;
    const list = c.rd_kafka_topic_partition_list_new(Math.max(1, offsets.length));
    try {
      if (list === null) throw new Error("rd_kafka_topic_partition_list_new failed");
      for (const { topic, partition, offset } of offsets) {
        // The name is copied by librdkafka.
        const name = cString(topic);
        c.rd_kafka_topic_partition_list_add(list, name, partition);
        c.rd_kafka_topic_partition_list_set_offset(list, name, partition, BigInt(offset));
      }
      const nb = client.rdkafka.nonblocking();
      const error = nb
        ? await nb.rd_kafka_send_offsets_to_transaction_async(rk, list, metadata, timeoutMs)
        : c.rd_kafka_send_offsets_to_transaction(rk, list, metadata, timeoutMs);
      const e = client.takeError(error);
      if (e !== null) throw e;
    } finally {
      if (list !== null) c.rd_kafka_topic_partition_list_destroy(list);
      c.rd_kafka_consumer_group_metadata_destroy(metadata);
    }
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
    if (err !== 0) {
      // A dead client's records are purged when it is closed: the fatal error is why.
      const purged = err === ERR__PURGE_QUEUE || err === ERR__PURGE_INFLIGHT;
      reject(purged && this.#fatal !== undefined ? this.#fatal : this.#client.error(err), topic);
      return;
    }
    if (resolve === SENT) return (reject as Done)(undefined, topic);
    const partition = fields.getInt32(MESSAGE.partition, true);
    const offset = getI64(fields, MESSAGE.offset);
    const timestamp = Number(c.rd_kafka_message_timestamp(message, null));
    resolve(timestamp >= 0 ? { topic, partition, offset, timestamp } : { topic, partition, offset });
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
    if (this.#closed) return Promise.reject(new ClosedError("The producer"));
    const promise = new Promise<DeliveryReport>(this.#capture);
    const resolve = this.#nextResolve!;
    const reject = this.#nextReject!;
    this.#nextResolve = this.#nextReject = undefined;
    const refused = this.#waiting.submit(record, resolve, reject);
    if (refused !== undefined) reject(refused, record.topic);
    return promise;
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
      count = this.#encode(record, slot);
    } catch (error) {
      // Never leave a slot behind: flush() waits for every slot to empty.
      this.#release(slot);
      return error as Error;
    }
    // An error returned by produceva is ours to free: destroyed here or by takeError.
    const error = c.rd_kafka_produceva(rk, this.#scratch, SIZES[count] ?? count);
    if (error === null) return true;
    this.#release(slot);
    if (c.rd_kafka_error_code(error) === ERR__QUEUE_FULL) {
      c.rd_kafka_error_destroy(error);
      return false;
    }
    return this.#client.takeError(error)!;
  }

  /**
   * Lay out `record` as rd_kafka_vu_t entries at the start of #scratch and
   * its bytes after them; returns the entry count. Each entry is an int
   * vtype and, 8 bytes in, its union.
   */
  #encode(record: OutgoingRecord, slot: number): number {
    const { key, value, headers, partition, timestamp } = record;
    const topic = this.#topicHandle(record.topic);
    const count = 4 + (key != null ? 1 : 0) + (partition !== undefined ? 1 : 0) + (timestamp !== undefined ? 1 : 0) +
      (headers?.length ?? 0);
    let bound = count * VU_SIZE + (topic ? 0 : record.topic.length * 3 + 1) + payloadBound(key) + payloadBound(value);
    if (headers) { for (const [name, bytes] of headers) bound += name.length * 3 + 1 + bytes.length; }
    this.#reserve(bound);

    const view = this.#view;
    const base = this.#base;
    let at = 0; // the next entry
    let data = count * VU_SIZE; // the next free byte after the entries
    if (topic) {
      view.setInt32(at, VTYPE_RKT, true);
      setI64(view, at + 8, topic.address);
    } else {
      view.setInt32(at, VTYPE_TOPIC, true);
      setI64(view, at + 8, base + data);
      data = this.#text(record.topic, data);
    }
    at += VU_SIZE;
    if (partition !== undefined) {
      view.setInt32(at, VTYPE_PARTITION, true);
      view.setInt32(at + 8, partition, true);
      at += VU_SIZE;
    }
    view.setInt32(at, VTYPE_VALUE, true);
    if (value === null) {
      setI64(view, at + 8, 0); // NULL payload: a tombstone
      setI64(view, at + 16, 0);
    } else {
      data = this.#bytes(at + 8, value, data);
    }
    at += VU_SIZE;
    if (key != null) {
      view.setInt32(at, VTYPE_KEY, true);
      data = this.#bytes(at + 8, key, data);
      at += VU_SIZE;
    }
    view.setInt32(at, VTYPE_OPAQUE, true);
    setI64(view, at + 8, slot); // comes back as the report's _private
    at += VU_SIZE;
    view.setInt32(at, VTYPE_MSGFLAGS, true);
    view.setInt32(at + 8, MSG_F_COPY, true);
    at += VU_SIZE;
    if (timestamp !== undefined) {
      view.setInt32(at, VTYPE_TIMESTAMP, true);
      setI64(view, at + 8, Math.trunc(timestamp));
      at += VU_SIZE;
    }
    if (headers) {
      for (const [name, bytes] of headers) {
        view.setInt32(at, VTYPE_HEADER, true);
        setI64(view, at + 8, base + data);
        data = this.#text(name, data);
        data = this.#bytes(at + 16, bytes, data);
        at += VU_SIZE;
      }
    }
    return count;
  }

  /**
   * Copy `bytes` (text: its UTF-8) to `data` in #scratch and write their
   * address and length as the pair of 64-bit fields at `at` (a union's
   * pointer and size); returns the next free byte.
   */
  #bytes(at: number, bytes: Payload, data: number): number {
    let end: number;
    if (typeof bytes === "string") {
      end = this.#utf8(bytes, data);
    } else {
      this.#scratch.set(bytes, data);
      end = data + bytes.length;
    }
    setI64(this.#view, at, this.#base + data);
    setI64(this.#view, at + 8, end - data);
    return end;
  }

  /** Write `text` NUL-terminated at `at` in #scratch; returns the next free byte. */
  #text(text: string, at: number): number {
    const end = this.#utf8(text, at);
    this.#scratch[end] = 0;
    return end + 1;
  }

  /** Write `text`'s UTF-8 at `at` in #scratch (room reserved by the caller); returns the byte after it. */
  #utf8(text: string, at: number): number {
    return at + this.#encoder.encodeInto(text, this.#scratch.subarray(at)).written!;
  }

  /** The topic handle for `name`, created on first use; undefined past {@link MAX_TOPIC_HANDLES} or if refused. */
  #topicHandle(name: string): { readonly rkt: Pointer; readonly address: number } | undefined {
    let handle = this.#topics.get(name);
    if (handle === undefined && this.#topics.size < MAX_TOPIC_HANDLES) {
      const { c, rk, native } = this.#client;
      // The name is copied by librdkafka. A refused name (NULL) goes by name, so produceva reports why.
      const rkt = c.rd_kafka_topic_new(rk, cString(name), null);
      if (rkt === null) return undefined;
      handle = { rkt, address: Number(native.addressOf(rkt)) };
      this.#topics.set(name, handle);
    }
    return handle;
  }

  /** Grow #scratch to at least `size` bytes (a new buffer has a new address). */
  #reserve(size: number): void {
    if (size <= this.#scratch.length) return;
    let capacity = this.#scratch.length;
    while (capacity < size) capacity *= 2;
    this.#scratch = new Uint8Array(capacity);
    this.#view = new DataView(this.#scratch.buffer);
    this.#base = Number(this.#client.native.bufferAddress(this.#scratch));
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
    const known = this.#topics.keys().next();
    return this.#client.ping(timeoutMs, known.done ? undefined : known.value);
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
    await this.#txnCall;
    const { c, rk } = this.#client;
    // Drop what is still queued or in flight: rd_kafka_destroy then returns promptly.
    c.rd_kafka_purge(rk, PURGE_ALL);
    await this.#queue.close(); // ends the pump's wait
    await this.#pump;
    for (let slot = 0; slot < this.#rejects.length; slot++) {
      const reject = this.#rejects[slot];
      if (reject === undefined) continue;
      this.#release(slot);
      reject(new ClosedError("The producer"), this.#topicNames[slot]!);
    }
    this.#progress.resolve();
    // Application topic references go before the client: the purged records no longer use them.
    for (const { rkt } of this.#topics.values()) c.rd_kafka_topic_destroy(rkt);
    this.#topics.clear();
    await this.#client.destroy(0);
  }
}
