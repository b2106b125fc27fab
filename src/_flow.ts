/**
 * Flow control of the shared consumer: per-topic buffers and per-partition
 * queues, and the rules that bound them. Pure bookkeeping, no client: the
 * consumer applies what these functions decide.
 *
 * A topic's "buffered" count is its messages fetched from the client and not
 * yet finished by the handler (queued or in progress). When it reaches the
 * topic's bound ({@link Subscription.maxBuffered}), the topic's assigned partitions are paused;
 * when it drains to half, they are resumed. Each poll asks for at most the
 * smallest free capacity of the unpaused topics ({@link batchLimit}), so one
 * poll can never overfill a topic, and a paused topic never stalls the others.
 *
 * @module
 */
import type { IncomingMessage } from "./driver.ts";
import type { MessageHandler } from "./consumed_message.ts";
import type { SubscribeOptions } from "./subscribe_options.ts";
import type { Topic } from "./topic.ts";

/** Most messages one poll may return. */
export const MAX_POLL_BATCH = 500;

/** One partition's messages fetched and not yet finished, handled in order by one drain at a time. */
export interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  readonly messages: IncomingMessage[];
  /** A drain is working through {@link messages} (the first one is in progress). */
  running: boolean;
  /** The drain started last; settled once it stopped ({@link running} false). */
  drain: Promise<void> | undefined;
  /** Offset + 1 of the last handled message, while not yet marked for commit. */
  handled: number;
  /**
   * Aborted when this member stops owning the partition: at its revocation,
   * when its client died, at close. It ends the retries of the message in
   * progress (its next owner handles it again). While aborted by a
   * revocation, messages of the partition fetched before it are dropped; the
   * next assignment of the partition replaces it.
   */
  owner: AbortController;
}

/** The queue of a partition, made when first needed. */
export function queueOf(sub: Subscription, partition: number): PartitionQueue {
  let queue = sub.partitions.get(partition);
  if (!queue) {
    queue = { topic: sub.topic.name, partition, messages: [], running: false, drain: undefined, handled: -1, owner: new AbortController() };
    sub.partitions.set(partition, queue);
  }
  return queue;
}

/** One topic registered on the consumer: its handler and its flow-control state. */
export interface Subscription {
  readonly topic: Topic;
  readonly handler: MessageHandler<unknown>;
  readonly options: SubscribeOptions;
  /** The topic's `maxBufferedMessages` in effect: its own, else the registry's default, else kshare's. */
  readonly maxBuffered: number;
  /** Whether a record's headers pass the topic's `headerFilter`; undefined without one. */
  readonly accepts: ((headers: IncomingMessage["headers"]) => boolean) | undefined;
  /** Records skipped by the header filter. */
  filtered: number;
  readonly partitions: Map<number, PartitionQueue>;
  /** Assigned partitions of this topic. */
  readonly assigned: Set<number>;
  buffered: number;
  peak: number;
  paused: boolean;
  /**
   * The partitions this member asked librdkafka to pause (and has not resumed
   * yet): a resume covers exactly these, and a revocation resumes the ones it
   * takes away, so no partition carries a pause into its next assignment.
   */
  readonly pausedPartitions: Set<number>;
  /** Drained while paused: the loop resumes it before its next poll. */
  resumePending: boolean;
}

/** Largest batch that cannot overfill any unpaused topic; 0 when every topic is paused (or none is subscribed). */
export function batchLimit(subs: Iterable<Subscription>): number {
  let limit = MAX_POLL_BATCH;
  let open = false;
  for (const sub of subs) {
    if (sub.paused) continue;
    open = true;
    limit = Math.min(limit, sub.maxBuffered - sub.buffered);
  }
  return open ? Math.max(0, limit) : 0;
}

/** The topic's buffer is full: pause it. */
export function isFull(sub: Subscription): boolean {
  return sub.buffered >= sub.maxBuffered;
}

/** A paused topic drained to half its bound: resume it. */
export function drainedToResume(sub: Subscription): boolean {
  return sub.paused && sub.buffered <= Math.floor(sub.maxBuffered / 2);
}

/**
 * Drop the messages of `queue` no handler has started (all but the one in
 * progress, if any): the partition's next owner, or a new member, gets them
 * again since their offsets were never stored.
 */
export function dropUnstarted(sub: Subscription, queue: PartitionQueue): void {
  sub.buffered -= queue.messages.splice(queue.running ? 1 : 0).length;
}
