/**
 * What the Confluent driver's producer and consumer share: connecting, and
 * turning the binding's errors into redacted ones that keep librdkafka's
 * code, the fatal one routed to `onFatal` once.
 *
 * @module
 */
import type * as Confluent from "./_confluent_binding.ts";
import type { ClientConfig, ClientEvents } from "../driver.ts";
import { redact } from "../errors.ts";
import { ERR__FATAL } from "../_kafka_codes.ts";
import type { KafkaError } from "../kafka_error.ts";

/** How long a new client waits for its connect. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** An error from the binding with secret values redacted and its librdkafka code kept. */
export function cleanError(error: unknown, config: ClientConfig): Error & { code?: number } {
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
export function watchErrors(
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
export function connect(client: Confluent.Client, config: ClientConfig): Promise<void> {
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

/** An Error with a librdkafka code, as the binding's errors carry one. */
export function codedError(code: number, message: string): KafkaError {
  return Object.assign(new Error(message), { code });
}
