/**
 * A producer client over REST Proxy v3's produce API.
 *
 * Requests: records go per topic, in the mode of the client's
 * {@link ProduceRequestFormat}: streaming (one
 * `POST /v3/clusters/{id}/topics/{topic}/records` of concatenated JSON
 * objects, answered by one JSON object per record in the same order) or batch
 * (`POST …/records:batch` of at most `maxBatchEntries` entries, answered 207
 * with `successes` and `failures` by entry id). A topic has at most one
 * request in flight, in either mode: the records produced meanwhile wait, and
 * go together in the next request (up to `maxRequestBytes` of body, and the
 * mode's most records). So publishes in flight share requests, and a topic's
 * records reach the REST Proxy in the order they were produced, retries
 * included. Batch mode keeps that rule rather than sending a topic's batches
 * side by side: two requests in flight may be written in either order, and a
 * 429 to one while the next succeeds would put its records, retried, after
 * newer ones. What it costs is throughput: at most `maxBatchEntries` records
 * of a topic per round trip (and an endpoint that limits requests per second
 * sees fewer of them).
 *
 * Retries: a 429 or 503 answer to a whole request is retried after its
 * `Retry-After` (without one, after a jittered backoff from 100 ms), with
 * nothing else of the topic sent meanwhile. A record whose deadline would
 * pass before that fails at once with a timed-out error (librdkafka's
 * `ERR__MSG_TIMED_OUT`). A record some REST Proxy wrote and still answered
 * 503 for (its own delivery deadline passed) may be written twice: at least
 * once, as any retry over HTTP. A refusal of one record in a 2xx answer (its
 * `error_code` in streaming mode, its entry in `failures` in batch mode)
 * rejects that record's produce only; any other answer rejects the request's
 * records.
 *
 * Deadlines: a record's deadline is the earlier of its own `deadline` and
 * its produce time plus the delivery timeout (`message.timeout.ms`, as
 * librdkafka's). One past it before it is sent is dropped, never sent; a
 * request not answered by the latest deadline of its records is aborted.
 *
 * Ownership: `produce` encodes a record into its JSON object at once, so the
 * caller's bytes are free when it returns. A record belongs to its topic's
 * lane until taken into a request, then to that request until settled (or
 * back in the lane, first, for a retry). Everything runs on the JavaScript
 * thread.
 *
 * @module
 */
import type { DeliveryReport, OutgoingRecord, ProducerClient, ProducerConfig } from "../driver.ts";
import { ClosedError, QueueFullError } from "../errors.ts";
import { backoff, delay, MAX_TIMER_MS, signal } from "../_util.ts";
import { ERR__MSG_TIMED_OUT, ERR__TIMED_OUT } from "../_kafka_codes.ts";
import { DEFAULT_MAX_WAITING_BYTES, DEFAULT_MAX_WAITING_RECORDS } from "./_waiting.ts";
import { answerError, clean, clusterUrl, ping, type RestEndpoint, RestProxyError, retryAfterMs, send } from "./_rest_http.ts";
import { encodeRecord, type ProduceRequestFormat } from "./_rest_produce_request.ts";

/** One record produced and not yet settled. `resolve` and `reject` settle it once; later calls do nothing. */
interface Pending {
  /** The record as one JSON object of a produce request, UTF-8. */
  readonly json: Uint8Array;
  /** `Date.now()` time after which it is not sent any more. */
  readonly deadline: number;
  readonly resolve: (report: DeliveryReport) => void;
  readonly reject: (error: Error) => void;
}

/** The records of one topic waiting for its next request, oldest first. */
interface Lane {
  readonly topic: string;
  readonly waiting: Pending[];
  /** A request, or the wait before retrying one, is under way: it sends what waits when it is done. */
  pumping: boolean;
  /** 429/503 answers in a row without `Retry-After`, for the backoff. */
  failures: number;
}

/** What the client needs besides its endpoint and config. */
export interface RestProducerLimits {
  /** Most bytes of one request body (a larger record goes alone). */
  readonly maxRequestBytes: number;
  /** The mode of the requests: their path, body and answers, and their most records. */
  readonly format: ProduceRequestFormat;
  /** Delivery timeout of every record, ms. */
  readonly deliveryTimeoutMs: number;
}

/** Backoff of a 429/503 without `Retry-After`. */
const RETRY_BACKOFF_MS = 100;
const MAX_RETRY_BACKOFF_MS = 10_000;

/** A producer client publishing to `endpoint`. */
export function restProducer(endpoint: RestEndpoint, config: ProducerConfig, limits: RestProducerLimits): ProducerClient {
  return new RestProducer(endpoint, config, limits);
}

class RestProducer implements ProducerClient {
  readonly #endpoint: RestEndpoint;
  readonly #limits: RestProducerLimits;
  readonly #maxWaitingRecords: number;
  readonly #maxWaitingBytes: number;
  /** Lanes with records waiting or a request under way; a lane goes once it is empty and idle. */
  readonly #lanes = new Map<string, Lane>();
  /** Records in a request now. */
  readonly #inFlight = new Set<Pending>();
  readonly #pumps = new Set<Promise<void>>();
  #waitingRecords = 0;
  #waitingBytes = 0;
  /** Records produced and not settled: waiting, in a request, or waiting for a retry. */
  #unsettled = 0;
  /** While a flush waits: resolved once nothing is unsettled. */
  #idle: ReturnType<typeof signal> | undefined;
  /** Set when `close` begins: every later produce is refused. */
  #closing = false;
  /** Aborted once `close` has flushed: requests under way and retry waits end. */
  readonly #closed = new AbortController();

  constructor(endpoint: RestEndpoint, config: ProducerConfig, limits: RestProducerLimits) {
    this.#endpoint = endpoint;
    this.#limits = limits;
    this.#maxWaitingRecords = config.maxWaitingRecords ?? DEFAULT_MAX_WAITING_RECORDS;
    this.#maxWaitingBytes = config.maxWaitingBytes ?? DEFAULT_MAX_WAITING_BYTES;
  }

  produce(record: OutgoingRecord): Promise<DeliveryReport> {
    if (this.#closing) return Promise.reject(new ClosedError("The producer"));
    const { topic } = record;
    const now = Date.now();
    const deadline = Math.min(record.deadline ?? Infinity, now + this.#limits.deliveryTimeoutMs);
    if (deadline <= now) return Promise.reject(timedOut(topic, "its deadline passed before it was sent"));
    let json: Uint8Array;
    try {
      json = encodeRecord(record);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#waitingRecords >= this.#maxWaitingRecords) {
      return Promise.reject(new QueueFullError(topic, "maxWaitingRecords", this.#maxWaitingRecords));
    }
    if (this.#waitingBytes + json.length > this.#maxWaitingBytes) {
      return Promise.reject(new QueueFullError(topic, "maxWaitingBytes", this.#maxWaitingBytes));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = () => {
        settled = true;
        if (--this.#unsettled === 0 && this.#idle) {
          this.#idle.resolve();
          this.#idle = undefined;
        }
      };
      const pending: Pending = {
        json,
        deadline,
        resolve: (report) => settled || (done(), resolve(report)),
        reject: (error) => settled || (done(), reject(error)),
      };
      this.#unsettled++;
      let lane = this.#lanes.get(topic);
      if (!lane) this.#lanes.set(topic, lane = { topic, waiting: [], pumping: false, failures: 0 });
      this.#wait(lane, [pending], "back");
      if (lane.pumping) return;
      lane.pumping = true;
      // From a microtask: the records produced in the same turn (a loop of publishes) go in its first request.
      const pump: Promise<void> = Promise.resolve().then(() => this.#pump(lane)).finally(() => this.#pumps.delete(pump));
      this.#pumps.add(pump);
    });
  }

  /**
   * Wait until every record, waiting or in a request, is delivered or
   * failed, at most `timeoutMs`; rejects with a timed-out error past it.
   */
  async flush(timeoutMs: number): Promise<void> {
    if (this.#unsettled === 0) return;
    this.#idle ??= signal();
    await delay(timeoutMs, this.#idle.promise);
    if (this.#unsettled > 0) {
      throw new RestProxyError(`Flush timed out with ${this.#unsettled} records undelivered`, { code: ERR__TIMED_OUT });
    }
  }

  ping(timeoutMs: number): Promise<void> {
    return ping(this.#endpoint, timeoutMs);
  }

  /**
   * Refuse new records at once, flush (at most `timeoutMs`), then abort the
   * requests under way and reject every record not settled with
   * `ClosedError`. Resolves within `timeoutMs` (the requests' ends are
   * awaited in what is left of it).
   */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#closing = true;
    try {
      await this.flush(timeoutMs);
    } catch {
      // What is left is rejected below.
    }
    this.#closed.abort();
    const closed = new ClosedError("The producer");
    for (const pending of this.#inFlight) pending.reject(closed);
    for (const lane of this.#lanes.values()) {
      for (const pending of lane.waiting.splice(0)) pending.reject(closed);
    }
    this.#waitingRecords = 0;
    this.#waitingBytes = 0;
    await delay(Math.max(0, deadline - Date.now()), Promise.allSettled(this.#pumps));
  }

  /** Send `lane`'s records, a request at a time, until none waits or the client closed. */
  async #pump(lane: Lane): Promise<void> {
    try {
      while (lane.waiting.length > 0 && !this.#closed.signal.aborted) {
        const batch = this.#take(lane);
        if (batch.length === 0) continue;
        const retryInMs = await this.#post(lane, batch);
        if (retryInMs !== undefined) await delay(retryInMs, this.#closed.signal);
      }
    } finally {
      lane.pumping = false;
      if (lane.waiting.length === 0 && this.#lanes.get(lane.topic) === lane) this.#lanes.delete(lane.topic);
    }
  }

  /** Put `records` in `lane`'s waiting list: at the back (new), or at the front (to retry, before anything newer). */
  #wait(lane: Lane, records: readonly Pending[], where: "front" | "back"): void {
    if (where === "back") lane.waiting.push(...records);
    else lane.waiting.unshift(...records);
    for (const pending of records) {
      this.#waitingRecords++;
      this.#waitingBytes += pending.json.length;
    }
  }

  /**
   * The next request's records, oldest first, up to `maxRequestBytes` of
   * body (at least one) and the mode's most records. Records past their
   * deadline are failed, not sent.
   */
  #take(lane: Lane): Pending[] {
    const { format, maxRequestBytes } = this.#limits;
    const now = Date.now();
    const batch: Pending[] = [];
    const expired: Pending[] = [];
    let bytes = 0;
    let taken = 0;
    for (; taken < lane.waiting.length && batch.length < format.maxRecords; taken++) {
      const pending = lane.waiting[taken]!;
      if (pending.deadline <= now) {
        expired.push(pending);
        continue;
      }
      const size = format.framing(batch.length) + pending.json.length;
      if (batch.length > 0 && bytes + size > maxRequestBytes) break;
      batch.push(pending);
      bytes += size;
    }
    for (const pending of lane.waiting.splice(0, taken)) {
      this.#waitingRecords--;
      this.#waitingBytes -= pending.json.length;
    }
    for (const pending of expired) pending.reject(timedOut(lane.topic, "its deadline passed before it was sent"));
    return batch;
  }

  /**
   * Send `batch` in one request and settle its records by the answer.
   * Returns how long to wait before sending again when the REST Proxy asked
   * for a retry (the records to retry are back at the front of the lane).
   */
  async #post(lane: Lane, batch: readonly Pending[]): Promise<number | undefined> {
    const { topic } = lane;
    const { format } = this.#limits;
    const url = clusterUrl(this.#endpoint, `/topics/${encodeURIComponent(topic)}${format.path}`);
    const controller = new AbortController();
    const onClose = () => controller.abort(new ClosedError("The producer"));
    this.#closed.signal.addEventListener("abort", onClose, { once: true });
    const latest = batch.reduce((max, p) => Math.max(max, p.deadline), 0);
    // No timer without a deadline (a delivery timeout of 0): such a request waits for its answer or the close.
    const timer = latest - Date.now() > MAX_TIMER_MS ? undefined : setTimeout(
      () => controller.abort(timedOut(topic, "the REST Proxy did not answer before the record's deadline")),
      Math.max(0, latest - Date.now()),
    );
    for (const pending of batch) this.#inFlight.add(pending);
    try {
      const response = await send(this.#endpoint, "POST", url, controller.signal, format.body(batch.map((pending) => pending.json)));
      if (response.ok) {
        lane.failures = 0;
        await this.#settle(topic, url, batch, response);
        return undefined;
      }
      if (response.status === 429 || response.status === 503) {
        const asked = retryAfterMs(response);
        await response.body?.cancel().catch(() => {}); // only the status and Retry-After matter
        const waitMs = asked ?? backoff(++lane.failures, RETRY_BACKOFF_MS, MAX_RETRY_BACKOFF_MS);
        const retryAt = Date.now() + waitMs;
        const why = `the REST Proxy answered ${response.status} ` +
          (asked === undefined ? `(retry after a backoff of ${Math.round(waitMs)} ms)` : `with Retry-After ${asked / 1000} s`);
        const retry: Pending[] = [];
        for (const pending of batch) {
          if (retryAt < pending.deadline) retry.push(pending);
          else pending.reject(timedOut(topic, `${why}, past the record's deadline (${Math.max(0, pending.deadline - Date.now())} ms left)`));
        }
        this.#wait(lane, retry, "front");
        return waitMs;
      }
      const error = await answerError(this.#endpoint, response, `POST ${url}`);
      for (const pending of batch) pending.reject(error);
    } catch (error) {
      // The abort's reason (closed, or past the deadline), or no answer at all.
      for (const pending of batch) pending.reject(error as Error);
    } finally {
      clearTimeout(timer);
      this.#closed.signal.removeEventListener("abort", onClose);
      for (const pending of batch) this.#inFlight.delete(pending);
    }
    return undefined;
  }

  /** Settle `batch` by a 2xx answer, each record by its own answer in it. */
  async #settle(topic: string, url: string, batch: readonly Pending[], response: Response): Promise<void> {
    const answers = this.#limits.format.answers(new Uint8Array(await response.arrayBuffer()), batch.length);
    const unanswered: Pending[] = [];
    batch.forEach((pending, i) => {
      if (answers[i] === undefined) unanswered.push(pending);
      else this.#settleOne(topic, pending, answers[i]);
    });
    if (unanswered.length === 0) return;
    const error = new RestProxyError(
      `POST ${url}: the REST Proxy answered ${batch.length - unanswered.length} of ${batch.length} records; ` +
        "whether the others were written is not known",
      { status: response.status },
    );
    for (const pending of unanswered) pending.reject(error);
  }

  /**
   * Settle one record by its answer, whichever the mode: a delivery report
   * (`partition_id`, `offset`, `timestamp`; an `error_code`, if any, 200), or
   * a rejection with REST Proxy's `{ error_code, message }`.
   */
  #settleOne(topic: string, pending: Pending, answer: unknown): void {
    const a = (typeof answer === "object" && answer !== null ? answer : {}) as {
      error_code?: unknown;
      message?: unknown;
      partition_id?: unknown;
      offset?: unknown;
      timestamp?: unknown;
    };
    const errorCode = typeof a.error_code === "number" ? a.error_code : undefined;
    if ((errorCode === undefined || errorCode === 200) && typeof a.partition_id === "number" && typeof a.offset === "number") {
      const timestamp = typeof a.timestamp === "string" ? Date.parse(a.timestamp) : typeof a.timestamp === "number" ? a.timestamp : NaN;
      pending.resolve({
        topic,
        partition: a.partition_id,
        offset: a.offset,
        ...(Number.isFinite(timestamp) && { timestamp }),
      });
      return;
    }
    const message = typeof a.message === "string" ? clean(this.#endpoint, a.message) : "no message";
    pending.reject(
      new RestProxyError(
        `The REST Proxy refused a record for topic "${topic}" (error_code ${errorCode ?? "missing"}): ${message}`,
        errorCode === undefined ? {} : { errorCode },
      ),
    );
  }
}

/** A record's failure for a deadline that passed, or would pass before a retry. */
function timedOut(topic: string, why: string): RestProxyError {
  return new RestProxyError(`Publish to topic "${topic}" timed out: ${why}`, { code: ERR__MSG_TIMED_OUT });
}
