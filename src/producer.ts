/**
 * The producer handle: validates, encodes and publishes records on one shared
 * producer client.
 *
 * @module
 */
import type * as v from "valibot";
import type { DeliveryReport, OutgoingRecord, ProducerClient } from "./driver.ts";
import { ClosedError, PublishBatchError, PublishTimeoutError } from "./errors.ts";
import type { Topic } from "./topic.ts";
import { MAX_TIMER_MS } from "./_util.ts";
import { timeouts } from "./_timeouts.ts";
import { validValue, validValues } from "./_validate.ts";
import { encode, type PublishOptions, type PublishRecord } from "./publish_options.ts";
import { TRACE_PARENT, type TraceParent, type Tracing } from "./tracing.ts";

export type { DeliveryReport } from "./driver.ts";

/**
 * A handle on the shared producer of one security context. Obtain it with
 * `registry.producer(ctx)`; do not close it — the registry owns the client.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type Producer, registry, ValidationError } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), total: v.number() }), key: (o) => o.id });
 * const producer: Producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * await producer.ping(); // ready: a broker answered within 5 s
 * try {
 *   const report = await producer.publish(orders, { id: "o-1", total: 42 });
 *   console.log(report.partition, report.offset);
 * } catch (error) {
 *   if (error instanceof ValidationError) console.error(error.message); // nothing was sent
 *   else throw error;
 * }
 * ```
 */
export interface Producer {
  /**
   * Fingerprint of the security context this producer publishes with (its
   * registry key: see `RegistryOptions.defaults` for the one case where they differ).
   */
  readonly fingerprint: string;
  /**
   * True once the client hit a fatal error, or its context was closed by the
   * registry's bounds (`maxContexts`, `idleTimeoutMs`). A retired handle
   * forwards new publishes to a fresh client from the registry.
   */
  readonly retired: boolean;
  /**
   * Validate `value` against the topic's schema (throws {@link ValidationError},
   * nothing sent), encode it and resolve with the delivery report once the
   * broker acknowledged it. Rejects at once with `QueueFullError` when the
   * records waiting for room in librdkafka's queue reached the registry's
   * bound; with {@link PublishTimeoutError} past `options.timeoutMs`.
   */
  publish<S extends v.GenericSchema>(
    topic: Topic<S>,
    value: v.InferInput<S>,
    options?: PublishOptions,
  ): Promise<DeliveryReport>;
  /**
   * Validate every record first (one invalid → {@link ValidationError}, nothing
   * sent; a bad partition, timestamp or header → `TypeError`, nothing sent
   * either), then publish all and resolve with their reports in input order. If
   * some are not delivered, rejects with {@link PublishBatchError} carrying
   * every record's outcome.
   */
  publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]>;
  /**
   * Fire-and-forget: validate and encode `value` as {@link publish} does, hand
   * the record to the producer and return, without waiting for the broker and
   * without a promise (none is made for the record).
   *
   * Thrown at once, nothing sent: {@link ValidationError}; `TypeError` for a
   * bad option (`timeoutMs` among them: nobody waits for its deadline; bound
   * delivery with `message.timeout.ms` in the context's `producer` settings);
   * `QueueFullError` when the records waiting for room in librdkafka's queue
   * reached the registry's bound (the caller slows down: `await flush()`, then
   * go on); `ClosedError` once the registry closes its producers; librdkafka's
   * refusal at enqueue (a record larger than `message.max.bytes`).
   *
   * What happens after (a delivery error, no room before the delivery timeout,
   * a record still undelivered when the registry's `close()` gives up on it)
   * never vanishes: it goes to the registry's `onDeliveryError` (default:
   * logged with the topic and the context's redacted description) and is
   * counted in `registry.stats()`. `registry.close()` waits for forgotten
   * records as for awaited ones, within its `closeTimeoutMs`. Records of one
   * partition keep their order with awaited ones.
   *
   * A method of its own rather than a `wait: false` option of `publish`: its
   * result is not a promise, so an option would make `publish`'s return type
   * hang on an option's literal value (options typed `PublishOptions` could
   * no longer be passed), every call would look like a floating promise to a
   * linter, and the options would admit a `timeoutMs` that means nothing here.
   *
   * @example Publish an audit trail without waiting; failures reach the registry's hook
   * ```ts
   * import * as v from "valibot";
   * import { createRegistry, defineTopic, QueueFullError } from "@kshare/kshare";
   *
   * const clicks = defineTopic({ name: "clicks", schema: v.object({ page: v.string() }) });
   * const kafka = createRegistry({
   *   onDeliveryError: (error, record) => console.error(`lost a ${record.topic} record (${record.description})`, error),
   * });
   * const producer = await kafka.producer({ bootstrapServers: "localhost:9092", producer: { "linger.ms": 5 } });
   * for (const page of ["/", "/cart", "/checkout"]) {
   *   try {
   *     producer.publishAndForget(clicks, { page });
   *   } catch (error) {
   *     if (!(error instanceof QueueFullError)) throw error;
   *     await producer.flush(); // the queue drained: go on
   *     producer.publishAndForget(clicks, { page });
   *   }
   * }
   * await kafka.close(); // waits for them (within closeTimeoutMs)
   * console.log(Object.values(kafka.stats().contexts)[0]?.forgottenFailures); // 0
   * ```
   */
  publishAndForget<S extends v.GenericSchema>(
    topic: Topic<S>,
    value: v.InferInput<S>,
    options?: Omit<PublishOptions, "timeoutMs">,
  ): void;
  /**
   * Resolve once the producer holds no record: each record it took, awaited
   * or forgotten, was delivered or failed. The producer is shared: records
   * other callers publish meanwhile are waited for too. Rejects past
   * `timeoutMs` (default 10 000) with an error naming how many are left, and
   * with `ClosedError` once the registry closes its producers.
   */
  flush(timeoutMs?: number): Promise<void>;
  /**
   * Resolve when a broker answered a metadata request within `timeoutMs`
   * (default 5000): the readiness check of a service that publishes.
   */
  ping(timeoutMs?: number): Promise<void>;
}

/**
 * The client as a handle uses it: the registry's wrapper of a driver's
 * client, which keeps count of what is in flight. `forget` hands a record
 * over for {@link Producer.publishAndForget}: it throws what refuses the
 * record at once; the record's outcome is the registry's to count and report,
 * and `done`'s to hear as well when given (a traced record's span ends then).
 */
export interface HandleClient extends Pick<ProducerClient, "produce" | "flush" | "ping"> {
  forget(record: OutgoingRecord, done?: (error: Error | undefined) => void): void;
}

/** What a handle needs from the registry entry that owns its client. */
export interface ProducerOwner {
  /** A live handle of the same context (used once this one is retired). */
  reacquire(): Promise<Producer>;
  /** Whether the registry is closing its producers (its consumers have closed): new publishes and pings are refused. */
  readonly closing: boolean;
  /** A forgotten record of `topic` was not delivered: counted and reported as a delivery failure. */
  undelivered(error: unknown, topic: string): void;
  /** The registry's tracing; undefined without `RegistryOptions.tracing`. */
  readonly tracing: Tracing | undefined;
}

/** Default bound of {@link Producer.flush}. */
const FLUSH_TIMEOUT_MS = 10_000;

/** Internal implementation of {@link Producer}. The registry creates one per client. */
export class ProducerHandle implements Producer {
  readonly fingerprint: string;
  #client: HandleClient;
  #owner: ProducerOwner;
  #retired = false;

  constructor(fingerprint: string, client: HandleClient, owner: ProducerOwner) {
    this.fingerprint = fingerprint;
    this.#client = client;
    this.#owner = owner;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Called by the registry when the client hit a fatal error. */
  retire(): void {
    this.#retired = true;
  }

  publish<S extends v.GenericSchema>(topic: Topic<S>, value: v.InferInput<S>, options?: PublishOptions): Promise<DeliveryReport> {
    let record: OutgoingRecord;
    try {
      record = encode(topic, validValue(topic, value), options);
    } catch (error) {
      return Promise.reject(error);
    }
    const tracing = this.#owner.tracing;
    if (tracing === undefined) return this.#publish(record, options?.timeoutMs);
    const [traced, span] = tracing.send(record, (options as TraceParent | undefined)?.[TRACE_PARENT]);
    return tracing.sent(this.#publish(traced, options?.timeoutMs), span);
  }

  async publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]> {
    const encoded = validValues(topic, records).map((value, i) => encode(topic, value, records[i]));
    // Every record was valid: `encoded[i]` is `records[i]`'s. Traced, each record has a span of its
    // own: each is delivered (to its partition, at its offset) or fails on its own.
    const tracing = this.#owner.tracing;
    const results = await Promise.allSettled(encoded.map((record, i) => {
      if (tracing === undefined) return this.#publish(record, records[i]!.timeoutMs);
      const [traced, span] = tracing.send(record, (records[i] as TraceParent)[TRACE_PARENT]);
      return tracing.sent(this.#publish(traced, records[i]!.timeoutMs), span);
    }));
    if (results.some((r) => r.status === "rejected")) throw new PublishBatchError(topic.name, results);
    return results.map((r) => (r as PromiseFulfilledResult<DeliveryReport>).value);
  }

  publishAndForget<S extends v.GenericSchema>(
    topic: Topic<S>,
    value: v.InferInput<S>,
    options?: Omit<PublishOptions, "timeoutMs">,
  ): void {
    if ((options as PublishOptions | undefined)?.timeoutMs !== undefined) {
      throw new TypeError(
        `Topic "${topic.name}": publishAndForget takes no timeoutMs (nobody waits for its deadline); bound delivery with message.timeout.ms in the context's producer settings`,
      );
    }
    const record = encode(topic, validValue(topic, value), options);
    const tracing = this.#owner.tracing;
    if (tracing === undefined) return this.#forget(record);
    const [traced, span] = tracing.send(record, (options as TraceParent | undefined)?.[TRACE_PARENT]);
    try {
      this.#forget(traced, (error) => error === undefined ? tracing.end(span) : tracing.fail(span, error));
    } catch (error) {
      tracing.fail(span, error);
      throw error;
    }
  }

  flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
      return Promise.reject(new TypeError(`flush: timeoutMs must be milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(timeoutMs)}`));
    }
    if (this.#owner.closing) return Promise.reject(new ClosedError("The registry"));
    if (this.#retired) return this.#owner.reacquire().then((fresh) => fresh.flush(timeoutMs));
    return this.#client.flush(timeoutMs);
  }

  ping(timeoutMs = 5_000): Promise<void> {
    if (this.#owner.closing) return Promise.reject(new ClosedError("The registry"));
    if (this.#retired) return this.#owner.reacquire().then((fresh) => fresh.ping(timeoutMs));
    return this.#client.ping(timeoutMs);
  }

  /** Hand `record` over without waiting; `done` (if given) hears its outcome. */
  #forget(record: OutgoingRecord, done?: (error: Error | undefined) => void): void {
    if (this.#owner.closing) throw new ClosedError("The registry");
    if (this.#retired) {
      // The next client connects first: the record goes once it has, and what refuses it then
      // (a failed connect included) is no longer the caller's to catch: it is reported.
      this.#owner.reacquire()
        .then((fresh) => (fresh as ProducerHandle).#forget(record, done))
        .catch((error: unknown) => {
          this.#owner.undelivered(error, record.topic);
          done?.(error instanceof Error ? error : new Error(String(error)));
        });
      return;
    }
    this.#client.forget(record, done);
  }

  /** Send `record`; with a `timeoutMs` (whose deadline `record` carries), bounded by it. */
  #publish(record: OutgoingRecord, timeoutMs: number | undefined): Promise<DeliveryReport> {
    const sent = this.#send(record);
    return timeoutMs === undefined ? sent : beforeDeadline(sent, record.topic, timeoutMs, record.deadline!);
  }

  #send(record: OutgoingRecord): Promise<DeliveryReport> {
    if (this.#owner.closing) return Promise.reject(new ClosedError("The registry"));
    if (this.#retired) return this.#owner.reacquire().then((fresh) => (fresh as ProducerHandle).#send(record));
    return this.#client.produce(record);
  }
}

/**
 * `sent`'s outcome if it comes before `deadline` (`Date.now()` clock), else a
 * {@link PublishTimeoutError}: when the deadline passes first, and for an
 * outcome that comes after it (a driver drops a record still waiting at its
 * deadline with an error of its own, kept as the cause; a late
 * acknowledgement is no success either).
 */
function beforeDeadline(sent: Promise<DeliveryReport>, topic: string, timeoutMs: number, deadline: number): Promise<DeliveryReport> {
  return new Promise((resolve, reject) => {
    // One of many: a shared list's, not a runtime timer of its own (see _timeouts.ts).
    const timeout = timeouts.start(deadline - Date.now(), () => reject(new PublishTimeoutError(topic, timeoutMs)));
    sent.then((report) => {
      timeouts.stop(timeout);
      if (Date.now() < deadline) resolve(report);
      else reject(new PublishTimeoutError(topic, timeoutMs));
    }, (error: unknown) => {
      timeouts.stop(timeout);
      reject(Date.now() < deadline ? error : new PublishTimeoutError(topic, timeoutMs, { cause: error }));
    });
  });
}
