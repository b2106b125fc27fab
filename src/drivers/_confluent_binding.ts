/**
 * The part of `@confluentinc/kafka-javascript`'s API that `confluent.ts` uses,
 * written out by hand. It mirrors the package's own declarations
 * (`types/rdkafka.d.ts`, 1.10) where they are right, and adds what they omit.
 *
 * Why not `import type` from the package: JSR turns every import it sees,
 * type-only ones included, into a dependency of the published package, and
 * this one is a Node-only NAN addon that builds librdkafka from source. Only
 * Node users of the default driver need it; they install it themselves, and
 * `confluent.ts` loads it through `_require.ts`, a load JSR does not follow.
 *
 * @module
 */
import type { Buffer } from "node:buffer";

/** An error from librdkafka, as the binding reports it. */
export interface LibrdKafkaError {
  message: string;
  /** librdkafka's `rd_kafka_resp_err_t` (negative: internal to the client). */
  code: number;
  isFatal?: boolean;
  /** Set on the errors of the transactional calls. */
  isRetriable?: boolean;
  /** Set on the errors of the transactional calls: the transaction must be aborted. */
  isTxnRequiresAbort?: boolean;
}

/**
 * A node-style callback's error: absent on success. (The package declares it
 * non-optional; the binding passes `null` or `undefined` on success.)
 */
export type MaybeError = LibrdKafkaError | null | undefined;

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export type Assignment = TopicPartition | TopicPartitionOffset;

/** One header: one name mapped to its value. */
export type MessageHeader = Record<string, string | Buffer>;

/** A consumed record. */
export interface Message extends TopicPartitionOffset {
  value: Buffer | null;
  key?: Buffer | string | null;
  timestamp?: number;
  headers?: MessageHeader[];
}

/** A producer's delivery report; `opaque` is what was given to `produce`. */
export interface DeliveryReport extends TopicPartitionOffset {
  timestamp?: number;
  opaque?: unknown;
}

/** librdkafka properties; the binding accepts numbers and booleans besides strings. */
export type ProducerGlobalConfig = Readonly<Record<string, string | number | boolean>>;

/**
 * Runs on the JavaScript thread; `error.code` is `ERR__ASSIGN_PARTITIONS` or
 * `ERR__REVOKE_PARTITIONS`. Once given, the callback must assign or unassign.
 */
export type RebalanceCallback = (error: LibrdKafkaError, assignment: Assignment[]) => void;

export type ConsumerGlobalConfig = Readonly<Record<string, string | number | boolean | RebalanceCallback>>;

export interface MetadataOptions {
  timeout?: number;
  allTopics?: boolean;
}

/** What producer and consumer share. */
export interface Client {
  /** Resolves once the client fetched metadata from a bootstrap broker. */
  connect(options: MetadataOptions, callback: (error: MaybeError) => void): this;
  getMetadata(options: MetadataOptions, callback: (error: MaybeError) => void): void;
  isConnected(): boolean;
  on(event: "event.error", listener: (error: LibrdKafkaError) => void): this;
  /** librdkafka's log lines, delivered as they are logged (no polling needed); severity is syslog's (3 = error). */
  on(event: "event.log", listener: (log: LogLine) => void): this;
  removeListener(event: "event.log", listener: (log: LogLine) => void): this;
}

/** A librdkafka log line as the binding emits it. */
export interface LogLine {
  severity: number;
  fac: string;
  message: string;
}

export interface Producer extends Client {
  on(event: "event.error", listener: (error: LibrdKafkaError) => void): this;
  on(event: "event.log", listener: (log: LogLine) => void): this;
  on(event: "delivery-report", listener: (error: MaybeError, report: DeliveryReport) => void): this;
  /** Copies value, key and headers (RK_MSG_COPY); throws with `code` -184 (`ERR__QUEUE_FULL`) when the queue is full. */
  produce(
    topic: string,
    partition: number,
    value: Buffer | null,
    key: Buffer | null,
    timestamp: number,
    opaque: unknown,
    headers: MessageHeader[] | undefined,
  ): void;
  flush(timeoutMs: number, callback: (error: MaybeError) => void): this;
  /** Poll delivery reports on a binding thread instead of a JavaScript timer. */
  setPollInBackground(enabled: boolean): void;
  disconnect(timeoutMs: number, callback: () => void): this;
  // Each runs its blocking librdkafka call on a libuv worker thread.
  initTransactions(timeoutMs: number, callback: (error: MaybeError) => void): void;
  beginTransaction(callback: (error: MaybeError) => void): void;
  commitTransaction(timeoutMs: number, callback: (error: MaybeError) => void): void;
  abortTransaction(timeoutMs: number, callback: (error: MaybeError) => void): void;
  /** Reads `consumer`'s group metadata, then sends the offsets on a libuv worker thread. */
  sendOffsetsToTransaction(
    offsets: TopicPartitionOffset[],
    consumer: KafkaConsumer,
    timeoutMs: number,
    callback: (error: MaybeError) => void,
  ): void;
}

export interface KafkaConsumer extends Client {
  subscribe(topics: string[]): this;
  unsubscribe(): this;
  assign(assignment: Assignment[]): this;
  unassign(): this;
  /** Waits on a libuv worker thread, never on the JavaScript thread. */
  consume(max: number, callback: (error: MaybeError, messages: Message[]) => void): void;
  setDefaultConsumeTimeout(timeoutMs: number): void;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  offsetsStore(offsets: TopicPartitionOffset[]): void;
  /** Asks the partition's leader on a libuv worker thread; a `timeoutMs` of 0 means 1000. */
  queryWatermarkOffsets(topic: string, partition: number, timeoutMs: number, callback: (error: MaybeError) => void): void;
  disconnect(callback: () => void): this;
  // The binding has these; the package's declarations (1.10) omit them.
  rebalanceProtocol(): "EAGER" | "COOPERATIVE" | "NONE";
  incrementalAssign(assignment: Assignment[]): void;
  incrementalUnassign(assignment: Assignment[]): void;
  /** With `true`, `consume(n)` waits for the first message only, then takes what is ready. */
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
}

/** The module, as `require("@confluentinc/kafka-javascript")` returns it. */
export interface ConfluentBinding {
  readonly librdkafkaVersion: string;
  readonly Producer: new (config: ProducerGlobalConfig) => Producer;
  readonly KafkaConsumer: new (config: ConsumerGlobalConfig) => KafkaConsumer;
}
