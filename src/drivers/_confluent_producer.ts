/**
 * The Confluent driver's producer.
 *
 * Threads: librdkafka's own threads do the I/O. The binding polls delivery
 * reports on a background thread (`setPollInBackground`) and hands them to
 * the JavaScript thread, so an awaited publish costs no poll timer. The
 * transactional calls run on libuv worker threads.
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
import type { ClientConfig, ClientEvents, DeliveryReport, OutgoingRecord, Payload, ProducerClient, ProducerConfig, ProducerTransactions } from "../driver.ts";
import { ClosedError } from "../errors.ts";
import { isKafkaError } from "../kafka_error.ts";
import { delay, signal } from "../_util.ts";
import { ERR__FATAL, ERR__PURGE_INFLIGHT, ERR__PURGE_QUEUE, ERR__QUEUE_FULL, ERR__TIMED_OUT } from "../_kafka_codes.ts";
import { cleanError, codedError, connect, CONNECT_TIMEOUT_MS, watchErrors } from "./_confluent_client.ts";
import { consumerBinding } from "./_confluent_consumer.ts";
import { type Done, type Handover, type Reject, type Resolve, SENT, WaitingRecords } from "./_waiting.ts";

const toBuffer = (bytes: Payload) => typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** What a record hands the binding as its opaque; its delivery report brings it back. */
interface Pending {
  /** {@link SENT} for a record given to `send`: then `reject` is its `done`. */
  readonly resolve: Resolve;
  readonly reject: Reject;
  readonly topic: string;
}

/** A producer over the binding, resolving once connected. */
export async function createProducer(Kafka: Confluent.ConfluentBinding, config: ProducerConfig, events: ClientEvents): Promise<ProducerClient> {
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
      if (isKafkaError(error, ERR__QUEUE_FULL)) return false;
      // After a fatal error produce() refuses every record with ERR__FATAL:
      // often the binding's only sign of it (see isFatal).
      if (isKafkaError(error, ERR__FATAL)) route(error as Confluent.LibrdKafkaError);
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
      const binding = consumerBinding(consumer);
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
