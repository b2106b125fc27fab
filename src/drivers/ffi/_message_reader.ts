/**
 * Reading a fetched librdkafka message (`rd_kafka_message_t`) into an
 * {@link IncomingMessage}: the struct copied once into a reused buffer, its
 * fields read from that copy (64-bit fields and pointers as numbers, no
 * BigInt), the key, value and headers copied out of C memory.
 *
 * @module
 */
import type { IncomingMessage } from "../../driver.ts";
import { ERR__PARTITION_EOF } from "../../_kafka_codes.ts";
import type { Client } from "./_client.ts";
import { getI64, getU64, outParameter } from "./_c_memory.ts";
import type { Pointer } from "./_native_types.ts";
import { Slabs } from "./_slabs.ts";
import { MESSAGE } from "./_symbols.ts";

/** Reads the messages of one consumer; its buffers are reused, so one message at a time. */
export class MessageReader {
  readonly #client: Client;
  readonly #onError: (error: Error) => void;
  /** Out-parameters (8 bytes each) of the header calls, reused: only read right after the call. */
  readonly #out = { headers: outParameter(), name: outParameter(), value: outParameter(), size: outParameter() };
  /**
   * Topic names by the address of their `rd_kafka_topic_t`, so a message's
   * topic costs a map lookup instead of a call and a string copy. A handle
   * outlives every message of it and stays alive while one of its partitions
   * is assigned; a handle for a newly assigned topic is made during the
   * assignment. So an address can only be reused by another topic across a
   * rebalance, and the consumer calls {@link forgetTopics} at every one.
   */
  readonly #topics = new Map<number, string>();
  /** The `rd_kafka_message_t` being read, copied: only read inside {@link read}. */
  readonly #message = new Uint8Array(MESSAGE.size);
  readonly #fields = new DataView(this.#message.buffer);
  readonly #slabs: Slabs;

  /** `onError` hears a message that carries an error (other than end of partition). */
  constructor(client: Client, onError: (error: Error) => void) {
    this.#client = client;
    this.#onError = onError;
    this.#slabs = new Slabs(client.native);
  }

  /** Forget the topic names read so far (at a rebalance: see the map's comment). */
  forgetTopics(): void {
    this.#topics.clear();
  }

  /**
   * A copy of `message` (still owned by its event or by the caller, who frees
   * it), or null for a message that carries an error: that error goes to
   * `onError` unless it is the end of a partition.
   */
  read(message: Pointer): IncomingMessage | null {
    const { c, native } = this.#client;
    const fields = this.#fields;
    native.copyInto(message, this.#message);
    const err = fields.getInt32(MESSAGE.err, true);
    if (err !== 0) {
      if (err !== ERR__PARTITION_EOF) this.#onError(this.#client.error(err));
      return null;
    }
    const rkt = getU64(fields, MESSAGE.rkt);
    let topic = this.#topics.get(rkt);
    if (topic === undefined) {
      // The name belongs to the message's topic handle.
      topic = native.readCString(rkt === 0 ? null : c.rd_kafka_topic_name(native.pointerAt(rkt))) ?? "";
      if (rkt !== 0) this.#topics.set(rkt, topic);
    }
    const timestamp = Number(c.rd_kafka_message_timestamp(message, null));
    return {
      topic,
      partition: fields.getInt32(MESSAGE.partition, true),
      offset: getI64(fields, MESSAGE.offset),
      key: this.#slabs.at(fields, MESSAGE.key, MESSAGE.keyLen),
      value: this.#slabs.at(fields, MESSAGE.payload, MESSAGE.len),
      headers: this.#headers(message),
      timestamp: timestamp >= 0 ? timestamp : undefined,
    };
  }

  /** The headers of `message`, copied (the header list belongs to the message). */
  #headers(message: Pointer): ReadonlyArray<readonly [string, Uint8Array]> {
    const { c, native } = this.#client;
    const out = this.#out;
    if (c.rd_kafka_message_headers(message, out.headers.bytes) !== 0) return NO_HEADERS; // ERR__NOENT: none
    const headers: Array<readonly [string, Uint8Array]> = [];
    const list = native.pointerAt(getU64(out.headers.view, 0))!;
    for (let i = 0; c.rd_kafka_header_get_all(list, i, out.name.bytes, out.value.bytes, out.size.bytes) === 0; i++) {
      const value = native.pointerAt(getU64(out.value.view, 0));
      headers.push([
        native.readCString(native.pointerAt(getU64(out.name.view, 0))) ?? "",
        value === null ? new Uint8Array(0) : this.#slabs.copy(value, getU64(out.size.view, 0)),
      ]);
    }
    return headers;
  }
}

/** The headers of every message without any: one shared, frozen array. */
const NO_HEADERS: ReadonlyArray<readonly [string, Uint8Array]> = Object.freeze([]);
