/**
 * Consume-transform-produce: a topic handler whose publishes and the
 * consumed record's offset commit in one transaction, so a read_committed
 * reader sees each record's outputs once, however often it was retried.
 *
 * {@link transactionalHandler} only tags a handler; the shared consumer
 * binds it at `subscribe` ({@link bindTransactional}) to the transactional
 * producer of its own security context and to its group member client. One
 * transaction per consumed record: begin, run the handler with a
 * {@link Transaction}, send the record's next offset with the member's group
 * metadata, commit. A throw aborts it, and the consumer's retry policy
 * applies to the record as to any handler's failure. After the commit the
 * consumer marks and commits the offset through its normal path too.
 *
 * @module
 */
import type { ConsumedMessage, MessageHandler } from "./consumed_message.ts";
import type { ConsumerClient } from "./driver.ts";
import { ClosedError } from "./errors.ts";
import { type Transaction, type TransactionalProducer, TransactionalProducerHandle, type TransactionalProducerOptions } from "./transaction.ts";

/**
 * The handler of a consume-transform-produce subscription: like a
 * `MessageHandler`, with the record's transaction to publish through. What it
 * publishes with `tx` commits together with the record's offset, or not at
 * all; a throw aborts the transaction and the record is retried under the
 * subscription's retry policy.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type TransactionalMessageHandler } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), cents: v.number() }) });
 * const invoices = defineTopic({ name: "invoices", schema: v.object({ order: v.string(), cents: v.number() }) });
 * const invoice: TransactionalMessageHandler<v.InferOutput<typeof orders.schema>> = async (message, tx) => {
 *   await tx.publish(invoices, { order: message.value.id, cents: message.value.cents });
 * };
 * ```
 */
export type TransactionalMessageHandler<T> = (message: ConsumedMessage<T>, tx: Transaction) => void | Promise<void>;

/** Where a tagged handler keeps what {@link bindTransactional} needs. */
const TRANSACTIONAL = Symbol("kshare.transactionalHandler");

interface Tagged {
  readonly [TRANSACTIONAL]: { readonly transactionalId: string; readonly handler: TransactionalMessageHandler<unknown> };
}

/**
 * Make `handler` a consume-transform-produce handler for
 * `consumer.subscribe`: each consumed record is handled in a transaction of
 * the transactional producer `options.transactionalId` of the consumer's
 * security context (the one `registry.transactionalProducer` gives), which
 * also carries the record's offset (its next offset, with the consumer's
 * group metadata). The handler's publishes through `tx` and the offset
 * commit together: a `read_committed` reader sees each record's outputs
 * exactly once, even when the handler failed and was retried. A throw aborts
 * the transaction and the record goes through the subscription's retry
 * policy (by default retried with backoff until it succeeds).
 *
 * Records are handled in order per partition; the transactions of one
 * transactional id run one at a time, so partitions (and topics) sharing it
 * take turns. Use one transactional id per consumer instance, stable across
 * its restarts: a restarted instance then fences its zombie. Works only as
 * the handler given to `consumer.subscribe`; called directly, it rejects.
 *
 * @example Invoice every order exactly once
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry, transactionalHandler } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), cents: v.number() }) });
 * const invoices = defineTopic({ name: "invoices", schema: v.object({ order: v.string(), cents: v.number() }) });
 * await registry.consumer({ bootstrapServers: "localhost:9092" }, "billing")
 *   .subscribe(
 *     orders,
 *     transactionalHandler({ transactionalId: "billing-0" }, async (message, tx) => {
 *       await tx.publish(invoices, { order: message.value.id, cents: message.value.cents });
 *     }),
 *   )
 *   .start();
 * ```
 */
export function transactionalHandler<T>(options: TransactionalProducerOptions, handler: TransactionalMessageHandler<T>): MessageHandler<T> {
  const transactionalId = (options as TransactionalProducerOptions | undefined)?.transactionalId;
  if (typeof transactionalId !== "string" || transactionalId.trim() === "") {
    throw new TypeError("transactionalHandler: options.transactionalId must be a non-empty string");
  }
  if (typeof handler !== "function") throw new TypeError("transactionalHandler: handler must be a function");
  const unbound: MessageHandler<T> = () =>
    Promise.reject(new TypeError(`The transactional handler of "${transactionalId}" runs only as a handler given to consumer.subscribe`));
  return Object.assign(unbound, { [TRANSACTIONAL]: { transactionalId, handler: handler as TransactionalMessageHandler<unknown> } });
}

/** What a transactional handler needs from the consumer it is subscribed to. */
export interface TransactionalHooks {
  /** The group member client now; undefined while a failed one is being replaced. */
  client(): ConsumerClient | undefined;
  /** The transactional producer of `options.transactionalId` in the consumer's security context; undefined: none to be had. */
  readonly transactionalProducer: ((options: TransactionalProducerOptions) => Promise<TransactionalProducer>) | undefined;
}

/**
 * The handler the consumer runs for `handler`: itself, unless it came from
 * {@link transactionalHandler}; then the one that runs it in a transaction.
 * `topic` names the subscription in errors.
 */
export function bindTransactional(topic: string, handler: MessageHandler<unknown>, hooks: TransactionalHooks): MessageHandler<unknown> {
  const tag = (handler as Partial<Tagged>)[TRANSACTIONAL];
  if (tag === undefined) return handler;
  const connect = hooks.transactionalProducer;
  if (connect === undefined) throw new TypeError(`Topic "${topic}": this consumer has no transactional producers for a transactionalHandler`);
  const { transactionalId, handler: transform } = tag;
  /**
   * Per partition of this subscription, the next offset whose transaction
   * committed (this process only). An attempt past its handlerTimeoutMs is
   * retried while its transaction may still commit: the retry's transaction
   * waits for it (one at a time per id), then finds its record done here
   * and commits nothing: it is set as soon as `transaction` resolved, before
   * the next transaction's work runs (that one awaits its begin first). A
   * record delivered again after a reassignment, before the consumer's own
   * commit stored its offset, is skipped the same way: its outputs are in.
   */
  const committed = new Map<number, number>();
  const done = (message: ConsumedMessage<unknown>) => (committed.get(message.partition) ?? -1) > message.offset;
  return async function transactional(message: ConsumedMessage<unknown>): Promise<void> {
    if (done(message)) return;
    const producer = await connect({ transactionalId });
    if (!(producer instanceof TransactionalProducerHandle)) throw new TypeError(`Topic "${topic}": not a kshare transactional producer`);
    await producer.transaction(async (tx) => {
      if (done(message)) return;
      await transform(message, tx);
      // Timed out: the consumer has given this attempt up, its retry does the work. At close it
      // still waits (closeTimeoutMs) for attempts under way and commits what finished: go on.
      const { signal } = message;
      if (signal.aborted && !(signal.reason instanceof ClosedError)) throw signal.reason;
      const client = hooks.client();
      if (client === undefined) throw new Error(`Topic "${topic}": the consumer has no live group member to commit offsets for`);
      await producer.sendOffsets([{ topic: message.topic, partition: message.partition, offset: message.offset + 1 }], client);
    });
    committed.set(message.partition, Math.max(committed.get(message.partition) ?? -1, message.offset + 1));
  };
}
