/**
 * The producer handle: validates, encodes and publishes records on one shared
 * producer client.
 *
 * @module
 */
import * as v from "valibot";
import type { DeliveryReport, OutgoingRecord, ProducerClient } from "./driver.ts";
import { ClosedError, PublishBatchError, ValidationError } from "./errors.ts";
import { type Bytes, serializeValue, type Topic, toBytes } from "./topic.ts";

export type { DeliveryReport } from "./driver.ts";

/** Per-record options of a publish. */
export interface PublishOptions {
  /** Record key; default: the topic's `key(value)`, else none. */
  readonly key?: Bytes | null;
  /** Headers, merged over the topic's headers. */
  readonly headers?: Readonly<Record<string, Bytes>>;
  /** Explicit partition; default: librdkafka's partitioner (by key). */
  readonly partition?: number;
  /** Create time in ms since the epoch; default: now. */
  readonly timestamp?: number;
}

/** One record of a {@link Producer.publishBatch}. */
export interface PublishRecord<T> extends PublishOptions {
  /** The value, validated against the topic's schema. */
  readonly value: T;
}

/**
 * A handle on the shared producer of one security context. Obtain it with
 * `registry.producer(ctx)`; do not close it — the registry owns the client.
 */
export interface Producer {
  /** Fingerprint of the security context this producer publishes with. */
  readonly fingerprint: string;
  /**
   * True once the client hit a fatal error. A retired handle forwards new
   * publishes to a fresh client from the registry.
   */
  readonly retired: boolean;
  /**
   * Validate `value` against the topic's schema (throws {@link ValidationError},
   * nothing sent), encode it and resolve with the delivery report once the
   * broker acknowledged it.
   */
  publish<S extends v.GenericSchema>(
    topic: Topic<S>,
    value: v.InferInput<S>,
    options?: PublishOptions,
  ): Promise<DeliveryReport>;
  /**
   * Validate every record first (one invalid → {@link ValidationError}, nothing
   * sent), then publish all and resolve with their reports in input order. If
   * some are not delivered, rejects with {@link PublishBatchError} carrying
   * every record's outcome.
   */
  publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]>;
  /**
   * Resolve when a broker answered a metadata request within `timeoutMs`
   * (default 5000): the readiness check of a service that publishes.
   */
  ping(timeoutMs?: number): Promise<void>;
}

/** What a handle needs from the registry entry that owns its client. */
export interface ProducerOwner {
  /** A live handle of the same context (used once this one is retired). */
  reacquire(): Promise<Producer>;
  /** Whether the registry is closing: new publishes are refused. */
  readonly closing: boolean;
}

/** Internal implementation of {@link Producer}. The registry creates one per client. */
export class ProducerHandle implements Producer {
  readonly fingerprint: string;
  #client: ProducerClient;
  #owner: ProducerOwner;
  #retired = false;

  constructor(fingerprint: string, client: ProducerClient, owner: ProducerOwner) {
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
    const result = v.safeParse(topic.schema, value);
    if (!result.success) return Promise.reject(new ValidationError(topic.name, result.issues));
    let record: OutgoingRecord;
    try {
      record = encode(topic, result.output, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(record);
  }

  async publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]> {
    const encoded: OutgoingRecord[] = [];
    const issues: v.BaseIssue<unknown>[] = [];
    const indexOf = new Map<v.BaseIssue<unknown>, number>();
    records.forEach((record, index) => {
      const result = v.safeParse(topic.schema, record.value);
      if (result.success) {
        encoded.push(encode(topic, result.output, record));
      } else {
        for (const issue of result.issues) {
          issues.push(issue);
          indexOf.set(issue, index);
        }
      }
    });
    if (issues.length > 0) {
      throw new ValidationError(topic.name, issues, (issue) => `[${indexOf.get(issue)}]` + (issue.path ? "." : ""));
    }
    const results = await Promise.allSettled(encoded.map((record) => this.#send(record)));
    if (results.some((r) => r.status === "rejected")) throw new PublishBatchError(topic.name, results);
    return results.map((r) => (r as PromiseFulfilledResult<DeliveryReport>).value);
  }

  ping(timeoutMs = 5_000): Promise<void> {
    if (this.#owner.closing) return Promise.reject(new ClosedError("The registry"));
    if (this.#retired) return this.#owner.reacquire().then((fresh) => fresh.ping(timeoutMs));
    return this.#client.ping(timeoutMs);
  }

  #send(record: OutgoingRecord): Promise<DeliveryReport> {
    if (this.#owner.closing) return Promise.reject(new ClosedError("The registry"));
    if (this.#retired) return this.#owner.reacquire().then((fresh) => (fresh as ProducerHandle).#send(record));
    return this.#client.produce(record);
  }
}

function encode<S extends v.GenericSchema>(
  topic: Topic<S>,
  value: v.InferOutput<S>,
  options: PublishOptions | undefined,
): OutgoingRecord {
  const partition = options?.partition;
  if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) {
    throw new TypeError(`Topic "${topic.name}": partition must be a non-negative integer, got ${partition}`);
  }
  const timestamp = options?.timestamp;
  if (timestamp !== undefined && (typeof timestamp !== "number" || !Number.isFinite(timestamp) || timestamp < 0)) {
    throw new TypeError(`Topic "${topic.name}": timestamp must be milliseconds since the epoch (a finite number ≥ 0), got ${String(timestamp)}`);
  }
  const key = options?.key !== undefined ? options.key : topic.key?.(value);
  return {
    topic: topic.name,
    value: serializeValue(topic.serializer, value),
    key: key ?? null,
    headers: topic.headers || options?.headers ? encodeHeaders({ ...topic.headers?.(value), ...options?.headers }) : undefined,
    partition,
    timestamp,
  };
}

function encodeHeaders(headers: Readonly<Record<string, Bytes>>): OutgoingRecord["headers"] {
  const names = Object.keys(headers);
  return names.length === 0 ? undefined : names.map((name) => [name, toBytes(headers[name]!)] as const);
}
