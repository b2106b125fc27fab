/**
 * The Node driver, over `@confluentinc/kafka-javascript` (librdkafka through a
 * NAN addon; loads in Node only).
 *
 * Threads: librdkafka's own threads do the I/O. The binding polls delivery
 * reports on a background thread (`setPollInBackground`) and hands them to the
 * JavaScript thread, so an awaited publish costs no poll timer. `consume(n)`
 * waits on a libuv worker thread, never on the JavaScript thread.
 *
 * Ownership: the binding copies keys, values and headers on produce
 * (RK_MSG_COPY), so the caller's bytes are free once `produce` returned.
 *
 * Back-pressure: a record librdkafka refuses with `ERR__QUEUE_FULL` waits in
 * the shared {@link WaitingRecords} queue (as the FFI driver's do), handed over
 * oldest first as delivery reports free room.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as Confluent from "./_confluent_binding.ts";
import type {
  ClientConfig,
  ClientEvents,
  ConsumerClient,
  ConsumerConfig,
  ConsumerEvents,
  DeliveryReport,
  IncomingMessage,
  KafkaDriver,
  OutgoingRecord,
  Payload,
  ProducerClient,
  ProducerConfig,
  ProducerTransactions,
  TopicPartition,
  TopicPartitionOffset,
} from "../driver.ts";
import { ClosedError, redact } from "../errors.ts";
import { delay, signal } from "../_util.ts";
import {
  ERR__ASSIGN_PARTITIONS,
  ERR__FATAL,
  ERR__PURGE_INFLIGHT,
  ERR__PURGE_QUEUE,
  ERR__QUEUE_FULL,
  ERR__REVOKE_PARTITIONS,
  ERR__TIMED_OUT,
} from "../_kafka_codes.ts";
import { requireInstalled } from "./_require.ts";
import { type Done, type Handover, type Reject, type Resolve, SENT, WaitingRecords } from "./_waiting.ts";

type Binding = Confluent.ConfluentBinding;

const PACKAGE = "@confluentinc/kafka-javascript";

const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on a consumer's close when its config has none (the registry's default). */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/**
 * Load the Confluent binding and return a {@link KafkaDriver} over it.
 *
 * @example
 * ```ts
 * import { createRegistry } from "@kshare/kshare";
 * import { confluentDriver } from "@kshare/kshare/drivers";
 * const kafka = createRegistry({ driver: confluentDriver });
 * ```
 */
export async function confluentDriver(): Promise<KafkaDriver> {
  // A CommonJS addon: require() is the one loading path that works under tsx, Node ESM and bundlers alike.
  const Kafka = requireInstalled<Binding>(PACKAGE, "kshare's Node driver", `${PACKAGE}@^1.10`);
  return await Promise.resolve({
    name: "confluent-node",
    librdkafkaVersion: Kafka.librdkafkaVersion,
    createProducer: (config, events) => createProducer(Kafka, config, events),
    createConsumer: (config, events) => createConsumer(Kafka, config, events),
  });
}

/** An error from the binding with secret values redacted and its librdkafka code kept. */
function cleanError(error: unknown, config: ClientConfig): Error & { code?: number } {
  const secrets = config.secretProperties.map((p) => config.properties[p] ?? "");
  const message = redact(error instanceof Error ? error.message : String(error), secrets);
  const clean = new Error(message) as Error & { code?: number };
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "number") clean.code = code;
  return clean;
}

/**
 * Whether an error from the binding is librdkafka's fatal error. Its
 * `event.error` carries neither the code nor the fatal flag: the binding's
 * event keeps only `err2str(err)` (`event_t` in its src/callbacks.cc), and
 * the error event of a fatal error has the underlying code (e.g. "Broker:
 * Broker received an out of order sequence number"), so it arrives as an
 * ordinary error. What does carry ERR__FATAL is every later call:
 * `produce()` throws it, a consumer's poll reports it. The flag is checked
 * too, for a binding that passes it on.
 */
function isFatal(error: Confluent.LibrdKafkaError): boolean {
  return error.code === ERR__FATAL || error.isFatal === true;
}

/**
 * Route a client's errors: the first fatal one to `events.onFatal` (with the
 * error reported just before it, which is its reason as far as the binding
 * tells), any other to `events.onError`. Returns the router, for errors that
 * arrive another way (a `produce` or a consumer's `consume` that failed with
 * ERR__FATAL).
 */
function watchErrors(
  client: Confluent.Client,
  config: ClientConfig,
  events: ClientEvents,
): (error: Confluent.LibrdKafkaError) => void {
  let fatal = false;
  let previous: Error | undefined;
  const onError = (error: Confluent.LibrdKafkaError) => {
    const clean = cleanError(error, config);
    if (isFatal(error)) {
      if (!fatal) {
        // The error before it, with its code, is its cause: what it says (fenced) is all there is to know.
        const reason = previous === undefined ? "" : ` (the error reported before it: ${previous.message})`;
        const fatalError = new Error(`Fatal error: the client is unusable${reason}`, { cause: previous });
        events.onFatal(Object.assign(fatalError, { code: ERR__FATAL, fatal: true }));
      }
      fatal = true;
    } else {
      previous = clean;
      events.onError?.(clean);
    }
  };
  client.on("event.error", onError);
  return onError;
}

/**
 * Connect, rejecting with the reason brokers gave when there was one. A
 * broker connection's failure (a TLS handshake refused, a certificate not
 * trusted) reaches the application as an error event, which is served by
 * polling, which starts only once connected: a failed connect would say
 * nothing but "broker transport failure". The same failure is logged at
 * error level, and the binding delivers log lines at once: the last one
 * before the connect failed is added to its error.
 */
function connect(client: Confluent.Client, config: ClientConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    let reason: string | undefined;
    const onLog = (log: Confluent.LogLine) => {
      if (log.severity <= 3) reason = log.message.replace(/^\[thrd:[^\]]*\]: /, "");
    };
    client.on("event.log", onLog);
    client.connect({ timeout: CONNECT_TIMEOUT_MS }, (error) => {
      client.removeListener("event.log", onLog);
      if (!error) return resolve();
      const clean = cleanError(error, config);
      if (reason !== undefined) clean.message += ` (librdkafka's last error: ${cleanError(reason, config).message})`;
      reject(clean);
    });
  });
}

const toBuffer = (bytes: Payload) => typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** What a record hands the binding as its opaque; its delivery report brings it back. */
interface Pending {
  /** {@link SENT} for a record given to `send`: then `reject` is its `done`. */
  readonly resolve: Resolve;
  readonly reject: Reject;
  readonly topic: string;
}

/** An Error with a librdkafka code, as the binding's errors carry one. */
function codedError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

async function createProducer(Kafka: Binding, config: ProducerConfig, events: ClientEvents): Promise<ProducerClient> {
  // No topic config object: passing one (even {}) replaces the default topic config, dropping
  // topic-level properties set globally (acks, auto.offset.reset, message.timeout.ms).
  const producer = new Kafka.Producer({ ...config.properties, dr_cb: true });
  /** The fatal error, once there was one: the reason of every record the dead client gives up on. */
  let fatal: Error | undefined;
  const route = watchErrors(producer, config, {
    ...events,
    onFatal: (error) => {
      fatal = error;
      events.onFatal(error);
    },
  });
  await connect(producer, config);
  if (config.properties["enable.idempotence"] === "true") {
    // connect() ends on a bootstrap connection's metadata; an idempotent producer
    // then waits for its 500 ms PID retry timer before the first publish. A
    // metadata request over a broker connection starts InitProducerId at once.
    await new Promise<void>((resolve) => producer.getMetadata({ timeout: CONNECT_TIMEOUT_MS, allTopics: false }, () => resolve()));
  }
  producer.setPollInBackground(true);

  const transactional = config.properties["transactional.id"] !== undefined;
  /** Records handed to librdkafka; each settles exactly once, by its delivery report or at close. */
  const pending = new Set<Pending>();
  let closed = false;
  /** While a flush waits: resolved once no record is handed over or waiting. */
  let idle: ReturnType<typeof signal> | undefined;
  const checkIdle = () => {
    if (idle === undefined || pending.size > 0 || waiting.length > 0) return;
    idle.resolve();
    idle = undefined;
  };
  /** A drain is scheduled: one per burst of delivery reports, however many came. */
  let draining = false;

  /** Hand one record to the binding; false when librdkafka's queue is full. */
  const handover: Handover = (record, resolve, reject) => {
    const opaque: Pending = { resolve, reject, topic: record.topic };
    try {
      producer.produce(
        record.topic,
        record.partition ?? -1,
        record.value === null ? null : toBuffer(record.value),
        record.key == null ? null : toBuffer(record.key),
        record.timestamp ?? 0,
        opaque,
        record.headers?.map(([name, value]) => ({ [name]: toBuffer(value) })),
      );
    } catch (error) {
      const { code } = error as { code?: number };
      if (code === ERR__QUEUE_FULL) return false;
      // After a fatal error produce() refuses every record with ERR__FATAL:
      // often the binding's only sign of it (see isFatal).
      if (code === ERR__FATAL) route(error as Confluent.LibrdKafkaError);
      return cleanError(error, config);
    }
    pending.add(opaque);
    return true;
  };
  const waiting = new WaitingRecords(
    config,
    handover,
    () => codedError(ERR__QUEUE_FULL, "Local: Queue full: no room before the record's deadline or the delivery timeout"),
  );
  const drain = () => {
    draining = false;
    waiting.drain();
    checkIdle();
  };

  producer.on("delivery-report", (error, report) => {
    const opaque = report.opaque as Pending;
    pending.delete(opaque);
    if (error) {
      // librdkafka purges records by itself only when the client died (we never
      // ask it to before close): a purge may be the first sign of a fatal error,
      // before the first produce() that throws ERR__FATAL. The fatal error is
      // the reason of every record a dead client gives up on. Not so for a
      // transactional producer: aborting a transaction purges its outstanding
      // records, and its reports may come after the abort returned; its fatal
      // errors are told by the transactional calls themselves.
      const purged = error.code === ERR__PURGE_QUEUE || error.code === ERR__PURGE_INFLIGHT;
      if (purged && !closed && !transactional) route(codedError(ERR__FATAL, "Local: Fatal error") as Confluent.LibrdKafkaError);
      opaque.reject(purged && fatal !== undefined ? fatal : cleanError(error, config), opaque.topic);
    } else if (opaque.resolve === SENT) {
      (opaque.reject as Done)(undefined, opaque.topic);
    } else {
      opaque.resolve({
        topic: report.topic,
        partition: report.partition,
        offset: Number(report.offset),
        timestamp: report.timestamp,
      });
    }
    // The binding frees a reported message before it calls back: there is room now.
    if (waiting.length > 0 && !draining) {
      draining = true;
      queueMicrotask(drain);
    }
    checkIdle();
  });

  function produce(record: OutgoingRecord): Promise<DeliveryReport> {
    if (closed) return Promise.reject(new ClosedError("The producer"));
    return new Promise((resolve, reject) => {
      const refused = waiting.submit(record, resolve, reject);
      if (refused !== undefined) reject(refused);
    });
  }

  function send(record: OutgoingRecord, done: Done): void {
    if (closed) throw new ClosedError("The producer");
    const refused = waiting.submit(record, SENT, done);
    if (refused !== undefined) throw refused;
  }

  /**
   * Wait until every record, waiting or handed over, is delivered or failed,
   * at most `timeoutMs`. The wait is on delivery reports: librdkafka's own
   * flush knows nothing of the records waiting here, nor of reports the
   * binding has not yet brought to this thread.
   */
  async function flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // With a 0 timeout librdkafka's flush only wakes the brokers to send what lingers.
    await new Promise<void>((resolve) => {
      try {
        producer.flush(0, () => resolve());
      } catch {
        resolve(); // not connected: nothing to wake
      }
    });
    if (pending.size === 0 && waiting.length === 0) return;
    idle ??= signal();
    await delay(deadline - Date.now(), idle.promise);
    const left = pending.size + waiting.length;
    if (left > 0) throw codedError(ERR__TIMED_OUT, `Flush timed out with ${left} records undelivered`);
  }

  return {
    produce,
    send,
    flush,
    transactions: transactional ? transactionsOf(producer, config, () => closed) : undefined,
    ping: (timeoutMs) =>
      new Promise<void>((resolve, reject) =>
        producer.getMetadata({ timeout: timeoutMs, allTopics: false }, (error) => error ? reject(cleanError(error, config)) : resolve())
      ),
    async close(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      try {
        await flush(timeoutMs);
      } catch {
        // Records still waiting or queued after the bound are failed below.
      }
      closed = true;
      waiting.close(new ClosedError("The producer"));
      await new Promise<void>((resolve) => producer.disconnect(Math.max(0, deadline - Date.now()), () => resolve()));
      for (const p of pending) p.reject(new ClosedError("The producer"), p.topic);
      pending.clear();
    },
  };
}

/**
 * The transactional calls of `producer`. The binding runs each on a libuv
 * worker thread; its error carries librdkafka's flags, kept on ours.
 */
/** The binding's consumer behind each consumer client of this driver, for `sendOffsets`. */
const consumerBindings = new WeakMap<ConsumerClient, Confluent.KafkaConsumer>();

function transactionsOf(producer: Confluent.Producer, config: ProducerConfig, closed: () => boolean): ProducerTransactions {
  const call = (start: (done: (error: Confluent.MaybeError) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (closed()) return reject(new ClosedError("The producer"));
      start((error) => error ? reject(transactionError(error, config)) : resolve());
    });
  return {
    init: (timeoutMs) => call((done) => producer.initTransactions(timeoutMs, done)),
    begin: () => call((done) => producer.beginTransaction(done)),
    commit: (timeoutMs) => call((done) => producer.commitTransaction(timeoutMs, done)),
    abort: (timeoutMs) => call((done) => producer.abortTransaction(timeoutMs, done)),
    sendOffsets: (offsets, consumer, timeoutMs) => {
      const binding = consumerBindings.get(consumer);
      if (binding === undefined) return Promise.reject(new TypeError("sendOffsets: the consumer is not a client of the confluent-node driver"));
      // The binding reads the consumer's group metadata (rd_kafka_consumer_group_metadata) on this thread.
      const list = offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
      return call((done) => producer.sendOffsetsToTransaction(list, binding, timeoutMs, done));
    },
  };
}

/** A transactional call's error, redacted, with librdkafka's code and flags. */
function transactionError(error: Confluent.LibrdKafkaError, config: ClientConfig): Error {
  return Object.assign(cleanError(error, config), {
    fatal: error.isFatal === true,
    abortable: error.isTxnRequiresAbort === true,
    retriable: error.isRetriable === true,
  });
}

function toIncoming(m: Confluent.Message): IncomingMessage {
  const headers: Array<readonly [string, Uint8Array]> = [];
  for (const header of m.headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      headers.push([name, typeof value === "string" ? Buffer.from(value) : value]);
    }
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key == null ? null : typeof m.key === "string" ? Buffer.from(m.key) : m.key,
    value: m.value ?? null,
    headers,
    timestamp: m.timestamp,
  };
}

async function createConsumer(Kafka: Binding, config: ConsumerConfig, events: ConsumerEvents): Promise<ConsumerClient> {
  /**
   * Rebalances, applied one after the other. The binding's C++ rebalance_cb
   * only queues the event for this thread, and librdkafka waits until
   * assign/unassign is called: so a revocation can wait for the core's
   * `onRevoke` before unassigning, and the next rebalance waits behind it.
   */
  let rebalancing = Promise.resolve();
  const rebalance = async (error: Confluent.LibrdKafkaError | undefined, assignment: Confluent.Assignment[]): Promise<void> => {
    const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
    try {
      if (error?.code === ERR__ASSIGN_PARTITIONS) {
        // Told first: what kshare pauses of them is paused before their fetchers start (see ConsumerEvents).
        // Its failure must not keep the assignment from being applied: the group would wait for it.
        try {
          events.onAssign(partitions);
        } catch (e) {
          events.onError?.(cleanError(e, config));
        }
        if (consumer.rebalanceProtocol() === "COOPERATIVE") consumer.incrementalAssign(assignment);
        else consumer.assign(assignment);
      } else if (error?.code === ERR__REVOKE_PARTITIONS) {
        try {
          await events.onRevoke(partitions);
        } catch (e) {
          events.onError?.(cleanError(e, config));
        }
        if (consumer.rebalanceProtocol() === "COOPERATIVE") consumer.incrementalUnassign(assignment);
        else consumer.unassign();
      }
    } catch (e) {
      if (consumer.isConnected()) events.onError?.(cleanError(e, config));
    }
  };
  const consumer = new Kafka.KafkaConsumer({
    ...config.properties,
    // Runs on the JavaScript thread. The core is told of an assignment (it pauses what it must), then it is applied.
    rebalance_cb: (error: Confluent.LibrdKafkaError | undefined, assignment: Confluent.Assignment[]) => {
      rebalancing = rebalancing.then(() => rebalance(error, assignment));
    },
  });
  const route = watchErrors(consumer, config, events);
  await connect(consumer, config);
  // consume(n) waits for the first message only, then takes what is ready.
  consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
  let closed = false;

  const client: ConsumerClient = {
    subscribe(topics) {
      consumer.subscribe([...topics]);
      return Promise.resolve();
    },
    poll(max, timeoutMs) {
      if (closed) return Promise.resolve([]);
      consumer.setDefaultConsumeTimeout(timeoutMs);
      return new Promise((resolve, reject) => {
        consumer.consume(max, (error, messages) => {
          if (error?.code === ERR__FATAL) {
            // The client is dead: its owner hears it once, as a fatal error, and replaces it.
            route(error);
            resolve([]);
          } else if (error) reject(cleanError(error, config));
          else resolve(messages.map(toIncoming));
        });
      });
    },
    pause(partitions: readonly TopicPartition[]) {
      if (partitions.length > 0) consumer.pause(partitions.map(({ topic, partition }) => ({ topic, partition })));
    },
    resume(partitions: readonly TopicPartition[]) {
      if (partitions.length > 0) consumer.resume(partitions.map(({ topic, partition }) => ({ topic, partition })));
    },
    commit(offsets: readonly TopicPartitionOffset[]) {
      consumer.offsetsStore(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
    },
    async close() {
      closed = true;
      // Unsubscribing first makes librdkafka leave the group (LeaveGroup) before
      // the handle closes; without it the group waits for this member's
      // session to time out before its partitions move. The stored offsets
      // are committed on the way out.
      consumer.unsubscribe();
      // rd_kafka_consumer_close runs on a libuv worker and waits for the group's
      // answers, as long as a broker takes (forever, from one that accepts
      // requests and never answers). It cannot be interrupted: past the bound
      // the owner stops waiting; the binding frees the handle when it returns.
      const timeoutMs = config.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let done = false;
      const disconnected = new Promise<void>((resolve) =>
        consumer.disconnect(() => {
          done = true;
          resolve();
        })
      );
      await delay(timeoutMs, disconnected);
      if (!done) {
        throw codedError(
          ERR__TIMED_OUT,
          `Leaving the group did not finish within ${timeoutMs} ms; the client is released when librdkafka's close returns`,
        );
      }
    },
  };
  consumerBindings.set(client, consumer);
  return client;
}
