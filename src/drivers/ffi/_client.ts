/**
 * What the FFI producer and consumer share: creating an `rd_kafka_t` from a
 * {@link ClientConfig}, turning librdkafka errors into redacted `Error`s,
 * reachability checks, topic partition lists, and teardown.
 *
 * Threads: every function here runs on the JavaScript thread and returns
 * promptly (no librdkafka call made here waits on the network), except
 * `destroy()`, which runs `rd_kafka_destroy_flags` on a worker thread where
 * the runtime can.
 *
 * @module
 */
import type { ClientConfig, ClientEvents, TopicPartition } from "../../driver.ts";
import { redact } from "../../errors.ts";
import { ERR__ALL_BROKERS_DOWN, ERR__FATAL, ERR__NOENT, ERR__TIMED_OUT } from "../../_kafka_codes.ts";
import { cString, fromCBuffer, outWord, readOutWord } from "./_c_memory.ts";
import type { NativeRuntime, NativeSymbols, Pointer } from "./_native_types.ts";
import { openEventQueue } from "./_queue.ts";
import {
  ADMIN_OP_ANY,
  type CLIENT_SYMBOLS,
  type CORE_SYMBOLS,
  ERRSTR_SIZE,
  EVENT_DESCRIBETOPICS_RESULT,
  EVENT_LISTOFFSETS_RESULT,
  OFFSET_SPEC_LATEST,
  PARTITION_LIST,
  RD_KAFKA_CONF_OK,
  TOPIC_PARTITION,
} from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

/** An error from librdkafka: its message (secrets redacted) and its `rd_kafka_resp_err_t` code. */
export type KafkaError = Error & { code: number; fatal?: boolean; retriable?: boolean; abortable?: boolean };

/** One `rd_kafka_t` and the means to talk about it. */
export interface Client {
  readonly rdkafka: Librdkafka;
  readonly native: NativeRuntime;
  readonly rd: NativeSymbols<typeof CORE_SYMBOLS>;
  readonly c: NativeSymbols<typeof CLIENT_SYMBOLS>;
  /** The handle. Owned by this Client; freed by {@link Client.destroy}. */
  readonly rk: Pointer;
  readonly config: ClientConfig;
  /** An Error for `code`, with librdkafka's `message` (or its text for the code), secrets redacted. */
  error(code: number, message?: string | null): KafkaError;
  /** Read and free an `rd_kafka_error_t *` (NULL: no error). */
  takeError(error: Pointer | null): KafkaError | null;
  /** The client's fatal error (`rd_kafka_fatal_error`), as an Error. */
  fatalError(fallbackCode: number, fallbackMessage: string | null): KafkaError;
  /**
   * Route an `RD_KAFKA_EVENT_ERROR` (owned by the caller, read before it is
   * destroyed): a fatal error to `events.onFatal`, once per client; any other
   * to `events.onError`.
   */
  errorEvent(event: Pointer, events: ClientEvents): void;
  /**
   * Resolve once a broker answered, within `timeoutMs`: any broker, except
   * for later pings of a client that asks brokers to create topics and names
   * no `knownTopic`, which ask the controller (see the `ping` function for
   * why). `knownTopic` is one this client already produced to: asking about
   * it leaves nothing to create. The first ping must come before the client
   * produces or subscribes (the connect), and a client whose first ping
   * failed must be destroyed.
   */
  ping(timeoutMs: number, knownTopic?: string): Promise<void>;
  /** Free the handle (once). Joins librdkafka's threads: off the JavaScript thread where possible. */
  destroy(flags: number): Promise<void>;
}

/**
 * Create an `rd_kafka_t` of `type` from `config.properties` (+ `extra`), with
 * the event types `events` delivered as events (`rd_kafka_conf_set_events`).
 *
 * @throws Error naming the property and librdkafka's reason, with the values
 *   of `config.secretProperties` redacted, if the configuration is refused.
 */
export function createClient(
  rdkafka: Librdkafka,
  type: number,
  config: ClientConfig,
  events: number,
  extra: Readonly<Record<string, string>> = {},
): Client {
  const { native, symbols: rd } = rdkafka;
  const c = rdkafka.client();
  const secrets = config.secretProperties.map((name) => config.properties[name] ?? "");
  const clean = (text: string) => redact(text, secrets);
  const error = (code: number, message?: string | null): KafkaError => {
    const e = new Error(clean(message || rdkafka.errorText(code))) as KafkaError;
    e.code = code;
    return e;
  };

  // conf: ours until rd_kafka_new succeeds (it then belongs to rk); on any
  // failure before that, destroyed here.
  const conf = rd.rd_kafka_conf_new();
  if (conf === null) throw new Error("rd_kafka_conf_new failed");
  const errstr = new Uint8Array(ERRSTR_SIZE);
  for (const [name, value] of Object.entries({ ...config.properties, ...extra })) {
    // Both strings are copied by librdkafka during the call.
    if (rd.rd_kafka_conf_set(conf, cString(name), cString(value), errstr, ERRSTR_SIZE) !== RD_KAFKA_CONF_OK) {
      rd.rd_kafka_conf_destroy(conf);
      throw new Error(`Invalid configuration for ${config.label}: ${name}: ${clean(fromCBuffer(errstr))}`);
    }
  }
  c.rd_kafka_conf_set_events(conf, events);
  const rk = rd.rd_kafka_new(type, conf, errstr, ERRSTR_SIZE);
  if (rk === null) {
    rd.rd_kafka_conf_destroy(conf);
    throw new Error(`Could not create a Kafka client for ${config.label}: ${clean(fromCBuffer(errstr))}`);
  }

  let destroyed: Promise<void> | undefined;
  let fatalReported = false;
  // Whether a topic this client looks up may be created by the broker: its
  // allow.auto.create.topics after librdkafka's default for its type (true
  // for a producer, false for a consumer).
  const createsTopics = configValue(c, rk, "allow.auto.create.topics") === "true";
  let connected = false;
  // The last error librdkafka reported before the client first connected (a
  // TLS handshake refused, a certificate not trusted): a failed connect's
  // ping only says that no broker answered, this says why.
  let connectError: string | undefined;
  const client: Client = {
    rdkafka,
    native,
    rd,
    c,
    rk,
    config,
    error,
    takeError(err) {
      if (err === null) return null;
      try {
        // The string belongs to err: read before rd_kafka_error_destroy.
        const e = error(c.rd_kafka_error_code(err), native.readCString(c.rd_kafka_error_string(err)));
        if (c.rd_kafka_error_is_fatal(err)) e.fatal = true;
        if (c.rd_kafka_error_is_retriable(err)) e.retriable = true;
        if (c.rd_kafka_error_txn_requires_abort(err)) e.abortable = true;
        return e;
      } finally {
        c.rd_kafka_error_destroy(err);
      }
    },
    fatalError(fallbackCode, fallbackMessage) {
      const buffer = new Uint8Array(ERRSTR_SIZE);
      const code = c.rd_kafka_fatal_error(rk, buffer, ERRSTR_SIZE);
      const e = code !== 0 ? error(code, fromCBuffer(buffer)) : error(fallbackCode, fallbackMessage);
      e.fatal = true;
      return e;
    },
    errorEvent(event, events) {
      const code = c.rd_kafka_event_error(event);
      // The string belongs to the event.
      const text = native.readCString(c.rd_kafka_event_error_string(event));
      if (c.rd_kafka_event_error_is_fatal(event) || code === ERR__FATAL) {
        if (!fatalReported) {
          fatalReported = true;
          events.onFatal(client.fatalError(code, text));
        }
      } else {
        const e = error(code, text);
        if (!connected && code !== ERR__ALL_BROKERS_DOWN) connectError = e.message;
        events.onError?.(e);
      }
    },
    async ping(timeoutMs, knownTopic) {
      const target: PingTarget = !connected || !createsTopics
        ? { anyBroker: `${PING_TOPIC}-${crypto.randomUUID()}` }
        : knownTopic !== undefined
        ? { anyBroker: knownTopic }
        : "controller";
      try {
        await ping(client, timeoutMs, target);
      } catch (e) {
        if (!connected && connectError !== undefined && e instanceof Error) {
          e.message += ` (librdkafka's last error: ${connectError})`;
        }
        throw e;
      }
      connected = true;
    },
    destroy(flags) {
      destroyed ??= (async () => {
        const nb = rdkafka.nonblocking();
        if (nb) await nb.rd_kafka_destroy_flags_async(rk, flags);
        else c.rd_kafka_destroy_flags(rk, flags); // Bun: no worker threads for FFI calls
      })();
      return destroyed;
    },
  };
  return client;
}

/**
 * The value of the configuration property `name` of the handle `rk`, copied
 * (the configuration is owned by `rk`); `undefined` if librdkafka has none.
 */
function configValue(c: NativeSymbols<typeof CLIENT_SYMBOLS>, rk: Pointer, name: string): string | undefined {
  const value = new Uint8Array(64);
  const size = outWord(); // size_t *dest_size: in, the buffer's size; out, the value's
  new DataView(size.buffer).setBigUint64(0, BigInt(value.length), true);
  const ok = c.rd_kafka_conf_get(c.rd_kafka_conf(rk), cString(name), value, size) === RD_KAFKA_CONF_OK;
  return ok ? fromCBuffer(value) : undefined;
}

/**
 * Whom a ping asks: any broker, through ListOffsets of partition 0 of the
 * topic named (a fresh name no one has, or one the client already has), or
 * the controller.
 */
type PingTarget = { readonly anyBroker: string } | "controller";

/** Topic name DescribeTopics asks the controller about in a ping; it need not exist and is never created. */
const PING_TOPIC = "__kshare_ping";

/**
 * How long a ping waits for an answer before it sends its request once more,
 * doubled after each copy up to {@link PING_RESEND_MAX_MS} (see `ping`).
 */
const PING_RESEND_MS = 100;
/** The longest wait between two copies of a ping's request: 8 copies in a 10 s connect timeout. */
const PING_RESEND_MAX_MS = 2_000;

/**
 * Reachability without blocking: an Admin request whose result event arrives
 * on a queue of its own. Which request (librdkafka 2.15.1):
 *
 * - "any broker": ListOffsets of partition 0 of a topic no one has (a new
 *   name each time). librdkafka first looks the partition's leader up with a
 *   Metadata request to any broker that is up, never creating the topic
 *   (`rd_kafka_topic_partition_list_query_leaders_async` in
 *   rdkafka_partition.c, `rd_kafka_metadata_refresh_topics` in
 *   rdkafka_metadata.c); the broker's "no such topic" (or "not authorized")
 *   ends the request at once with ERR__NOENT, no answer with ERR__TIMED_OUT.
 *   A broker's "no such topic" is cached for 100 s and a lookup within that
 *   time asks no broker (`rd_kafka_metadata_cache_topic_update` in
 *   rdkafka_metadata_cache.c), hence the new name.
 * - "controller": DescribeTopics of {@link PING_TOPIC}, a Metadata request to
 *   the controller, which waits until the timeout for a cluster naming none.
 *
 * Every other Admin request goes to the controller, to the group coordinator
 * or to every broker, or needs a broker id (rdkafka_admin.c, the targets
 * at line 236): ListConsumerGroups waits for every broker (and the mock
 * cluster lacks ListGroups); the coordinator ones abort the process when one
 * times out while the coordinator is unreachable and the coordinator comes
 * back (`rd_kafka_enq_once_del_source_return`: "eonce->refcnt > 0", librdkafka
 * issue #4605, seen with 2.15.1).
 *
 * Why not ListOffsets every time: when no broker is up, the lookup leaves the
 * topic in the metadata cache as a hint (rdkafka_metadata.c line 1487), and
 * librdkafka's next refresh of the topics it knows, the one on reconnecting
 * included (rdkafka_broker.c line 2409), asks for it with
 * AllowAutoTopicCreation = `allow.auto.create.topics` as soon as the client
 * has topics of its own (`rd_kafka_metadata_refresh_known_topics`): a ping of
 * a producer that published, during an outage, creates its topic on a broker
 * with `auto.create.topics.enable` (seen with the mock cluster). So "any
 * broker" is asked where a hint cannot become a topic: at the connect (no
 * topic of its own yet; a client nobody answered is destroyed), in a client
 * that never asks for topic creation (a consumer by default), and about a
 * topic the client already has (one a producer published to: it is in the
 * metadata cache already, so no hint is left; its partition 0's leader
 * answers). Only a producer that may create topics and has published nothing
 * yet asks the controller.
 *
 * Why the request is sent again until answered, after {@link PING_RESEND_MS}
 * and then less often:
 * a leader lookup whose Metadata request is lost is only retried by a 3 s
 * timer, or when something else changes the metadata cache
 * (`rd_kafka_topic_partition_list_query_leaders_async_worker`). It is lost
 * when it went to a bootstrap broker that librdkafka replaces, as soon as the
 * first Metadata answer names the cluster's brokers, while the request is in
 * flight ("Broker handle destroyed without termination"): a connect whose
 * ping was sent between the bootstrap broker's connection and that answer
 * took 3 s instead of a few ms (about 1 connect in 40 on Bun, seen with
 * 2.15.1). A copy starts a lookup of its own, which asks at once; the copies
 * ask about the same topic, so no other name is left in the cache.
 */
async function ping(client: Client, timeoutMs: number, target: PingTarget): Promise<void> {
  const { c, rk, native } = client;
  // queue: owned by `events`, destroyed by events.close().
  const events = openEventQueue(client.rdkafka, c.rd_kafka_queue_new(rk)!);
  const deadline = Date.now() + timeoutMs;
  /** Send the request once more; every copy times out at `deadline`. */
  const send = () => {
    // options: ours; librdkafka copies it into the request, so it is freed as
    // soon as the request was made.
    const options = c.rd_kafka_AdminOptions_new(rk, ADMIN_OP_ANY);
    try {
      const errstr = new Uint8Array(ERRSTR_SIZE);
      const remaining = Math.max(1, deadline - Date.now());
      if (c.rd_kafka_AdminOptions_set_request_timeout(options, remaining, errstr, ERRSTR_SIZE) !== 0) {
        throw new Error(`ping: ${fromCBuffer(errstr)}`);
      }
      if (target !== "controller") {
        // The list is copied by ListOffsets.
        const partition = { topic: target.anyBroker, partition: 0, offset: OFFSET_SPEC_LATEST };
        withPartitionList(client, [partition], (list) => c.rd_kafka_ListOffsets(rk, list, options, events.queue));
      } else {
        describePingTopic(client, options, events.queue);
      }
    } finally {
      c.rd_kafka_AdminOptions_destroy(options);
    }
  };
  try {
    send();
    let pending = 1;
    let interval = PING_RESEND_MS;
    let resend = Date.now() + interval;
    const result = target !== "controller" ? EVENT_LISTOFFSETS_RESULT : EVENT_DESCRIBETOPICS_RESULT;
    // librdkafka times the requests out itself; the margin only guards against a lost result.
    const giveUp = deadline + 1_000;
    for (let now = Date.now(); now < giveUp; now = Date.now()) {
      if (now >= resend && resend < deadline) {
        send();
        pending++;
        interval = Math.min(interval * 2, PING_RESEND_MAX_MS);
        resend = now + interval;
      }
      const event = await events.next((resend < deadline ? Math.min(resend, giveUp) : giveUp) - now);
      if (event === null) continue;
      try {
        if (c.rd_kafka_event_type(event) !== result) continue;
        // A positive code is a broker's error: it answered. ERR__NOENT: no
        // leader for a topic a broker said it does not have.
        let code = c.rd_kafka_event_error(event);
        // A ListOffsets sent to a partition's leader has its outcome in the partition.
        if (code === 0 && target !== "controller") code = listOffsetsError(client, event);
        if (code >= 0 || (code === ERR__NOENT && target !== "controller")) return;
        // Copies sent later time out at the same deadline: report the last.
        if (code === ERR__TIMED_OUT && --pending > 0) continue;
        // The string belongs to the event: read before rd_kafka_event_destroy.
        throw client.error(
          code,
          `No broker answered for ${client.config.label}: ${native.readCString(c.rd_kafka_event_error_string(event)) ?? client.rdkafka.errorText(code)}`,
        );
      } finally {
        c.rd_kafka_event_destroy(event);
      }
    }
    throw client.error(ERR__TIMED_OUT, `No broker answered for ${client.config.label} within ${timeoutMs} ms`);
  } finally {
    await events.close();
  }
}

/**
 * The outcome of the one partition of a ListOffsets result `event`: its
 * error, or ERR__TIMED_OUT for a request no broker answered (librdkafka
 * 2.15.1 reports that one with no error and the offset
 * RD_KAFKA_OFFSET_INVALID, -1001: seen with a leader down), else 0.
 * Everything read belongs to the event: read before it is destroyed.
 */
function listOffsetsError(client: Client, event: Pointer): number {
  const { c, native } = client;
  const result = c.rd_kafka_event_ListOffsets_result(event);
  const count = outWord();
  const infos = result === null ? null : c.rd_kafka_ListOffsets_result_infos(result, count);
  const info = infos === null || readOutWord(count) === 0 ? null : native.readPointer(infos, 0);
  const partition = info === null ? null : c.rd_kafka_ListOffsetsResultInfo_topic_partition(info);
  if (partition === null) return ERR__TIMED_OUT;
  const code = native.readI32(partition, TOPIC_PARTITION.err);
  return code !== 0 ? code : native.readI64(partition, TOPIC_PARTITION.offset) < 0n ? ERR__TIMED_OUT : 0;
}

/** DescribeTopics of {@link PING_TOPIC}, its result posted to `queue`. */
function describePingTopic(client: Client, options: Pointer | null, queue: Pointer): void {
  const { c, rk, native } = client;
  // topics: ours; copied by DescribeTopics, freed as soon as it returned.
  const name = cString(PING_TOPIC);
  const names = new Uint8Array(8); // const char *names[1], pointing into `name` (alive during the call)
  new DataView(names.buffer).setBigUint64(0, native.bufferAddress(name), true);
  const topics = c.rd_kafka_TopicCollection_of_topic_names(names, 1);
  try {
    c.rd_kafka_DescribeTopics(rk, topics, options, queue);
  } finally {
    c.rd_kafka_TopicCollection_destroy(topics);
  }
}

/**
 * Run `use` with a new `rd_kafka_topic_partition_list_t` holding
 * `partitions` (and their offsets, if given); the list is ours and destroyed
 * afterwards. librdkafka copies the topic names on add.
 */
export function withPartitionList<T>(
  client: Client,
  partitions: readonly (TopicPartition & { offset?: number })[],
  use: (list: Pointer) => T,
): T {
  const { c } = client;
  const list = c.rd_kafka_topic_partition_list_new(Math.max(1, partitions.length));
  if (list === null) throw new Error("rd_kafka_topic_partition_list_new failed");
  try {
    for (const { topic, partition, offset } of partitions) {
      const name = cString(topic);
      c.rd_kafka_topic_partition_list_add(list, name, partition);
      if (offset !== undefined) c.rd_kafka_topic_partition_list_set_offset(list, name, partition, BigInt(offset));
    }
    return use(list);
  } finally {
    c.rd_kafka_topic_partition_list_destroy(list);
  }
}

/** The topic partitions of a list owned by someone else (e.g. a rebalance event), copied. */
export function readPartitionList(native: NativeRuntime, list: Pointer | null): TopicPartition[] {
  if (list === null) return [];
  const count = native.readI32(list, PARTITION_LIST.cnt);
  const elems = native.readPointer(list, PARTITION_LIST.elems);
  const out: TopicPartition[] = [];
  for (let i = 0; i < count && elems !== null; i++) {
    const base = i * TOPIC_PARTITION.size;
    out.push({
      topic: native.readCString(native.readPointer(elems, base + TOPIC_PARTITION.topic)) ?? "",
      partition: native.readI32(elems, base + TOPIC_PARTITION.partition),
    });
  }
  return out;
}
