/**
 * The public face of a shared consumer: {@link Consumer}, what
 * `registry.consumer(ctx, groupId)` returns, and its {@link ConsumerStats}.
 * The implementation is `_shared_consumer.ts`.
 *
 * @module
 */
import type * as v from "valibot";
import type { MessageHandler } from "./consumed_message.ts";
import type { SubscribeOptions } from "./subscribe_options.ts";
import type { Topic } from "./topic.ts";

/**
 * Counters of one shared consumer.
 *
 * @example Report backpressure per topic
 * ```ts
 * import { type ConsumerStats, registry } from "@kshare/kshare";
 *
 * const consumer = registry.consumer({ bootstrapServers: "localhost:9092" }, "billing");
 * setInterval(() => {
 *   const stats: ConsumerStats = consumer.stats();
 *   for (const topic of stats.topics) {
 *     const state = stats.paused.includes(topic) ? "paused" : "flowing";
 *     console.log(topic, state, `buffered ${stats.buffered[topic]} (peak ${stats.peakBuffered[topic]})`);
 *   }
 * }, 10_000);
 * ```
 */
export interface ConsumerStats {
  /** Topics registered on this consumer. */
  readonly topics: readonly string[];
  /** How many times the client's subscription was set. */
  readonly subscriptions: number;
  /** Messages buffered (queued or in a handler) per topic, now. */
  readonly buffered: Readonly<Record<string, number>>;
  /** Highest buffered count seen per topic. */
  readonly peakBuffered: Readonly<Record<string, number>>;
  /** Topics whose partitions are paused now. */
  readonly paused: readonly string[];
  /** Per topic, the `maxBufferedMessages` in effect: the topic's own, else the registry's default, else 1000. */
  readonly maxBufferedMessages: Readonly<Record<string, number>>;
  /** Per topic with a `headerFilter`, the records it skipped (committed, never handled). */
  readonly filtered: Readonly<Record<string, number>>;
  /** Per topic, the partitions this member owns now, as the group last assigned them (ascending). */
  readonly assigned: Readonly<Record<string, readonly number[]>>;
}

/**
 * The one consumer of a group in a security context. Get it with
 * `registry.consumer(ctx, groupId)`; register topics with `subscribe`, then
 * `start()`.
 *
 * @example One group member for two topics
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const refunds = defineTopic({ name: "refunds", schema: v.object({ orderId: v.string() }) });
 * const consumer = registry.consumer({ bootstrapServers: "localhost:9092" }, "billing")
 *   .subscribe(orders, (message) => console.log("order", message.value.id))
 *   .subscribe(refunds, (message) => console.log("refund", message.value.orderId));
 * await consumer.start();
 * // ...at shutdown (or close the whole registry):
 * await consumer.close(); // handlers finish, offsets are committed, the member leaves the group
 * ```
 */
export interface Consumer {
  /** The consumer group this member belongs to. */
  readonly groupId: string;
  /** Fingerprint of the security context (its registry key: see `RegistryOptions.defaults` for the one case where they differ). */
  readonly fingerprint: string;
  /**
   * Register a topic's handler. One handler per topic per group: a second
   * registration of the same topic throws. After `start()`, registrations in
   * the same tick are applied with one re-subscription.
   */
  subscribe<S extends v.GenericSchema>(topic: Topic<S>, handler: MessageHandler<v.InferOutput<S>>, options?: SubscribeOptions): this;
  /** Connect (once, however many callers) and subscribe to all registered topics. */
  start(): Promise<void>;
  /** Stop fetching, let handlers in progress finish (bounded), commit and leave the group. Idempotent. */
  close(): Promise<void>;
  /** Counters, for tests and metrics. */
  stats(): ConsumerStats;
}
