/**
 * The FFI consumer: a group member whose rebalances and errors arrive as
 * events on the consumer queue, and its messages on a queue of their own,
 * read in batches (`_message_queue.ts`).
 *
 * `rd_kafka_poll_set_consumer` forwards the main queue (errors) to the
 * consumer queue, and `rd_kafka_conf_set_events(REBALANCE | ERROR)` turns
 * rebalances into events. Each partition's fetch queue is forwarded to the
 * message queue before the partition is assigned, so `poll()` takes the
 * group's events first and then up to its `max` messages in one call. A
 * revocation is thus applied before any further message is taken; messages
 * of its partitions still queued are then outdated, and librdkafka drops
 * them (their next owner reads them).
 * Nothing is read ahead of `poll()`: a message stays in librdkafka until
 * `poll()` takes it, so pausing a partition needs no JavaScript-side purge
 * (librdkafka drops what it prefetched for a paused partition and resumes
 * from the position after the last message `poll()` returned).
 *
 * Rebalance: eager assignments are applied with `rd_kafka_assign`, cooperative
 * ones with `rd_kafka_incremental_(un)assign`, by `rd_kafka_rebalance_protocol`.
 * `onAssign` runs after the assignment, `onRevoke` before the unassignment,
 * which waits until the promise `onRevoke` returns settled: the poll that
 * took the revocation awaits it (no other event is taken meanwhile), so the
 * partitions go to their next owner only once the core's handlers of them
 * finished.
 *
 * Offsets: `commit()` stores offsets (`rd_kafka_offsets_store`; the core sets
 * `enable.auto.offset.store=false`); librdkafka's auto commit sends them, and
 * close commits the last ones.
 *
 * @module
 */
import type { ConsumerClient, ConsumerConfig, ConsumerEvents, IncomingMessage, TopicPartition, TopicPartitionOffset } from "../../driver.ts";
import { ClosedError } from "../../errors.ts";
import { ERR__ASSIGN_PARTITIONS, ERR__REVOKE_PARTITIONS, ERR__STATE, ERR__TIMED_OUT, ERR__UNKNOWN_PARTITION } from "../../_kafka_codes.ts";
import { type Client, createClient } from "./_client.ts";
import { readPartitionList, withPartitionList } from "./_partition_list.ts";
import { getU64, outParameter, SIZES } from "./_c_memory.ts";
import { MessageQueue } from "./_message_queue.ts";
import { MessageReader } from "./_message_reader.ts";
import type { Pointer } from "./_native_types.ts";
import { type EventQueue, openEventQueue } from "./_queue.ts";
import { DESTROY_F_NO_CONSUMER_CLOSE, EVENT_ERROR, EVENT_FETCH, EVENT_REBALANCE, OFFSET_SPEC_LATEST, RD_KAFKA_CONSUMER } from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

/** How long a new consumer waits for a first broker answer. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on leaving the group in close() when the config has none (librdkafka's own bound is the session timeout). */
const CLOSE_TIMEOUT_MS = 10_000;
/** While closing, re-check rd_kafka_consumer_closed at least this often. */
const CLOSE_CHECK_MS = 500;

/** Create a group member (not yet subscribed), resolving once a broker answered. */
export async function createFfiConsumer(
  rdkafka: Librdkafka,
  config: ConsumerConfig,
  events: ConsumerEvents,
): Promise<ConsumerClient> {
  const extra: Record<string, string> = config.properties["group.id"] === undefined ? { "group.id": config.groupId } : {};
  const client = createClient(rdkafka, RD_KAFKA_CONSUMER, config, EVENT_REBALANCE | EVENT_ERROR, extra);
  let consumer: FfiConsumer;
  try {
    consumer = new FfiConsumer(client, events, config.closeTimeoutMs ?? CLOSE_TIMEOUT_MS);
  } catch (error) {
    await client.destroy(DESTROY_F_NO_CONSUMER_CLOSE);
    throw error;
  }
  try {
    await client.ping(CONNECT_TIMEOUT_MS);
  } catch (error) {
    await consumer.close().catch(() => {}); // the connect's error is the one to report
    throw error;
  }
  return consumer;
}

/**
 * The group metadata of `consumer` (`rd_kafka_consumer_group_metadata`: its
 * group, member id and generation now), for a transactional producer's
 * `sendOffsets`. Ours: free it with `rd_kafka_consumer_group_metadata_destroy`;
 * it does not refer to the consumer's handle. Undefined if `consumer` is not
 * an FFI consumer; throws `ClosedError` once it is closing.
 */
export function consumerGroupMetadata(consumer: ConsumerClient): Pointer | undefined {
  return consumer instanceof FfiConsumer ? consumer.groupMetadata() : undefined;
}

class FfiConsumer implements ConsumerClient {
  readonly #client: Client;
  readonly #events: ConsumerEvents;
  readonly #queue: EventQueue;
  /** Where every assigned partition's messages go (see {@link MessageQueue.forward}); destroyed by close(). */
  readonly #messages: MessageQueue;
  readonly #reader: MessageReader;
  readonly #closeTimeoutMs: number;
  /** The poll (or close) in progress: they take turns on the queue. */
  #busy: Promise<unknown> = Promise.resolve();
  #closing = false;
  #closed: Promise<void> | undefined;
  /** The out-parameter of rd_kafka_event_message_array (one message pointer), reused. */
  readonly #eventMessage = outParameter();

  constructor(client: Client, events: ConsumerEvents, closeTimeoutMs: number) {
    this.#client = client;
    this.#events = events;
    this.#closeTimeoutMs = closeTimeoutMs;
    this.#reader = new MessageReader(client, (error) => this.#events.onError?.(error));
    const { c, rk } = client;
    const err = c.rd_kafka_poll_set_consumer(rk);
    if (err !== 0) throw client.error(err);
    this.#messages = new MessageQueue(client);
    try {
      // rd_kafka_queue_get_consumer returns a new reference to the group queue. A message wakes a waiting poll too.
      this.#queue = openEventQueue(client.rdkafka, c.rd_kafka_queue_get_consumer(rk)!, [this.#messages.queue]);
    } catch (error) {
      this.#messages.destroy(); // destroying the client waits for every queue reference
      throw error;
    }
  }

  /** See {@link consumerGroupMetadata}. */
  groupMetadata(): Pointer {
    if (this.#closing) throw new ClosedError("The consumer");
    const metadata = this.#client.c.rd_kafka_consumer_group_metadata(this.#client.rk);
    if (metadata === null) throw new Error("rd_kafka_consumer_group_metadata failed");
    return metadata;
  }

  subscribe(topics: readonly string[]): Promise<void> {
    const { c, rk } = this.#client;
    const err = topics.length === 0
      ? c.rd_kafka_unsubscribe(rk)
      // The list is copied by rd_kafka_subscribe; partition -1 (RD_KAFKA_PARTITION_UA).
      : withPartitionList(this.#client, topics.map((topic) => ({ topic, partition: -1 })), (list) => c.rd_kafka_subscribe(rk, list));
    return err === 0 ? Promise.resolve() : Promise.reject(this.#client.error(err));
  }

  poll(max: number, timeoutMs: number): Promise<IncomingMessage[]> {
    const run = this.#busy.then(() => this.#poll(max, timeoutMs));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #poll(max: number, timeoutMs: number): Promise<IncomingMessage[]> {
    const out: IncomingMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The group's events first: a revocation is applied before another message is taken.
      while (out.length < max && !this.#closing) {
        const event = this.#queue.take();
        if (event === null) break;
        const revoking = this.#dispatch(event, out);
        if (revoking) await revoking;
      }
      if (!this.#closing) this.#messages.take(max - out.length, this.#reader, out);
      if (out.length > 0 || this.#closing) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return out;
      const event = await this.#queue.next(remaining);
      if (event !== null) await this.#dispatch(event, out);
    }
  }

  /**
   * Handle one event and free it. Messages are appended to `out` (if given).
   * A revocation returns a promise: the event (which owns the partition list
   * the unassignment reads) is freed when it settles.
   */
  #dispatch(event: Pointer, out: IncomingMessage[] | null): Promise<void> | undefined {
    const { c, native } = this.#client;
    let revoking: Promise<void> | undefined;
    try {
      switch (c.rd_kafka_event_type(event)) {
        case EVENT_FETCH: {
          // A partition whose queue was not forwarded (see MessageQueue.forward). One message,
          // owned by the event; rd_kafka_event_message_array hands out its pointer.
          const slot = this.#eventMessage;
          if (c.rd_kafka_event_message_array(event, slot.bytes, SIZES[1]!) !== 1) break;
          const message = native.pointerAt(getU64(slot.view, 0))!;
          const incoming = this.#reader.read(message);
          if (incoming && out) out.push(incoming);
          break;
        }
        case EVENT_REBALANCE:
          revoking = this.#rebalance(c.rd_kafka_event_error(event), c.rd_kafka_event_topic_partition_list(event));
          break;
        case EVENT_ERROR:
          this.#client.errorEvent(event, this.#events);
          break;
      }
    } finally {
      if (revoking === undefined) c.rd_kafka_event_destroy(event);
    }
    return revoking?.finally(() => c.rd_kafka_event_destroy(event));
  }

  /**
   * Apply a rebalance; `list` belongs to the event, which the caller keeps
   * alive until the returned promise (a revocation's) settled. Never rejects.
   */
  #rebalance(code: number, list: Pointer | null): Promise<void> | undefined {
    const { c, rk, native } = this.#client;
    this.#reader.forgetTopics();
    const partitions = readPartitionList(native, list);
    try {
      if (code === ERR__ASSIGN_PARTITIONS) {
        // Told first: what kshare pauses of them is paused before their fetchers start (see ConsumerEvents).
        // Its failure must not keep the assignment from being applied: the group would wait for it.
        try {
          this.#events.onAssign(partitions);
        } catch (error) {
          this.#events.onError?.(error as Error);
        }
        this.#messages.forward(partitions);
        if (this.#cooperative()) this.#check(this.#client.takeError(c.rd_kafka_incremental_assign(rk, list)));
        else this.#check(this.#codeError(c.rd_kafka_assign(rk, list)));
      } else if (code === ERR__REVOKE_PARTITIONS) {
        return this.#revoke(partitions, list);
      } else {
        // A failed rebalance: drop the assignment, as librdkafka's default handler does.
        this.#events.onError?.(this.#client.error(code));
        this.#check(this.#codeError(c.rd_kafka_assign(rk, null)));
      }
    } catch (error) {
      if (!this.#closing) this.#events.onError?.(error as Error);
    }
    return undefined;
  }

  /** Unassign once the core's revocation settled (it may fail: the partitions are unassigned anyway). */
  async #revoke(partitions: TopicPartition[], list: Pointer | null): Promise<void> {
    const { c, rk } = this.#client;
    try {
      await this.#events.onRevoke(partitions);
    } catch (error) {
      this.#events.onError?.(error as Error);
    }
    try {
      if (this.#cooperative()) this.#check(this.#client.takeError(c.rd_kafka_incremental_unassign(rk, list)));
      else this.#check(this.#codeError(c.rd_kafka_assign(rk, null)));
    } catch (error) {
      if (!this.#closing) this.#events.onError?.(error as Error);
    }
  }

  #cooperative(): boolean {
    const { c, rk, native } = this.#client;
    return native.readCString(c.rd_kafka_rebalance_protocol(rk)) === "COOPERATIVE";
  }

  #codeError(code: number) {
    return code === 0 ? null : this.#client.error(code);
  }

  #check(error: Error | null): void {
    if (error) throw error;
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#pauseResume(partitions, true);
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#pauseResume(partitions, false);
    if (partitions.length > 0 && !this.#closing) this.#wakeFetchers(partitions);
  }

  /**
   * librdkafka's resume only clears the partitions' pause: a leader's broker
   * thread, idle while all it fetched for was paused, notices on its next
   * wakeup, up to 1 s later (its longest sleep), and the partition fetches
   * nothing until then. Any request queued for that broker wakes its thread,
   * which then starts the partition's fetch: a ListOffsets of the resumed
   * partitions goes to each one's leader. Its result is not waited for: the
   * queue it would arrive on is destroyed at once, and librdkafka drops it.
   * The request keeps librdkafka's default timeout (`socket.timeout.ms`): one
   * timed out in flight would count as a failure of the connection.
   */
  #wakeFetchers(partitions: readonly TopicPartition[]): void {
    const { c, rk } = this.#client;
    // queue: ours; the request holds a reference of its own, so destroying ours only drops the result.
    const queue = c.rd_kafka_queue_new(rk);
    if (queue === null) return;
    try {
      // The list is copied by ListOffsets; no options: librdkafka's defaults.
      const latest = partitions.map(({ topic, partition }) => ({ topic, partition, offset: OFFSET_SPEC_LATEST }));
      withPartitionList(this.#client, latest, (list) => c.rd_kafka_ListOffsets(rk, list, null, queue));
    } finally {
      c.rd_kafka_queue_destroy(queue);
    }
  }

  #pauseResume(partitions: readonly TopicPartition[], pause: boolean): void {
    if (partitions.length === 0 || this.#closing) return;
    const { c, rk } = this.#client;
    // Per-partition errors (e.g. no longer assigned) are left in the list and ignored.
    const err = withPartitionList(this.#client, partitions, (list) => pause ? c.rd_kafka_pause_partitions(rk, list) : c.rd_kafka_resume_partitions(rk, list));
    if (err !== 0) throw this.#client.error(err);
  }

  commit(offsets: readonly TopicPartitionOffset[]): void {
    if (offsets.length === 0 || this.#closing) return;
    const { c, rk } = this.#client;
    const err = withPartitionList(this.#client, offsets, (list) => c.rd_kafka_offsets_store(rk, list));
    // __STATE / __UNKNOWN_PARTITION: none of these partitions is assigned any more; nothing to commit.
    if (err !== 0 && err !== ERR__STATE && err !== ERR__UNKNOWN_PARTITION) throw this.#client.error(err);
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#queue.wake(); // ends a poll() that is waiting
    await this.#busy;
    const { c, rk } = this.#client;
    // The non-blocking form of rd_kafka_consumer_close: librdkafka leaves the
    // group (committing stored offsets) on its own threads and posts the
    // revoke and then a TERMINATE wake-up on our queue.
    const error = this.#client.takeError(c.rd_kafka_consumer_close_queue(rk, this.#queue.queue));
    let left = true;
    if (error === null) {
      const deadline = Date.now() + this.#closeTimeoutMs;
      while (!(left = c.rd_kafka_consumer_closed(rk) !== 0) && Date.now() < deadline) {
        const event = await this.#queue.next(Math.min(CLOSE_CHECK_MS, deadline - Date.now()));
        if (event !== null) await this.#dispatch(event, null); // revokes are applied, messages dropped
      }
    }
    await this.#queue.close();
    this.#messages.destroy();
    const destroyed = this.#client.destroy(DESTROY_F_NO_CONSUMER_CLOSE);
    // Past the bound, rd_kafka_destroy can still wait for requests a broker holds (up to socket.timeout.ms):
    // on Deno it runs on a worker thread and frees the client when it returns; close() does not wait for it.
    // (Bun calls it on this thread: there it returns only once librdkafka has.)
    if (left) await destroyed;
    else {
      destroyed.catch(() => {});
      throw this.#client.error(
        ERR__TIMED_OUT,
        `Leaving the group did not finish within ${this.#closeTimeoutMs} ms; the client is released when librdkafka's destroy returns`,
      );
    }
  }
}
