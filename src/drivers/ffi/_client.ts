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
import { cString, fromCBuffer, type NativeRuntime, type NativeSymbols, type Pointer } from "./_native.ts";
import { openEventQueue } from "./_queue.ts";
import {
  ADMIN_OP_ANY,
  type CLIENT_SYMBOLS,
  type CORE_SYMBOLS,
  ERR__FATAL,
  ERR__TIMED_OUT,
  ERRSTR_SIZE,
  EVENT_DESCRIBETOPICS_RESULT,
  PARTITION_LIST,
  RD_KAFKA_CONF_OK,
  TOPIC_PARTITION,
} from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

/** An error from librdkafka: its message (secrets redacted) and its `rd_kafka_resp_err_t` code. */
export type KafkaError = Error & { code: number; fatal?: boolean };

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
  /** Resolve once a broker answered a metadata request, within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
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
        events.onError?.(error(code, text));
      }
    },
    ping: (timeoutMs) => ping(client, timeoutMs),
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

/** Topic name DescribeTopics asks about in a ping; it need not exist and is never created. */
const PING_TOPIC = "__kshare_ping";

/**
 * Reachability without blocking: an Admin DescribeTopics (a Metadata request
 * that never creates topics) whose result event arrives on a queue of its own.
 */
async function ping(client: Client, timeoutMs: number): Promise<void> {
  const { c, rk, native } = client;
  // queue: owned by `events`, destroyed by events.close().
  const events = openEventQueue(client.rdkafka, c.rd_kafka_queue_new(rk)!);
  try {
    // options and topics: ours; librdkafka copies both into the request, so
    // they are freed as soon as DescribeTopics returned.
    const options = c.rd_kafka_AdminOptions_new(rk, ADMIN_OP_ANY);
    const errstr = new Uint8Array(ERRSTR_SIZE);
    const name = cString(PING_TOPIC);
    const names = new Uint8Array(8); // const char *names[1], pointing into `name` (alive during the call)
    new DataView(names.buffer).setBigUint64(0, native.bufferAddress(name), true);
    const topics = c.rd_kafka_TopicCollection_of_topic_names(names, 1);
    try {
      if (c.rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, errstr, ERRSTR_SIZE) !== 0) {
        throw new Error(`ping: ${fromCBuffer(errstr)}`);
      }
      c.rd_kafka_DescribeTopics(rk, topics, options, events.queue);
    } finally {
      c.rd_kafka_TopicCollection_destroy(topics);
      c.rd_kafka_AdminOptions_destroy(options);
    }
    // librdkafka times the request out itself; the margin only guards against a lost result.
    const deadline = Date.now() + timeoutMs + 1_000;
    for (let remaining = timeoutMs + 1_000; remaining > 0; remaining = deadline - Date.now()) {
      const event = await events.next(remaining);
      if (event === null) continue;
      try {
        if (c.rd_kafka_event_type(event) !== EVENT_DESCRIBETOPICS_RESULT) continue;
        const code = c.rd_kafka_event_error(event);
        if (code === 0) return;
        // The string belongs to the event: read before rd_kafka_event_destroy.
        throw client.error(code, `No broker answered for ${client.config.label}: ${
          native.readCString(c.rd_kafka_event_error_string(event)) ?? client.rdkafka.errorText(code)
        }`);
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
