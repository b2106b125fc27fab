/**
 * Picks the driver for the runtime this code runs on. Loaded with a dynamic
 * import by the registry, so the core never imports a binding at top level.
 *
 * @module
 */
import type { KafkaDriver } from "../driver.ts";

/** The Confluent client on Node; the librdkafka FFI driver on Deno and Bun. */
export async function loadDefaultDriver(): Promise<KafkaDriver> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno !== undefined || runtime.Bun !== undefined) {
    const { ffiDriver } = await import("./ffi/driver.ts");
    return await ffiDriver();
  }
  const { confluentDriver } = await import("./confluent.ts");
  return await confluentDriver();
}
