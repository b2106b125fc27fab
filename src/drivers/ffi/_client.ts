/**
 * What the FFI producer and consumer share: creating an `rd_kafka_t` from a
 * {@link ClientConfig}, turning librdkafka errors into redacted `Error`s,
 * reachability checks (made by `_ping.ts`), and teardown.
 *
 * Threads: every function here runs on the JavaScript thread and returns
 * promptly (no librdkafka call made here waits on the network), except
 * `destroy()`, which runs `rd_kafka_destroy_flags` on a worker thread where
 * the runtime can.
 *
 * @module
 */
import type { ClientConfig, ClientEvents } from "../../driver.ts";
import { redact } from "../../errors.ts";
import type { KafkaError } from "../../kafka_error.ts";
import { ERR__ALL_BROKERS_DOWN, ERR__FATAL } from "../../_kafka_codes.ts";
import { cString, fromCBuffer, outWord } from "./_c_memory.ts";
import type { NativeRuntime, NativeSymbols, Pointer } from "./_native_types.ts";
import { ping, pingTarget } from "./_ping.ts";
import { type CLIENT_SYMBOLS, type CORE_SYMBOLS, ERRSTR_SIZE, RD_KAFKA_CONF_OK } from "./_symbols.ts";
import type { Librdkafka } from "./library.ts";

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
   * no `knownTopic`, which ask the controller (see `ping` in `_ping.ts` for
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
      try {
        await ping(client, timeoutMs, pingTarget(connected, createsTopics, knownTopic));
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
