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
 * @module
 */

/** librdkafka configuration of one client, as normalised from a security context. */
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

/** Events a driver reports about one client. Called on the JavaScript thread. */
export interface ClientEvents {
  /** The client hit a fatal error and can no longer be used. Called at most once. */
  onFatal(error: Error): void;
  /** A non-fatal error (a broker went down, a request timed out); librdkafka recovers by itself. */
  onError?(error: Error): void;
}

/** Events of a consumer client: the fatal/error events plus group rebalances. */
export interface ConsumerEvents extends ClientEvents {
  /** Partitions were assigned to this member (after the driver assigned them). */
  onAssign(partitions: TopicPartition[]): void;
  /** Partitions are being revoked from this member (before the driver unassigns them). */
  onRevoke(partitions: TopicPartition[]): void;
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

/** One record to produce. */
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
}

/** Where the broker stored a record. */
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

/** A producer connection. */
export interface ProducerClient {
  /**
   * Enqueue one record and resolve with its delivery report once the broker
   * acknowledged it, or reject with the delivery error. A full local queue is
   * back-pressure: the driver waits and retries within the delivery timeout.
   */
  produce(record: OutgoingRecord): Promise<DeliveryReport>;
  /** Wait until every enqueued record is delivered or failed, at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Fetch cluster metadata: resolves when a broker answered within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /** Flush (at most `timeoutMs`), then release the client. Called once. */
  close(timeoutMs: number): Promise<void>;
}

/** A topic partition. */
export interface TopicPartition {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
}

/** A topic partition with an offset. */
export interface TopicPartitionOffset extends TopicPartition {
  /** Offset in the partition. */
  readonly offset: number;
}

/** A message as fetched, before decoding. */
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

/** A consumer group member connection. */
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

/** What a driver needs to create a consumer: a client config and its group. */
export interface ConsumerConfig extends ClientConfig {
  /** The consumer group to join. */
  readonly groupId: string;
}

/** A Kafka binding. */
export interface KafkaDriver {
  /** Driver name, e.g. `confluent-node` or `ffi-deno`. */
  readonly name: string;
  /** Version of the underlying librdkafka. */
  readonly librdkafkaVersion: string;
  /** Create and connect a producer. Rejects when no broker answered in time. */
  createProducer(config: ClientConfig, events: ClientEvents): Promise<ProducerClient>;
  /** Create a consumer group member (not yet subscribed). */
  createConsumer(config: ConsumerConfig, events: ConsumerEvents): Promise<ConsumerClient>;
}
