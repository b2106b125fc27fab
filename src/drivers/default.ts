/**
 * Picks the driver for the runtime this code runs on. Loaded with a dynamic
 * import by the registry, so the core never imports a binding at top level.
 *
 * @module
 */
import type { KafkaDriver } from "../driver.ts";

/** Environment variable that picks Node's driver: `ffi` or `confluent` (no fallback then). */
export const DRIVER_ENV = "KSHARE_DRIVER";

/**
 * The librdkafka FFI driver on Deno and Bun. On Node, the FFI driver (over
 * `koffi`) where it loads, that is where `koffi` is installed and a
 * librdkafka shared library of 2.3.0 or newer is found (see `ffiDriver`):
 * it publishes more than three times as fast as the Confluent client and passes
 * the same tests. Otherwise, as after a plain `npm install
 * @confluentinc/kafka-javascript` (its prebuilt addon links librdkafka
 * statically: there is no shared library to load), the Confluent client.
 * Neither loading: one error naming both reasons. On Node, `KSHARE_DRIVER`
 * set to `ffi` or `confluent` takes that driver only.
 */
export async function loadDefaultDriver(): Promise<KafkaDriver> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown; process?: { env?: Record<string, string | undefined> } };
  const ffiDriver = async () => (await import("./ffi/driver.ts")).ffiDriver();
  if (runtime.Deno !== undefined || runtime.Bun !== undefined) return await ffiDriver();
  const confluent = async () => (await import("./confluent.ts")).confluentDriver();
  const chosen = runtime.process?.env?.[DRIVER_ENV];
  if (chosen === "ffi") return await ffiDriver();
  if (chosen === "confluent") return await confluent();
  if (chosen !== undefined && chosen !== "") {
    throw new Error(`${DRIVER_ENV} must be ffi or confluent (or unset: the FFI driver where it loads, else the Confluent client), got "${chosen}"`);
  }
  let ffiError: unknown;
  try {
    return await ffiDriver();
  } catch (error) {
    ffiError = error;
  }
  try {
    return await confluent();
  } catch (confluentError) {
    throw new Error(
      `kshare could not load a Kafka driver on Node. The FFI driver: ${reason(ffiError)} The Confluent driver: ${reason(confluentError)}`,
      { cause: confluentError },
    );
  }
}

/** An error's message, ending with a full stop. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /[.!?]$/.test(message) ? message : `${message}.`;
}
