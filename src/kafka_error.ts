/**
 * The error every driver reports for a condition librdkafka (or a broker)
 * names: an `Error` carrying librdkafka's `rd_kafka_resp_err_t` code and the
 * flags librdkafka gives it. The codes are those of `rdkafka.h`, generated
 * into `src/_kafka_codes.ts`: negative ones (`ERR__*`) are the client's own,
 * the others a broker's Kafka protocol error codes. A driver that speaks
 * another protocol (the REST Proxy driver) sets `code` only where its
 * condition has a librdkafka code.
 *
 * @module
 */

/**
 * An error with librdkafka's code. Messages never hold a secret (drivers
 * redact them).
 *
 * @example Telling a producer's fatal error from one it recovers from
 * ```ts
 * import { isKafkaError, type KafkaError } from "@kshare/kshare";
 * function describe(error: KafkaError): string {
 *   return `${error.message} (librdkafka code ${error.code}${error.fatal ? ", fatal" : ""})`;
 * }
 * declare const error: unknown;
 * if (isKafkaError(error)) console.error(describe(error));
 * ```
 */
export interface KafkaError extends Error {
  /** librdkafka's `rd_kafka_resp_err_t`: negative for the client's own conditions, positive for a broker's. */
  code: number;
  /** The client is unusable (librdkafka's fatal error, e.g. fenced by a newer producer): its owner replaces it. */
  fatal?: boolean;
  /** The same call may succeed if made again. */
  retriable?: boolean;
  /** A transactional call failed and the transaction must be aborted; the producer itself is fine. */
  abortable?: boolean;
}

/**
 * Whether `error` is a {@link KafkaError}: an `Error` with a numeric `code`,
 * and, when `codes` are given, one of them. The one check the core makes of
 * a driver's error code.
 *
 * @example Retrying what librdkafka says may succeed again
 * ```ts
 * import { isKafkaError } from "@kshare/kshare";
 * declare function commitOffsets(): Promise<void>;
 * try {
 *   await commitOffsets();
 * } catch (error) {
 *   if (!(isKafkaError(error) && error.retriable)) throw error;
 *   await commitOffsets(); // once more
 * }
 * ```
 */
export function isKafkaError(error: unknown, ...codes: readonly number[]): error is KafkaError {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && (codes.length === 0 || codes.includes(code));
}
