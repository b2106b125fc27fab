/**
 * The transactional calls of an FFI producer (one with a `transactional.id`).
 *
 * Threads: init, commit, abort and sendOffsets wait for the transaction
 * coordinator: on a worker thread where the runtime can (Deno, koffi), else
 * on the JavaScript thread, init, commit and abort in slices of
 * {@link TXN_SLICE_MS} resumed until their timeout (librdkafka's
 * transactional calls are resumable after a retriable timeout), sendOffsets
 * in one blocking call. Every `rd_kafka_error_t` they return is ours, read
 * and freed by `Client.takeError`.
 *
 * Lifetime: the producer's handle must outlive every call; the producer waits
 * for {@link FfiTransactions.idle} before it destroys the handle.
 *
 * @module
 */
import type { ConsumerClient, ProducerTransactions, TopicPartitionOffset } from "../../driver.ts";
import { ClosedError } from "../../errors.ts";
import { yieldToEventLoop } from "../../_util.ts";
import { ERR__TIMED_OUT } from "../../_kafka_codes.ts";
import { cString } from "./_c_memory.ts";
import type { Client } from "./_client.ts";
import { consumerGroupMetadata } from "./_consumer.ts";
import type { Pointer } from "./_native_types.ts";

/**
 * Where a transactional call cannot run off the JavaScript thread (Bun), it
 * waits at most this long per call, then yields to the event loop (delivery
 * reports are served meanwhile) and resumes.
 */
const TXN_SLICE_MS = 50;

type Blocking = (rk: Pointer, timeoutMs: number) => Pointer | null;
type Async = (rk: Pointer, timeoutMs: number) => Promise<Pointer | null>;

/** The transactions of the producer that owns `client`; `closed` says when it no longer takes calls. */
export class FfiTransactions implements ProducerTransactions {
  readonly #client: Client;
  readonly #closed: () => boolean;
  /** Bound when the producer is made, as a build lacking them fails it; undefined where calls cannot leave this thread. */
  readonly #nb: ReturnType<Client["rdkafka"]["nonblocking"]>;
  /** The call under way, if any, settled without its outcome: what {@link idle} returns. */
  #call: Promise<void> | undefined;

  constructor(client: Client, closed: () => boolean) {
    this.#client = client;
    this.#closed = closed;
    this.#nb = client.rdkafka.nonblocking();
  }

  /** Settles once no transactional call uses the handle (at once if none does). */
  idle(): Promise<void> {
    return this.#call ?? Promise.resolve();
  }

  init(timeoutMs: number): Promise<void> {
    const { c } = this.#client;
    return this.#tracked(this.#waiting(c.rd_kafka_init_transactions, this.#nb?.rd_kafka_init_transactions_async, timeoutMs));
  }

  begin(): Promise<void> {
    if (this.#closed()) return Promise.reject(new ClosedError("The producer"));
    const { c, rk } = this.#client;
    const e = this.#client.takeError(c.rd_kafka_begin_transaction(rk));
    return e === null ? Promise.resolve() : Promise.reject(e);
  }

  commit(timeoutMs: number): Promise<void> {
    const { c } = this.#client;
    return this.#tracked(this.#waiting(c.rd_kafka_commit_transaction, this.#nb?.rd_kafka_commit_transaction_async, timeoutMs));
  }

  abort(timeoutMs: number): Promise<void> {
    const { c } = this.#client;
    return this.#tracked(this.#waiting(c.rd_kafka_abort_transaction, this.#nb?.rd_kafka_abort_transaction_async, timeoutMs));
  }

  sendOffsets(offsets: readonly TopicPartitionOffset[], consumer: ConsumerClient, timeoutMs: number): Promise<void> {
    if (this.#closed()) return Promise.reject(new ClosedError("The producer"));
    let metadata: Pointer | undefined;
    try {
      metadata = consumerGroupMetadata(consumer);
    } catch (error) {
      return Promise.reject(error);
    }
    if (metadata === undefined) return Promise.reject(new TypeError("sendOffsets: the consumer is not a client of the FFI driver"));
    return this.#tracked(this.#sendOffsets(offsets, metadata, timeoutMs));
  }

  /** Run a resumable call until it succeeds, fails otherwise than by a retriable timeout, or `timeoutMs` passed. */
  async #waiting(blocking: Blocking, nonblocking: Async | undefined, timeoutMs: number): Promise<void> {
    const client = this.#client;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed()) throw new ClosedError("The producer");
      const remaining = Math.max(0, deadline - Date.now());
      const error = nonblocking ? await nonblocking(client.rk, remaining) : blocking(client.rk, Math.min(remaining, TXN_SLICE_MS));
      const e = client.takeError(error);
      if (e === null) return;
      if (!(e.retriable && e.code === ERR__TIMED_OUT && Date.now() < deadline)) throw e;
      await yieldToEventLoop();
    }
  }

  #tracked(call: Promise<void>): Promise<void> {
    const settled = call.then(() => {}, () => {});
    this.#call = settled;
    void settled.then(() => {
      if (this.#call === settled) this.#call = undefined;
    });
    return call;
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
      const nb = this.#nb;
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
}
