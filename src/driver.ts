/**
 * The contract between kshare's core and a Kafka binding.
 *
 * The core (registry, producer handle, shared consumer) only ever talks to
 * these interfaces. A driver lives in `src/drivers/` and is the only code that
 * imports a Kafka binding or a runtime API (`node:*`, `Deno.*`, `bun:*`).
 *
 * Ownership: a client returned by a driver belongs to the registry entry that
 * created it; the registry calls `close()` exactly once. Byte arrays passed to
 * a driver are borrowed for the duration of the call only: a driver that needs
 * them longer (until a delivery report) copies them.
 *
 * Errors: a driver reports a condition librdkafka names as a `KafkaError`
 * (`src/kafka_error.ts`: an `Error` with librdkafka's `code`, and its
 * `fatal`, `retriable` and `abortable` flags where librdkafka gives them);
 * the core tells them apart with `isKafkaError` only.
 *
 * Why one file over 400 lines: it is one contract, which a driver's author
 * reads whole; most of its lines are the type-checked example every
 * interface carries.
 *
 * @module
 */

/**
 * librdkafka configuration of one client, as normalised from a security context.
 *
 * @example Redact a binding's error before it leaves the driver
 * ```ts
 * import type { ClientConfig } from "@kshare/kshare";
 *
 * function driverError(config: ClientConfig, message: string): Error {
 *   for (const name of config.secretProperties) {
 *     const secret = config.properties[name];
 *     if (secret) message = message.split(secret).join("[redacted]");
 *   }
 *   return new Error(`${config.label}: ${message}`); // label is already redacted
 * }
 * ```
 */
export interface ClientConfig {
  /**
   * librdkafka properties (security, tuning, `client.id`), every value a string.
   * Contains secrets: a driver never logs it and never puts a value of it in an error.
   */
  readonly properties: Readonly<Record<string, string>>;
  /** Redacted, human-readable description of the security context, for error messages. */
  readonly label: string;
  /** Names of the properties whose values are secret (to redact driver messages). */
  readonly secretProperties: readonly string[];
}

/**
 * Events a driver reports about one client. Called on the JavaScript thread.
 *
 * @example Route a binding's errors
 * ```ts
 * import type { ClientEvents } from "@kshare/kshare";
 *
 * function errorRouter(events: ClientEvents): (error: Error, fatal: boolean) => void {
 *   let dead = false;
 *   return (error, fatal) => {
 *     if (!fatal) return events.onError?.(error); // librdkafka recovers by itself
 *     if (!dead) events.onFatal(error); // at most once: the registry replaces the client
 *     dead = true;
 *   };
 * }
 * ```
 */
export interface ClientEvents {
  /** The client hit a fatal error and can no longer be used. Called at most once. */
  onFatal(error: Error): void;
  /** A non-fatal error (a broker went down, a request timed out); librdkafka recovers by itself. */
  onError?(error: Error): void;
}

/**
 * Events of a consumer client: the fatal/error events plus group rebalances.
 *
 * A revocation is not complete until `onRevoke` has settled: the promise it
 * may return ends once kshare's handlers in progress on those partitions have
 * finished and their offsets are marked, and only then may the driver
 * unassign them (librdkafka waits for that call before the group hands the
 * partitions to their next owner). A driver awaits it on its rebalance path
 * and applies no other rebalance meanwhile; an error from it goes to
 * `onError`, and the partitions are unassigned anyway.
 *
 * An assignment is told before the driver applies it: kshare pauses the
 * partitions of a topic that is paused (backpressure) then, before their
 * fetchers start. librdkafka can drop a pause or resume request that races
 * with a partition's fetch start as outdated (either the request, leaving a
 * partition paused for good, or the start, leaving it never fetched).
 *
 * @example A driver's rebalance callback
 * ```ts
 * import type { ConsumerEvents, TopicPartition } from "@kshare/kshare";
 * declare const binding: { assign(p: TopicPartition[]): void; unassign(): void }; // your binding's consumer
 *
 * async function rebalanced(events: ConsumerEvents, assigned: boolean, partitions: TopicPartition[]): Promise<void> {
 *   if (assigned) {
 *     events.onAssign(partitions); // before assigning: kshare pauses what it must before the fetchers start
 *     binding.assign(partitions);
 *     return;
 *   }
 *   try {
 *     await events.onRevoke(partitions); // before unassigning: kshare's handlers of them finish, their offsets are marked
 *   } catch (error) {
 *     events.onError?.(error as Error);
 *   }
 *   binding.unassign();
 * }
 * ```
 */
export interface ConsumerEvents extends ClientEvents {
  /** Partitions are assigned to this member; the driver assigns them once this returned. */
  onAssign(partitions: TopicPartition[]): void;
  /**
   * Partitions are being revoked from this member. The driver unassigns them
   * only after the returned promise (if any) settled: until then the member
   * still works on them.
   */
  onRevoke(partitions: TopicPartition[]): void | Promise<void>;
}

/**
 * Bytes to produce: raw bytes, or text sent as its UTF-8 bytes (a driver
 * encodes it straight into its own buffer, so the core need not allocate
 * an intermediate array per record). A custom {@link KafkaDriver} accepts both.
 *
 * @example
 * ```ts
 * import type { OutgoingRecord } from "@kshare/kshare";
 * const asText: OutgoingRecord = { topic: "orders", key: "o-1", value: '{"id":"o-1"}' }; // UTF-8 on the wire
 * const asBytes: OutgoingRecord = { topic: "orders", value: new Uint8Array([0x01, 0x02]) }; // sent as is
 * ```
 */
export type Payload = Uint8Array | string;

/**
 * One record to produce.
 *
 * @example In a driver's `produce`
 * ```ts
 * import type { OutgoingRecord, Payload } from "@kshare/kshare";
 * declare const binding: { produce(message: Record<string, unknown>): void }; // your binding
 *
 * const bytes = (p: Payload | null | undefined) => p == null ? null : typeof p === "string" ? new TextEncoder().encode(p) : p;
 * function produce(record: OutgoingRecord): void {
 *   const { topic, headers, timestamp } = record;
 *   // Text goes out as its UTF-8 bytes; partition -1 lets the partitioner choose.
 *   binding.produce({ topic, partition: record.partition ?? -1, value: bytes(record.value), key: bytes(record.key), headers, timestamp });
 * }
 * ```
 */
export interface OutgoingRecord {
  /** Topic name. */
  readonly topic: string;
  /** Value, or null for a tombstone. */
  readonly value: Payload | null;
  /** Key; none by default. */
  readonly key?: Payload | null;
  /** Headers in order; names may repeat. */
  readonly headers?: ReadonlyArray<readonly [name: string, value: Uint8Array]>;
  /** Explicit partition; undefined lets the partitioner choose. */
  readonly partition?: number;
  /** Create time in ms since the epoch; undefined lets the client set it. */
  readonly timestamp?: number;
  /**
   * Time (`Date.now()` clock) after which the record must not be handed to
   * librdkafka any more: a driver that holds it waiting for room drops it then
   * and rejects its `produce` (the core reports a `PublishTimeoutError`).
   * Undefined: no deadline of its own. Set by the core from `PublishOptions.timeoutMs`.
   */
  readonly deadline?: number;
}

/**
 * Where the broker stored a record.
 *
 * @example What a publish resolves with
 * ```ts
 * import * as v from "valibot";
 * import { defineTopic, type DeliveryReport, registry } from "@kshare/kshare";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * const report: DeliveryReport = await producer.publish(orders, { id: "o-1" });
 * console.log(`${report.topic}[${report.partition}] at offset ${report.offset}`);
 * if (report.timestamp !== undefined) console.log(new Date(report.timestamp).toISOString());
 * ```
 */
export interface DeliveryReport {
  /** Topic the record was written to. */
  readonly topic: string;
  /** Partition the record was written to. */
  readonly partition: number;
  /** Offset in the partition (exact below 2^53). */
  readonly offset: number;
  /** Record timestamp in ms since the epoch, when the broker reported one. */
  readonly timestamp?: number;
}

/**
 * The transactions of a producer whose configuration has a `transactional.id`
 * (librdkafka's `rd_kafka_*_transaction` calls). The core makes these calls
 * one at a time, in the order init, then begin / commit or abort for each
 * transaction, and produces only between a begin and its commit or abort.
 *
 * A rejection is a `KafkaError` (`src/kafka_error.ts`): librdkafka's `code` and the flags
 * librdkafka gives its transactional errors: `fatal` (the producer is unusable: it was
 * fenced by a newer producer with the same transactional id, or hit another
 * fatal error), `abortable` (this transaction failed and must be aborted;
 * the producer is fine) and `retriable`. A driver never waits on the
 * JavaScript thread for the broker: a call that waits runs elsewhere (a
 * worker thread, or short resumable slices).
 *
 * @example How the core runs one transaction
 * ```ts
 * import { isKafkaError, type OutgoingRecord, type ProducerClient } from "@kshare/kshare";
 * declare const client: ProducerClient; // created with "transactional.id" in its properties
 * declare const records: OutgoingRecord[];
 *
 * const transactions = client.transactions!;
 * await transactions.init(30_000); // once: fences an older producer with the same transactional id
 * await transactions.begin();
 * try {
 *   await Promise.all(records.map((record) => client.produce(record))); // every record acknowledged first
 *   await transactions.commit(30_000);
 * } catch (error) {
 *   if (isKafkaError(error) && error.fatal) throw error; // unusable: the owner replaces the client
 *   await transactions.abort(30_000);
 *   throw error;
 * }
 * ```
 */
export interface ProducerTransactions {
  /**
   * Register the transactional id with its coordinator (once, before the
   * first transaction): a producer that registered the same id before is
   * fenced, and a transaction it left open is completed or aborted.
   */
  init(timeoutMs: number): Promise<void>;
  /** Start a transaction: the records produced from now on are part of it. Local: asks no broker. */
  begin(): Promise<void>;
  /** Deliver what is outstanding, then commit the transaction: its records become visible to `read_committed` readers. */
  commit(timeoutMs: number): Promise<void>;
  /** Abort the transaction: its records stay hidden from `read_committed` readers; outstanding ones are purged. */
  abort(timeoutMs: number): Promise<void>;
  /**
   * Optional (consume-transform-produce): make `offsets` (the next offsets
   * to read) of `consumer`'s group part of the transaction: the group
   * commits them if, and only if, the transaction commits. `consumer` is a
   * client of the same driver; another is refused with a `TypeError`.
   */
  sendOffsets?(offsets: readonly TopicPartitionOffset[], consumer: ConsumerClient, timeoutMs: number): Promise<void>;
}

/**
 * A producer connection.
 *
 * @example An in-memory producer for tests
 * ```ts
 * import type { OutgoingRecord, ProducerClient } from "@kshare/kshare";
 *
 * function memoryProducer(sent: OutgoingRecord[]): ProducerClient {
 *   return {
 *     // Acknowledged at once; a real driver resolves on the delivery report.
 *     produce: (record) => Promise.resolve({ topic: record.topic, partition: record.partition ?? 0, offset: sent.push(record) - 1 }),
 *     flush: () => Promise.resolve(),
 *     ping: () => Promise.resolve(),
 *     close: () => Promise.resolve(),
 *   };
 * }
 * ```
 */
export interface ProducerClient {
  /**
   * Enqueue one record and resolve with its delivery report once the broker
   * acknowledged it, or reject with the delivery error. A full local queue is
   * back-pressure: the record waits for room, in order (once one waits, every
   * later record waits behind it, so none overtakes another), until its
   * `deadline` or the delivery timeout (`message.timeout.ms`). Past
   * {@link ProducerConfig.maxWaitingRecords} or `maxWaitingBytes` waiting, it
   * rejects at once with `QueueFullError`.
   */
  produce(record: OutgoingRecord): Promise<DeliveryReport>;
  /**
   * Optional: call `settled` as each record of {@link produce} settles, right
   * after its promise was resolved or rejected (also for a record refused
   * during the produce() call). The core calls this once, before its first
   * produce(), to know when the client has nothing in flight; a driver
   * without it gets a callback chained to each produce() promise instead,
   * which costs a promise more per record.
   */
  onSettled?(settled: () => void): void;
  /**
   * Optional: enqueue one record nobody waits for (`Producer.publishAndForget`),
   * without a promise. Back-pressure as for {@link produce}, except that what
   * refuses the record before librdkafka took it or queued it to wait is
   * thrown, nothing sent and `done` never called: `QueueFullError` past the
   * bounds, `ClosedError` once closing, librdkafka's refusal (a record larger
   * than `message.max.bytes`, an unknown partition). Otherwise `done` is
   * called exactly once, never during this call: `done(undefined, topic)`
   * once the record was delivered, `done(error, topic)` when it was not
   * (a delivery error, no room before the delivery timeout, `ClosedError` at
   * close). The core passes the same `done` for every record of a client: a
   * driver keeps it beside the record and allocates nothing for it. Without
   * `send`, the core uses {@link produce} and reports its rejection instead.
   */
  send?(record: OutgoingRecord, done: (error: Error | undefined, topic: string) => void): void;
  /** Wait until every record, waiting or enqueued, is delivered or failed, at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Fetch cluster metadata: resolves when a broker answered within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /**
   * Flush (at most `timeoutMs`: waiting records go on being enqueued as room
   * frees), then release the client. Every record neither delivered nor failed
   * by then, waiting or enqueued, is rejected with `ClosedError`: no produce is
   * left pending. Called once.
   */
  close(timeoutMs: number): Promise<void>;
  /**
   * Present when the client was created with a `transactional.id` property
   * (and only then): its transactions. Such a client produces only inside a
   * transaction.
   */
  readonly transactions?: ProducerTransactions;
}

/**
 * A topic partition.
 *
 * @example What a consumer client's `pause` and `resume` receive
 * ```ts
 * import type { TopicPartition } from "@kshare/kshare";
 *
 * const paused = new Set<string>();
 * function pause(partitions: readonly TopicPartition[]): void {
 *   for (const { topic, partition } of partitions) paused.add(`${topic}/${partition}`);
 * }
 * pause([{ topic: "orders", partition: 0 }, { topic: "orders", partition: 1 }]);
 * ```
 */
export interface TopicPartition {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
}

/**
 * A topic partition with an offset.
 *
 * @example What a consumer client's `commit` receives
 * ```ts
 * import type { IncomingMessage, TopicPartitionOffset } from "@kshare/kshare";
 * declare const last: IncomingMessage; // the last message handled on its partition
 *
 * // The next offset to read: the last one handled + 1.
 * const mark: TopicPartitionOffset = { topic: last.topic, partition: last.partition, offset: last.offset + 1 };
 * ```
 */
export interface TopicPartitionOffset extends TopicPartition {
  /** Offset in the partition. */
  readonly offset: number;
}

/**
 * A message as fetched, before decoding.
 *
 * @example What a driver's `poll` returns for one record
 * ```ts
 * import type { IncomingMessage } from "@kshare/kshare";
 * const utf8 = (text: string) => new TextEncoder().encode(text);
 *
 * const message: IncomingMessage = {
 *   topic: "orders",
 *   partition: 0,
 *   offset: 42,
 *   key: utf8("o-1"),
 *   value: utf8('{"id":"o-1"}'),
 *   headers: [["trace", utf8("a")], ["trace", utf8("b")]], // in order; names may repeat
 *   timestamp: Date.now(),
 * };
 * ```
 */
export interface IncomingMessage {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
  /** Offset in the partition. */
  readonly offset: number;
  /** Key bytes, or null. */
  readonly key: Uint8Array | null;
  /** Value bytes, or null for a tombstone. */
  readonly value: Uint8Array | null;
  /** Headers in order; names may repeat. */
  readonly headers: ReadonlyArray<readonly [name: string, value: Uint8Array]>;
  /** Timestamp in ms since the epoch, when known. */
  readonly timestamp?: number;
}

/**
 * A consumer group member connection.
 *
 * @example Drive a client the way kshare does (to try out a driver)
 * ```ts
 * import type { ConsumerClient, TopicPartitionOffset } from "@kshare/kshare";
 * declare const client: ConsumerClient; // from your driver's createConsumer
 *
 * await client.subscribe(["orders"]);
 * const batch = await client.poll(100, 1_000); // [] after 1 s without messages
 * const next = new Map<string, TopicPartitionOffset>();
 * for (const m of batch) next.set(`${m.topic}/${m.partition}`, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
 * client.commit([...next.values()]); // one offset per partition: the next to read
 * await client.close(); // commits what was marked, leaves the group
 * ```
 */
export interface ConsumerClient {
  /** Replace the subscription with exactly these topics. */
  subscribe(topics: readonly string[]): Promise<void>;
  /**
   * Wait at most `timeoutMs` for a first message, then return what is ready,
   * up to `max` messages. Returns `[]` on timeout. Never busy-waits.
   */
  poll(max: number, timeoutMs: number): Promise<IncomingMessage[]>;
  /** Stop fetching these partitions; messages prefetched for them are discarded by the client. */
  pause(partitions: readonly TopicPartition[]): void;
  /** Resume fetching these partitions from the next offset not yet returned by `poll`. */
  resume(partitions: readonly TopicPartition[]): void;
  /**
   * Mark these offsets (the next offset to read, i.e. last processed + 1) as
   * processed. The client commits them to the group, at the latest on close.
   */
  commit(offsets: readonly TopicPartitionOffset[]): void;
  /** Commit marked offsets, leave the group and release the client. Called once. */
  close(): Promise<void>;
}

/**
 * What a driver needs to create a consumer: a client config and its group.
 *
 * @example In a driver's `createConsumer`
 * ```ts
 * import type { ConsumerConfig } from "@kshare/kshare";
 * declare function openConsumer(properties: Record<string, string>): Promise<unknown>; // your binding
 *
 * async function connect(config: ConsumerConfig) {
 *   console.log(`joining group ${config.groupId} as ${config.label}`); // label is redacted: safe to log
 *   return await openConsumer({ ...config.properties }); // properties already hold "group.id"
 * }
 * ```
 */
export interface ConsumerConfig extends ClientConfig {
  /** The consumer group to join. */
  readonly groupId: string;
  /**
   * Bound on `close()` (the registry's `closeTimeoutMs`; default 10 000 ms):
   * past it `close()` rejects with a timed-out error instead of waiting
   * longer for the group to answer, and the client is released anyway.
   */
  readonly closeTimeoutMs?: number;
}

/**
 * What a driver needs to create a producer: a client config and the bounds of
 * the records it may hold waiting for room in librdkafka's queue (whose own
 * bounds are `queue.buffering.max.messages` and `queue.buffering.max.kbytes`).
 *
 * @example In a driver's `produce`, when the binding reports its queue full
 * ```ts
 * import { type OutgoingRecord, type ProducerConfig, QueueFullError } from "@kshare/kshare";
 *
 * function refuseOverBound(config: ProducerConfig, waiting: readonly OutgoingRecord[], record: OutgoingRecord): void {
 *   const max = config.maxWaitingRecords ?? 100_000;
 *   if (waiting.length >= max) throw new QueueFullError(record.topic, "maxWaitingRecords", max);
 * }
 * ```
 */
export interface ProducerConfig extends ClientConfig {
  /** Most records held waiting for room in librdkafka's queue (default 100 000). */
  readonly maxWaitingRecords?: number;
  /** Most key, value and header bytes held waiting for room in librdkafka's queue (default 64 MiB). */
  readonly maxWaitingBytes?: number;
}

/**
 * A Kafka binding.
 *
 * @example A custom driver for a registry
 * ```ts
 * import {
 *   type ClientEvents, type ConsumerClient, type ConsumerEvents, createRegistry, type KafkaDriver, type ProducerClient,
 * } from "@kshare/kshare";
 * // Your binding: it connects, then reports errors (and a consumer's rebalances) through `events`.
 * declare function openProducer(properties: Record<string, string>, events: ClientEvents): Promise<ProducerClient>;
 * declare function openConsumer(properties: Record<string, string>, events: ConsumerEvents): Promise<ConsumerClient>;
 *
 * const myDriver: KafkaDriver = {
 *   name: "my-binding",
 *   librdkafkaVersion: "2.12.0",
 *   createProducer: (config, events) => openProducer({ ...config.properties }, events),
 *   createConsumer: (config, events) => openConsumer({ ...config.properties }, events),
 * };
 * const kafka = createRegistry({ driver: myDriver });
 * ```
 */
export interface KafkaDriver {
  /** Driver name, e.g. `confluent-node` or `ffi-deno`. */
  readonly name: string;
  /** Version of the underlying librdkafka. */
  readonly librdkafkaVersion: string;
  /** Create and connect a producer. Rejects when no broker answered in time. */
  createProducer(config: ProducerConfig, events: ClientEvents): Promise<ProducerClient>;
  /** Create a consumer group member (not yet subscribed). */
  createConsumer(config: ConsumerConfig, events: ConsumerEvents): Promise<ConsumerClient>;
}
