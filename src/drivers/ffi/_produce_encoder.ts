/**
 * A record as `rd_kafka_produceva`'s arguments: an array of `rd_kafka_vu_t`
 * (72 bytes each) written into one reusable scratch buffer together with the
 * bytes they point to (key, value, header names and values). The producer
 * hands it over with `RD_KAFKA_MSG_F_COPY`: librdkafka copies all of it during
 * the call, so the scratch buffer is free again when it returns. The array
 * has no `RD_KAFKA_VTYPE_END` entry (produceva takes a count and rejects END
 * as an invalid argument).
 *
 * The topic goes as an `rd_kafka_topic_t` handle kept per topic name
 * (`RD_KAFKA_VTYPE_RKT`): by name, produceva would look the topic up under
 * the client's write lock for every record, contending with its broker
 * threads. The encoder owns those handles (application references from
 * `rd_kafka_topic_new`) until {@link ProduceEncoder.destroyTopics}, which the
 * producer calls before it destroys the client.
 *
 * Hot path: no BigInt and no buffer per record; 64-bit fields are written as
 * two 32-bit halves of a number.
 *
 * @module
 */
import type { OutgoingRecord, Payload } from "../../driver.ts";
import { cString, setI64 } from "./_c_memory.ts";
import type { Client } from "./_client.ts";
import type { Pointer } from "./_native_types.ts";
import {
  MSG_F_COPY,
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

/**
 * Topic handles kept per producer at most. Beyond it, records of other
 * topics go by name (slower, same result), so a producer writing to
 * ever-new topic names holds a bounded number of handles.
 */
const MAX_TOPIC_HANDLES = 1024;

/** Offsets of the scratch buffer whose views are kept (see ProduceEncoder's #views). */
const VIEWED_OFFSETS = 4096;

/** Bytes `payload` takes at most in UTF-8 (a UTF-16 unit encodes to at most 3). */
function payloadBound(payload: Payload | null | undefined): number {
  return payload == null ? 0 : typeof payload === "string" ? payload.length * 3 : payload.length;
}

/** Writes one record at a time as produceva's `rd_kafka_vu_t` array, for the client it was made for. */
export class ProduceEncoder {
  readonly #client: Client;
  /** Scratch for produceva: vu entries, then the bytes they point to. Reused; only used during the call. */
  #scratch = new Uint8Array(4096);
  #view = new DataView(this.#scratch.buffer);
  /** Address of #scratch's memory (stable while #scratch is referenced). */
  #base: number;
  readonly #encoder = new TextEncoder();
  /**
   * Views of #scratch from an offset on, by offset, for `encodeInto`: a
   * record's text lands at the same few offsets again and again (its value
   * right after its entries), and a new view per text was a tenth of Bun's
   * time per publish. Only offsets below {@link VIEWED_OFFSETS}; emptied when
   * #scratch is replaced.
   */
  #views: (Uint8Array | undefined)[] = [];
  /** Topic handles by name, as the address produceva takes (see the module's note on ownership). */
  readonly #topics = new Map<string, { readonly rkt: Pointer; readonly address: number }>();

  constructor(client: Client) {
    this.#client = client;
    this.#base = Number(client.native.bufferAddress(this.#scratch));
  }

  /** The array {@link encode} wrote (pass as produceva's `vus`); valid until the next call of it. */
  get vector(): Uint8Array {
    return this.#scratch;
  }

  /** A topic a record was encoded for, by handle; undefined before the first. */
  knownTopic(): string | undefined {
    const known = this.#topics.keys().next();
    return known.done ? undefined : known.value;
  }

  /** Release every topic handle: once no record queued or in flight uses them, before the client is destroyed. */
  destroyTopics(): void {
    const { c } = this.#client;
    for (const { rkt } of this.#topics.values()) c.rd_kafka_topic_destroy(rkt);
    this.#topics.clear();
  }

  /**
   * Lay out `record` as rd_kafka_vu_t entries at the start of the scratch
   * buffer, with `opaque` as its per-message opaque, and its bytes after them;
   * returns the entry count. Each entry is an int vtype and, 8 bytes in, its
   * union.
   */
  encode(record: OutgoingRecord, opaque: number): number {
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
    setI64(view, at + 8, opaque); // comes back as the report's _private
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
    const into = at < VIEWED_OFFSETS ? (this.#views[at] ??= this.#scratch.subarray(at)) : this.#scratch.subarray(at);
    return at + this.#encoder.encodeInto(text, into).written!;
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
    this.#views = [];
    this.#view = new DataView(this.#scratch.buffer);
    this.#base = Number(this.#client.native.bufferAddress(this.#scratch));
  }
}
