/**
 * The driver and logger every scenario uses (not part of kshare's API).
 *
 * @module
 */
import type { KafkaDriver, Logger } from "../../mod.ts";
import { loadDefaultDriver } from "../../src/drivers/default.ts";

let loading: Promise<KafkaDriver> | undefined;

/**
 * The runtime's default driver (Confluent on Node, FFI on Deno and Bun),
 * loaded once per process: a naive application that creates a producer per
 * message still loads its Kafka library once, so no scenario pays for it per
 * operation.
 */
export function benchDriver(): Promise<KafkaDriver> {
  loading ??= loadDefaultDriver();
  return loading;
}

/** A logger that counts instead of printing (connection errors of short-lived clients are expected noise). */
export function countingLogger(): Logger & { readonly warnings: number; readonly errors: number } {
  let warnings = 0;
  let errors = 0;
  return {
    get warnings() {
      return warnings;
    },
    get errors() {
      return errors;
    },
    warn: () => void warnings++,
    error: () => void errors++,
  };
}
