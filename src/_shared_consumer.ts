/**
 * The shared consumer: one group member per (security context, group id),
 * subscribed to every topic registered on it, dispatching each message to its
 * topic's handler with per-topic backpressure (the bounds: `_flow.ts`).
 *
 * Ordering and commits: messages of one partition are handled one after the
 * other; partitions run concurrently. After a handler succeeded (or the
 * message was skipped as invalid, or `onError` handled it), its offset + 1 is
 * due to be marked for commit. The poll loop marks them once per iteration,
 * one offset per partition (the last handled, so every message before it was
 * handled too), and on a revocation and on close. Offsets are committed by
 * librdkafka's auto-commit and on close: at-least-once.
 *
 * Revocation: the driver unassigns revoked partitions only once
 * {@link SharedConsumer}'s `onRevoke` settled, and that waits for the
 * handlers in progress on them (each attempt bounded by `handlerTimeoutMs`;
 * their retries stop), so the group hands a partition to its next owner only
 * after this member stopped working on it.
 *
 * Why one file over 400 lines: it is one group member's life (its client's
 * connect, fatal recovery and close, the poll loop, the rebalance callbacks),
 * and those share the client and the subscriptions' state. What stands alone
 * lives beside it: the bounds (`_flow.ts`), one message's handling
 * (`_handle_message.ts`), the options (`subscribe_options.ts`).
 *
 * @module
 */
import type * as v from "valibot";
import type { ClientEvents, ConsumerClient, ConsumerEvents, IncomingMessage, TopicPartition, TopicPartitionOffset } from "./driver.ts";
import { ClosedError, ConnectError } from "./errors.ts";
import { maxBufferedOf, type Topic } from "./topic.ts";
import { backoff, delay, type Logger, messageOf, settledOrAborted, signal, yieldToEventLoop } from "./_util.ts";
import { compileHeaderFilter } from "./_header_filter.ts";
import type { Delivery, MessageHandler } from "./consumed_message.ts";
import type { Consumer, ConsumerStats } from "./consumer.ts";
import { checkSubscribeOptions, type SubscribeOptions } from "./subscribe_options.ts";
import { handleMessage, type Handling } from "./_handle_message.ts";
import { batchLimit, drainedToResume, dropUnstarted, isFull, type PartitionQueue, queueOf, type Subscription } from "./_flow.ts";
import type { Tracing } from "./tracing.ts";
import type { TransactionalProducer, TransactionalProducerOptions } from "./transaction.ts";
import { bindTransactional } from "./consume_transform_produce.ts";

/** What the consumer needs from the registry entry that owns it. */
export interface ConsumerOwner {
  /** Create and connect the group member client. */
  connect(events: ConsumerEvents): Promise<ConsumerClient>;
  /** The consumer closed; the registry forgets it. */
  closed(consumer: SharedConsumer): void;
  /** A client `connect` gave was closed again before it went live (a fatal error during its start). */
  lost(): void;
  readonly logger: Logger;
  /** Bound on waiting for handlers in progress at close. */
  readonly closeTimeoutMs: number;
  /** `maxBufferedMessages` of a topic whose definition set none: the registry's default, else kshare's. */
  readonly maxBufferedMessages: number;
  /** The registry's tracing; undefined without `RegistryOptions.tracing`. */
  readonly tracing: Tracing | undefined;
  /** The transactional producer of an id in this consumer's security context, for a `transactionalHandler`. */
  readonly transactionalProducer?: (options: TransactionalProducerOptions) => Promise<TransactionalProducer>;
}

const POLL_TIMEOUT_MS = 100;

/** Internal implementation of {@link Consumer}. */
export class SharedConsumer implements Consumer {
  readonly groupId: string;
  readonly fingerprint: string;
  #owner: ConsumerOwner;
  #subs = new Map<string, Subscription>();
  #client: ConsumerClient | undefined;
  #starting: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Aborted at close: ends every wait (their listeners are removed when a wait ends, so waits leave nothing on it). */
  #stop = new AbortController();
  /** Resolved (then replaced) when the loop may have something to do: a subscription, a resume, close. */
  #wake = signal();
  /** Attempts whose handler promise is pending: their signals are aborted at close. */
  #attempts = new Set<Delivery>();
  #resubscribePending = false;
  /** Most messages the poll in flight may return; 0 between polls. */
  #polling = 0;
  #subscriptions = 0;
  #active = new Set<Promise<void>>();
  /** Partitions with a handled offset not yet marked for commit ({@link PartitionQueue.handled}). */
  #unmarked = new Set<PartitionQueue>();
  /** Replacing a client that hit a fatal error (see {@link #fatal}). */
  #recovering: Promise<void> | undefined;

  /** What {@link handleMessage} needs of this consumer. */
  #handling: Handling;

  constructor(fingerprint: string, groupId: string, owner: ConsumerOwner) {
    this.fingerprint = fingerprint;
    this.groupId = groupId;
    this.#owner = owner;
    this.#handling = {
      groupId,
      logger: owner.logger,
      tracing: owner.tracing,
      attempts: this.#attempts,
      closing: () => this.#closing !== undefined,
    };
  }

  subscribe<S extends v.GenericSchema>(topic: Topic<S>, handler: MessageHandler<v.InferOutput<S>>, options: SubscribeOptions = {}): this {
    if (this.#closing) throw new ClosedError(`Consumer of group "${this.groupId}"`);
    if (this.#subs.has(topic.name)) {
      throw new Error(`Topic "${topic.name}" already has a handler in group "${this.groupId}"; use another group to consume it again`);
    }
    if (typeof handler !== "function") throw new TypeError(`Topic "${topic.name}": handler must be a function`);
    checkSubscribeOptions(topic.name, options);
    const { headerFilter } = options;
    this.#subs.set(topic.name, {
      topic: topic as unknown as Topic,
      handler: bindTransactional(topic.name, handler as MessageHandler<unknown>, {
        client: () => this.#client,
        transactionalProducer: this.#owner.transactionalProducer,
      }),
      options,
      maxBuffered: maxBufferedOf(topic as unknown as Topic, this.#owner.maxBufferedMessages),
      accepts: headerFilter === undefined ? undefined : compileHeaderFilter(topic.name, headerFilter),
      filtered: 0,
      partitions: new Map(),
      assigned: new Set(),
      buffered: 0,
      peak: 0,
      paused: false,
      pausedPartitions: new Set(),
      resumePending: false,
    });
    if (this.#client && !this.#resubscribePending) {
      this.#resubscribePending = true;
      queueMicrotask(() => {
        this.#resubscribePending = false;
        this.#subscribe().catch((e) => this.#owner.logger.error("kshare: re-subscription failed", { group: this.groupId, error: messageOf(e) }));
      });
    }
    return this;
  }

  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError(`Consumer of group "${this.groupId}"`));
    if (this.#starting === undefined) {
      const attempt: Promise<void> = this.#start().catch((e) => {
        if (this.#starting === attempt) this.#starting = undefined; // a failed start is not cached
        throw e;
      });
      this.#starting = attempt;
    }
    return this.#starting;
  }

  async #start(): Promise<void> {
    // deno-lint-ignore prefer-const -- read by the events, which can come before connect() returns.
    let client: ConsumerClient | undefined;
    let early: Error | undefined;
    const events: ConsumerEvents = {
      onAssign: (partitions) => client === this.#client && this.#assigned(partitions),
      onRevoke: (partitions) => client === this.#client ? this.#revoked(partitions) : undefined,
      onFatal: (error) => client ? this.#fatal(client, error) : (early = error),
      onError: (error) => this.#owner.logger.warn("kshare: consumer error", { group: this.groupId, error: error.message }),
    } satisfies ConsumerEvents & ClientEvents;
    client = await this.#owner.connect(events);
    if (early) {
      await this.#discard(client);
      throw new ConnectError(`Consumer of group "${this.groupId}" failed at start`, { cause: early });
    }
    this.#client = client;
    if (this.#closing) return;
    try {
      await this.#subscribe();
    } catch (error) {
      // Closed here, before the error reaches start() or #replace's next attempt: no later attempt may overwrite an open client.
      if (this.#client === client) {
        this.#client = undefined;
        await this.#discard(client);
        throw error;
      }
    }
    // A fatal error meanwhile handed this client to its replacement, which closes it and runs its own loop: wait for that.
    if (this.#client !== client) return this.#recovering;
    this.#loop = this.#run(client);
  }

  /** A client `connect` gave that never went live: closed (bounded), and no longer counted live. */
  async #discard(client: ConsumerClient): Promise<void> {
    await this.#closeFailed(client);
    this.#owner.lost();
  }

  /**
   * Close a client that failed, waiting at most the close bound: a close that
   * hangs finishes on its own and must not hold up an error or a replacement.
   */
  async #closeFailed(client: ConsumerClient): Promise<void> {
    const closed = client.close().catch((e) =>
      this.#owner.logger.warn("kshare: closing a failed consumer failed", { group: this.groupId, error: messageOf(e) })
    );
    await delay(this.#owner.closeTimeoutMs, closed);
  }

  /**
   * A fatal error ends a client for good (e.g. fenced by a newer instance of
   * its static member id). Its messages not yet started are dropped (their
   * offsets were never stored, so the group delivers them again), its loop
   * ends, and a new member joins with the same subscriptions, retried with
   * backoff until it connects or the consumer closes. Handlers in progress
   * finish; the offsets they mark go to the new member.
   */
  #fatal(client: ConsumerClient, error: Error): void {
    if (this.#client !== client || this.#closing) return;
    this.#owner.logger.error("kshare: consumer hit a fatal error; a new member replaces it", { group: this.groupId, error: error.message });
    this.#client = undefined;
    this.#unmarked.clear();
    for (const sub of this.#subs.values()) {
      sub.assigned.clear();
      for (const queue of sub.partitions.values()) {
        dropUnstarted(sub, queue);
        // Retries of a message in progress stop (the partition's next owner gets it); the new member owns what it is given.
        queue.owner.abort();
        queue.owner = new AbortController();
      }
      // The new member starts with nothing paused; the bound pauses it again if need be.
      sub.paused = false;
      sub.pausedPartitions.clear();
      sub.resumePending = false;
    }
    this.#wake.resolve();
    this.#recovering = this.#replace(client);
    // A start() meanwhile waits for the new member (not for one failed attempt to replace it).
    this.#starting = this.#recovering;
  }

  async #replace(dead: ConsumerClient): Promise<void> {
    const loop = this.#loop;
    this.#loop = undefined;
    await loop; // ends: its client is no longer this.#client
    await this.#closeFailed(dead);
    for (let attempt = 1; !this.#closing; attempt++) {
      try {
        await this.#start();
        return;
      } catch (error) {
        this.#owner.logger.warn("kshare: replacing a failed consumer failed; retrying", { group: this.groupId, attempt, error: messageOf(error) });
        await delay(backoff(attempt, 100, 10_000), this.#stop.signal);
      }
    }
  }

  async #subscribe(): Promise<void> {
    const client = this.#client;
    if (!client || this.#closing || this.#subs.size === 0) return;
    await client.subscribe([...this.#subs.keys()]);
    this.#subscriptions++; // once set: a failed subscribe set nothing
    this.#wake.resolve();
  }

  stats(): ConsumerStats {
    const subs = [...this.#subs.values()];
    return {
      topics: subs.map((s) => s.topic.name),
      subscriptions: this.#subscriptions,
      buffered: Object.fromEntries(subs.map((s) => [s.topic.name, s.buffered])),
      peakBuffered: Object.fromEntries(subs.map((s) => [s.topic.name, s.peak])),
      paused: subs.filter((s) => s.paused).map((s) => s.topic.name),
      maxBufferedMessages: Object.fromEntries(subs.map((s) => [s.topic.name, s.maxBuffered])),
      filtered: Object.fromEntries(subs.filter((s) => s.accepts).map((s) => [s.topic.name, s.filtered])),
      assigned: Object.fromEntries(subs.map((s) => [s.topic.name, [...s.assigned].sort((a, b) => a - b)])),
    };
  }

  /** The poll loop. Ends when the consumer closes. */
  async #run(client: ConsumerClient): Promise<void> {
    while (!this.#closing && this.#client === client) {
      this.#markHandled();
      this.#applyResumes();
      if (this.#subscriptions === 0) {
        // Not a group member yet: wait for a registration.
        await this.#wake.promise; // close resolves it too
        this.#wake = signal();
        continue;
      }
      // With every topic paused the loop still polls: librdkafka serves rebalances and
      // resets max.poll.interval.ms only inside poll, so a member that stops polling holds
      // up its group's rebalance and is evicted. A paused partition yields nothing (pausing
      // discards what librdkafka had fetched for it), so asking for one message then takes
      // nothing beyond the bounds; a poll for none would not run at all in every driver.
      // A topic that drains meanwhile resumes at once if this poll cannot overfill it (see #drained).
      const max = Math.max(1, this.#batchLimit());
      let batch: IncomingMessage[];
      this.#polling = max;
      try {
        batch = await client.poll(max, POLL_TIMEOUT_MS);
      } catch (error) {
        this.#owner.logger.warn("kshare: poll failed", { group: this.groupId, error: messageOf(error) });
        await delay(POLL_TIMEOUT_MS, this.#stop.signal);
        continue;
      } finally {
        this.#polling = 0;
      }
      if (batch.length > 0 && this.#client === client) {
        this.#dispatch(batch);
        // A backlog makes every poll return at once: let timers and I/O (an HTTP server's requests) run between batches.
        await yieldToEventLoop();
      }
    }
  }

  /** Largest batch that cannot overfill any unpaused topic. */
  #batchLimit(): number {
    return batchLimit(this.#subs.values());
  }

  /**
   * Queue a batch, then start a drain for each partition that has none
   * running. Queueing first matters: a synchronous handler's drain runs to
   * the end of its queue at once, so it should find the batch's messages of
   * its partition there.
   */
  #dispatch(batch: IncomingMessage[]): void {
    const starting: Array<[Subscription, PartitionQueue]> = [];
    // Pausing discards what librdkafka had fetched for a partition, so a topic paused before this
    // batch yields nothing unless a pause did not hold (librdkafka dropped it as outdated): such a
    // partition is paused again. Topics this batch pauses are told apart from those.
    let stray: Map<PartitionQueue, Subscription> | undefined;
    let pausedNow: Set<Subscription> | undefined;
    for (const message of batch) {
      const sub = this.#subs.get(message.topic);
      if (!sub) continue; // not ours (cannot happen: topics are never unregistered)
      const queue = queueOf(sub, message.partition);
      // Fetched before its partition was revoked (a poll in flight meanwhile): its next owner gets it.
      if (queue.owner.signal.aborted) continue;
      queue.messages.push(message);
      sub.buffered++;
      if (sub.buffered > sub.peak) sub.peak = sub.buffered;
      if (!sub.paused) {
        if (isFull(sub)) {
          this.#pause(sub);
          (pausedNow ??= new Set()).add(sub);
        }
      } else if (!pausedNow?.has(sub)) (stray ??= new Map()).set(queue, sub);
      if (!queue.running) {
        queue.running = true;
        starting.push([sub, queue]);
      }
    }
    for (const [queue, sub] of stray ?? []) {
      this.#owner.logger.warn("kshare: a paused partition yielded messages; pausing it again", {
        group: this.groupId,
        partition: `${sub.topic.name}[${queue.partition}]`,
      });
      sub.pausedPartitions.delete(queue.partition);
      this.#pausePartitions(sub, [queue.partition]);
    }
    for (const [sub, queue] of starting) {
      const drained = this.#drain(sub, queue).finally(() => this.#active.delete(drained));
      this.#active.add(drained);
      queue.drain = drained;
    }
  }

  #pause(sub: Subscription): void {
    sub.paused = true;
    this.#pausePartitions(sub, [...sub.assigned]);
  }

  #pausePartitions(sub: Subscription, partitions: readonly number[]): void {
    const fresh = partitions.filter((partition) => !sub.pausedPartitions.has(partition));
    if (fresh.length === 0 || !this.#client) return;
    for (const partition of fresh) sub.pausedPartitions.add(partition);
    this.#client.pause(fresh.map((partition) => ({ topic: sub.topic.name, partition })));
  }

  /**
   * Resume what this member paused of `partitions`, and only that: every
   * pause or resume call makes librdkafka start the partition's fetcher over
   * (a new op version), also for a partition it paused itself during a
   * rebalance, so a call for a partition that is not ours to resume costs a
   * refetch for nothing.
   */
  #resumePartitions(sub: Subscription, partitions: Iterable<number>): void {
    const paused = [...partitions].filter((partition) => sub.pausedPartitions.delete(partition));
    if (paused.length === 0 || !this.#client) return;
    this.#client.resume(paused.map((partition) => ({ topic: sub.topic.name, partition })));
  }

  /**
   * A paused topic drained to half its bound. It resumes now unless the poll
   * in flight, sized without it, could return more of its messages than it
   * has room for; then the loop resumes it after that poll. With every topic
   * paused the poll in flight asks for one message, so a drained topic
   * resumes at once rather than up to POLL_TIMEOUT_MS later, while its
   * handlers still have half a buffer to work through.
   */
  #drained(sub: Subscription): void {
    if (this.#polling > sub.maxBuffered - sub.buffered) return this.#resumeSoon(sub);
    sub.resumePending = false;
    sub.paused = false;
    try {
      this.#resumePartitions(sub, [...sub.pausedPartitions]);
    } catch (error) {
      // Called from a drain, whose promise nobody awaits: a driver's throw (a client closing) is logged, never unhandled.
      this.#owner.logger.warn("kshare: could not resume a drained topic", { group: this.groupId, topic: sub.topic.name, error: messageOf(error) });
    }
  }

  /** Resume `sub` from the poll loop, between two polls. */
  #resumeSoon(sub: Subscription): void {
    sub.resumePending = true;
    this.#wake.resolve();
  }

  /** Resume the topics that drained; called by the loop between polls only. */
  #applyResumes(): void {
    for (const sub of this.#subs.values()) {
      if (!sub.resumePending) continue;
      sub.resumePending = false;
      sub.paused = false;
      this.#resumePartitions(sub, [...sub.pausedPartitions]);
    }
  }

  /** Handle one partition's queued messages in order. */
  async #drain(sub: Subscription, queue: PartitionQueue): Promise<void> {
    while (queue.messages.length > 0 && !this.#closing) {
      const message = queue.messages[0]!;
      // A handler that returned without a promise is not awaited: no turn of the microtask queue per message.
      const outcome = handleMessage(this.#handling, sub, message, queue.owner.signal);
      const handled = typeof outcome === "boolean" ? outcome : await outcome;
      queue.messages.shift();
      sub.buffered--;
      if (handled) {
        queue.handled = message.offset + 1;
        this.#unmarked.add(queue);
      }
      if (drainedToResume(sub)) this.#drained(sub);
    }
    queue.running = false;
  }

  /**
   * Mark the handled offsets for commit: one per partition, in one call. A
   * partition's queue is handled in order, so its last handled offset covers
   * every message before it.
   */
  #markHandled(): void {
    if (this.#unmarked.size === 0 || !this.#client) return; // no client: kept for the next one
    const offsets: TopicPartitionOffset[] = [];
    for (const queue of this.#unmarked) offsets.push({ topic: queue.topic, partition: queue.partition, offset: queue.handled });
    this.#unmarked.clear();
    try {
      this.#client.commit(offsets);
    } catch (error) {
      // A partition was revoked meanwhile: its new owner will see the messages again (at-least-once).
      this.#owner.logger.warn("kshare: could not mark offsets", {
        group: this.groupId,
        partitions: offsets.map((o) => `${o.topic}[${o.partition}]`).join(", "),
        error: messageOf(error),
      });
    }
  }

  #assigned(partitions: TopicPartition[]): void {
    for (const { topic, partition } of partitions) {
      const sub = this.#subs.get(topic);
      if (!sub) continue;
      sub.assigned.add(partition);
      const queue = queueOf(sub, partition);
      if (queue.owner.signal.aborted) queue.owner = new AbortController();
    }
    // Told before the driver assigns them (see ConsumerEvents): a topic
    // paused now pauses what it is given before their fetchers start.
    // Nothing is resumed here: a revocation resumed what it took away.
    for (const sub of this.#subs.values()) {
      if (!sub.paused) continue;
      this.#pausePartitions(sub, partitions.filter((p) => p.topic === sub.topic.name).map((p) => p.partition));
    }
  }

  /**
   * The driver unassigns `partitions` once this settled. Messages not yet
   * started are dropped and retries stop at once; the handler runs in
   * progress are waited for (each attempt ends within `handlerTimeoutMs`;
   * close ends the wait), so the partitions' next owner does not handle them
   * at the same time. What was handled is marked before and after the wait:
   * committed with the revocation, not handled again by the next owner.
   */
  #revoked(partitions: TopicPartition[]): Promise<void> | undefined {
    this.#markHandled();
    const running: Promise<void>[] = [];
    const revoked = new Map<Subscription, number[]>();
    for (const { topic, partition } of partitions) {
      const sub = this.#subs.get(topic);
      if (!sub) continue;
      sub.assigned.delete(partition);
      const mine = revoked.get(sub);
      if (mine) mine.push(partition);
      else revoked.set(sub, [partition]);
      const queue = queueOf(sub, partition);
      queue.owner.abort();
      dropUnstarted(sub, queue);
      if (queue.running && queue.drain) running.push(queue.drain);
    }
    // librdkafka keeps a partition's pause across its revocation: resumed now,
    // it cannot come back paused in a later assignment after its topic resumed.
    for (const [sub, mine] of revoked) {
      try {
        this.#resumePartitions(sub, mine);
      } catch (error) {
        this.#owner.logger.warn("kshare: could not resume revoked partitions", {
          group: this.groupId,
          partitions: mine.map((partition) => `${sub.topic.name}[${partition}]`).join(", "),
          error: messageOf(error),
        });
      }
    }
    for (const sub of this.#subs.values()) {
      if (drainedToResume(sub)) this.#resumeSoon(sub);
    }
    return running.length === 0 ? undefined : this.#finishRevocation(running);
  }

  async #finishRevocation(running: Promise<void>[]): Promise<void> {
    await settledOrAborted(Promise.all(running), this.#stop.signal);
    this.#markHandled();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    this.#wake.resolve();
    const closed = new ClosedError(`Consumer of group "${this.groupId}"`);
    for (const attempt of this.#attempts) attempt.abort(closed);
    for (const sub of this.#subs.values()) {
      for (const queue of sub.partitions.values()) queue.owner.abort();
    }
    await this.#recovering;
    try {
      await this.#starting;
    } catch {
      // never connected: nothing to close
    }
    await this.#loop;
    // Handlers in progress may finish (and mark their offsets) within the bound.
    await delay(this.#owner.closeTimeoutMs, Promise.all(this.#active));
    this.#markHandled();
    try {
      await this.#client?.close();
    } finally {
      this.#owner.closed(this);
    }
  }
}
