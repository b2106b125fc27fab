/**
 * Picks the driver for the runtime this code runs on. Loaded with a dynamic
 * import by the registry, so the core never imports a binding at top level.
 *
 * @module
 */
import type { KafkaDriver } from "../driver.ts";

/** The Confluent client on Node. Deno and Bun get the librdkafka FFI driver (in progress). */
export async function loadDefaultDriver(): Promise<KafkaDriver> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno !== undefined || runtime.Bun !== undefined) {
    throw new Error(
      "kshare: no default Kafka driver for this runtime yet: @confluentinc/kafka-javascript loads in Node only, " +
        "and the librdkafka FFI driver for Deno and Bun is not finished; pass createRegistry({ driver })",
    );
  }
  const { confluentDriver } = await import("./confluent.ts");
  return await confluentDriver();
}
