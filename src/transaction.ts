/**
 * Transactional publishing: a producer of its own per (security context,
 * transactional id), running one transaction at a time.
 *
 * Ownership: the registry creates the client and the handle, and closes the
 * client once the handle is retired or the registry closes, only after the
 * transaction under way (if any) has ended, so a transactional call never
 * runs on a closed client.
 *
 * @module
 */
import type * as v from "valibot";
import type { ConsumerClient, DeliveryReport, OutgoingRecord, ProducerTransactions, TopicPartitionOffset } from "./driver.ts";
import { ClosedError, TransactionError } from "./errors.ts";
import { type HandleClient, ProducerHandle } from "./producer.ts";
import type { PublishOptions, PublishRecord } from "./publish_options.ts";
import type { Topic } from "./topic.ts";
import type { Tracing } from "./tracing.ts";
import { type Logger, messageOf } from "./_util.ts";
import { ERR__FENCED, ERR_INVALID_PRODUCER_EPOCH, ERR_PRODUCER_FENCED } from "./_kafka_codes.ts";
import { isKafkaError } from "./kafka_error.ts";

/**
 * Options of `registry.transactionalProducer`.
 *
 * @example
 * ```ts
 * import type { TransactionalProducerOptions } from "@kshare/kshare";
 * // One id per instance of the service that owns the work, stable across its restarts.
 * const options: TransactionalProducerOptions = { transactionalId: "billing-0" };
 * ```
 */
export interface TransactionalProducerOptions {
  /**
   * librdkafka's `transactional.id`: a non-empty string. A producer that
   * registers an id fences the one that held it before (its transactions
   * fail; see {@link TransactionError}). Not a secret: it appears in stats
   * and errors, so it should not be made of credentials.
   */
  readonly transactionalId: string;
}

/**
 * The publishes of one transaction (the argument of
 * {@link TransactionalProducer.transaction}). Each validates and encodes as
 * `Producer.publish` does and resolves once the broker acknowledged the
 * record; the record becomes visible to `read_committed` readers only when
 * the transaction commits.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry, type Transaction } from "@kshare/kshare";
 *
 * const debits = defineTopic({ name: "debits", schema: v.object({ account: v.string(), cents: v.number() }) });
 * const credits = defineTopic({ name: "credits", schema: v.object({ account: v.string(), cents: v.number() }) });
 * async function transfer(tx: Transaction, from: string, to: string, cents: number): Promise<void> {
 *   await Promise.all([tx.publish(debits, { account: from, cents }), tx.publish(credits, { account: to, cents })]);
 * }
 * const producer = await registry.transactionalProducer({ bootstrapServers: "localhost:9092" }, { transactionalId: "bank-0" });
 * await producer.transaction((tx) => transfer(tx, "alice", "bob", 500)); // both or neither
 * ```
 */
export interface Transaction {
  /** As `Producer.publish`, inside this transaction. Rejects once the transaction has ended. */
  publish<S extends v.GenericSchema>(topic: Topic<S>, value: v.InferInput<S>, options?: PublishOptions): Promise<DeliveryReport>;
  /** As `Producer.publishBatch`, inside this transaction. Rejects once the transaction has ended. */
  publishBatch<S extends v.GenericSchema>(topic: Topic<S>, records: readonly PublishRecord<v.InferInput<S>>[]): Promise<DeliveryReport[]>;
}

/**
 * A transactional producer: the one producer of a (security context,
 * transactional id), separate from the context's shared producer. Obtain it
 * with `registry.transactionalProducer(ctx, { transactionalId })`; the
 * registry owns and closes its client.
 *
 * @example Commit on success, abort on a throw
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, registry, TransactionError } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await registry.transactionalProducer({ bootstrapServers: "localhost:9092" }, { transactionalId: "orders-0" });
 * try {
 *   const count = await producer.transaction(async (tx) => {
 *     await tx.publish(orders, { id: "o-1" });
 *     await tx.publish(orders, { id: "o-2" });
 *     return 2;
 *   }); // committed: both visible to read_committed readers
 *   console.log(`${count} records committed`);
 * } catch (error) {
 *   if (error instanceof TransactionError && error.fenced) console.error("another instance took over orders-0");
 *   throw error;
 * }
 * ```
 */
export interface TransactionalProducer {
  /** Registry key of its security context (see `Producer.fingerprint`). */
  readonly fingerprint: string;
  /** Its transactional id. */
  readonly transactionalId: string;
  /**
   * True once its client hit a fatal error (it was fenced, among others):
   * every later `transaction` rejects with {@link TransactionError}, and
   * `registry.transactionalProducer()` connects a fresh producer.
   */
  readonly retired: boolean;
  /**
   * Run `work` in a transaction: begin, run it, wait until every record it
   * published was acknowledged, then commit, and resolve with what `work`
   * returned. One transaction at a time: a call made while another runs
   * waits for its turn (never interleaved).
   *
   * If `work` throws (or rejects), the transaction is aborted, once its
   * publishes have settled, and the same error is rethrown unchanged. If a
   * record handed to the producer was not delivered (even one whose failure
   * `work` caught: the transaction is all or nothing) or the commit failed,
   * the transaction is aborted and the call rejects with a
   * {@link TransactionError}. A publish refused before anything was sent
   * (`ValidationError`, `TypeError` for a bad option) is no part of it. If
   * the producer was fenced or hit another fatal error, the call rejects
   * with a `TransactionError` whose `fatal` (and, when fenced, `fenced`) is
   * true, whatever `work` threw: the producer is retired, nothing of the
   * transaction is committed. So is a producer whose abort failed (a
   * transaction neither committed nor aborted would block every later one;
   * the next producer's init ends it). Rejects with `ClosedError` once the
   * registry closes its producers.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T> | T): Promise<T>;
}

/** What a transactional handle needs from the registry. */
export interface TransactionalOwner {
  /** Whether the registry is closing its producers: new transactions are refused. */
  readonly closing: boolean;
  /** Take the producer out of service after a fatal error (the registry closes its client once {@link TransactionalProducerHandle.idle}). */
  retire(error: Error): void;
  readonly tracing: Tracing | undefined;
  readonly logger: Logger;
}

/** Bound of each transactional call: init, commit, abort. */
export const TRANSACTION_TIMEOUT_MS = 30_000;

/** librdkafka's codes for a producer fenced by a newer one with the same transactional id. */
const FENCED_CODES = [ERR__FENCED, ERR_INVALID_PRODUCER_EPOCH, ERR_PRODUCER_FENCED];

/** Whether `error` (or an error it was caused by) says the producer was fenced. */
function isFenced(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (isKafkaError(e, ...FENCED_CODES)) return true;
  }
  return false;
}

const isFatal = (error: unknown) => (error as { fatal?: unknown } | undefined)?.fatal === true;

/** Internal implementation of {@link TransactionalProducer}. The registry creates one per client. */
export class TransactionalProducerHandle implements TransactionalProducer {
  readonly fingerprint: string;
  readonly transactionalId: string;
  readonly #transactions: ProducerTransactions;
  readonly #owner: TransactionalOwner;
  /** Validates, encodes and traces as the shared producer does, over this client. */
  readonly #publisher: ProducerHandle;
  /** The deliveries of the transaction under way: a record counts once handed to the client. */
  #current: Promise<DeliveryReport>[] | undefined;
  /** Settles once the last transaction queued has ended; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  /** Why it was retired, once it was. */
  #retiredBy: Error | undefined;
  /** A transaction's errors said it was fenced (the retirement's own error may not: see confluent.ts). */
  #fenced = false;

  constructor(
    fingerprint: string,
    transactionalId: string,
    client: Pick<HandleClient, "produce" | "flush" | "ping">,
    transactions: ProducerTransactions,
    owner: TransactionalOwner,
  ) {
    this.fingerprint = fingerprint;
    this.transactionalId = transactionalId;
    this.#transactions = transactions;
    this.#owner = owner;
    const tracked: HandleClient = {
      produce: (record: OutgoingRecord) => {
        const delivery = client.produce(record);
        this.#current?.push(delivery);
        return delivery;
      },
      forget: () => {
        throw new TypeError("A transaction's records are always awaited");
      },
      flush: (timeoutMs) => client.flush(timeoutMs),
      ping: (timeoutMs) => client.ping(timeoutMs),
    };
    this.#publisher = new ProducerHandle(fingerprint, tracked, {
      reacquire: () => Promise.reject(this.#retiredError()),
      get closing() {
        return owner.closing;
      },
      undelivered: () => {},
      tracing: owner.tracing,
    });
  }

  get retired(): boolean {
    return this.#retiredBy !== undefined;
  }

  /** Called by the registry (a fatal error): later transactions are refused. */
  retire(error: Error): void {
    this.#retiredBy ??= error;
  }

  /**
   * Put `offsets` (the next offsets to read) of `consumer`'s group into the
   * transaction under way: they commit with it, or not at all. Called from
   * inside a `transaction`'s work only (consume-transform-produce); not on
   * the public {@link TransactionalProducer}, whose callers hold no client.
   */
  sendOffsets(offsets: readonly TopicPartitionOffset[], consumer: ConsumerClient): Promise<void> {
    if (this.#current === undefined) return Promise.reject(new TransactionError(this.transactionalId, "has no transaction under way to send offsets to"));
    if (this.#transactions.sendOffsets === undefined) {
      return Promise.reject(new TransactionError(this.transactionalId, "cannot send a consumer's offsets: its driver does not support it"));
    }
    return this.#transactions.sendOffsets(offsets, consumer, TRANSACTION_TIMEOUT_MS);
  }

  /** Settles once no transaction runs or waits (the last one queued ended). */
  idle(): Promise<void> {
    return this.#tail;
  }

  transaction<T>(work: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (typeof work !== "function") return Promise.reject(new TypeError("transaction: work must be a function"));
    const run = this.#tail.then(() => this.#run(work));
    this.#tail = run.then(() => {}, () => {});
    return run;
  }

  async #run<T>(work: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (this.#owner.closing) throw new ClosedError("The registry");
    if (this.#retiredBy !== undefined) throw this.#retiredError();
    try {
      await this.#transactions.begin();
    } catch (error) {
      throw this.#failed("could not begin", [error]);
    }
    const deliveries: Promise<DeliveryReport>[] = [];
    this.#current = deliveries;
    let open = true;
    const publisher = this.#publisher;
    const over = () => Promise.reject(new TransactionError(this.transactionalId, "is over: publish inside the work, before it returns"));
    const tx: Transaction = {
      publish: (topic, value, options) => open ? publisher.publish(topic, value, options) : over(),
      publishBatch: (topic, records) => open ? publisher.publishBatch(topic, records) : over(),
    };
    let result: T;
    try {
      result = await work(tx);
    } catch (error) {
      open = false;
      this.#current = undefined;
      await Promise.allSettled(deliveries);
      // Unchanged, unless the producer died (a publish the work awaited failed for that, say):
      // that it was fenced is what the caller must hear. An abort that failed otherwise
      // retired the producer and was logged; the work's error is still the one to report.
      const aborted = await this.#abort(error);
      if (aborted?.fatal && (aborted.fenced || isFatal(aborted.cause))) throw aborted;
      if (this.#retiredBy !== undefined && aborted === undefined) throw this.#failed("was aborted", [error]);
      throw error;
    }
    open = false;
    this.#current = undefined;
    const outcomes = await Promise.allSettled(deliveries);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as unknown);
    if (failed.length > 0) {
      const aborted = await this.#abort(failed[0]);
      if (aborted !== undefined) throw aborted;
      throw this.#failed(`was aborted: ${failed.length} of ${deliveries.length} records were not delivered`, failed);
    }
    try {
      await this.#transactions.commit(TRANSACTION_TIMEOUT_MS);
    } catch (error) {
      if (isFatal(error)) throw this.#failed("could not commit", [error]);
      // Abortable, or timed out (a commit that goes on in the background: the abort then
      // fails, and the producer is retired, its successor's init ending the transaction).
      const aborted = await this.#abort(error);
      throw aborted ?? this.#failed("could not commit and was aborted", [error]);
    }
    return result;
  }

  /**
   * Abort the transaction under way (`reason`: why). Resolves with undefined
   * once aborted. If the abort failed, the producer is retired, whatever the
   * failure: a transaction left neither committed nor aborted would refuse
   * every later one, while a fresh producer's init ends it. It then resolves
   * with the error to report (`fatal` set), and logs the failure.
   */
  async #abort(reason: unknown): Promise<TransactionError | undefined> {
    try {
      await this.#transactions.abort(TRANSACTION_TIMEOUT_MS);
      return undefined;
    } catch (error) {
      this.#owner.logger.warn("kshare: aborting a transaction failed; its producer is retired", {
        transactionalId: this.transactionalId,
        error: messageOf(error),
        reason: messageOf(reason),
      });
      return this.#failed("could not be aborted", [error, reason], true);
    }
  }

  /**
   * The error of a transaction that failed with `errors` (the first is the
   * one reported, unless another, or the producer's retirement, says more:
   * that it was fenced, or fatal). A fatal or fenced one retires the producer.
   */
  #failed(what: string, errors: readonly unknown[], retire = false): TransactionError {
    const known = this.#retiredBy === undefined ? errors : [...errors, this.#retiredBy];
    const error = known.find(isFenced) ?? known.find(isFatal) ?? errors[0];
    const fenced = this.#fenced ||= isFenced(error);
    const fatal = retire || fenced || isFatal(error) || this.#retiredBy !== undefined;
    if (fatal) this.#owner.retire(error instanceof Error ? error : new Error(messageOf(error)));
    const why = fenced
      ? ": the producer was fenced by a newer producer with the same transactional id; it is retired"
      : fatal
      ? `: the producer ${retire ? "is" : "hit a fatal error; it is"} retired`
      : "";
    return new TransactionError(this.transactionalId, `${what}${why} (${messageOf(error)})`, { cause: error, fatal, fenced });
  }

  #retiredError(): TransactionError {
    const cause = this.#retiredBy;
    const fenced = this.#fenced || isFenced(cause);
    return new TransactionError(
      this.transactionalId,
      `has a retired producer (${fenced ? "fenced" : "fatal error"}: ${messageOf(cause)}); call registry.transactionalProducer() for a new one`,
      { cause, fatal: true, fenced },
    );
  }
}
