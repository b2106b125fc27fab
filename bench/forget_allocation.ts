/**
 * What one call costs the heap: `publish` (awaited) beside `publishAndForget`,
 * the same 100-byte record, measured over the synchronous calls only (no
 * delivery report is handled in between). On V8 (Deno, Node) the heap grown
 * per record, after a full collection, over 5,000 calls (no collection can
 * run meanwhile: they fit in the young generation); on Bun the Promise
 * objects per record (`bun:jsc`'s heap statistics). Five rounds each, median.
 *
 *   npx deno run -A --v8-flags=--expose-gc bench/forget_allocation.ts
 *   node --expose-gc --import tsx bench/forget_allocation.ts [--driver ffi]
 *   npx bun bench/forget_allocation.ts
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { createRegistry } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { benchTopic, MESSAGE_VALUE } from "./_util.ts";
import { runtimeName } from "./_child.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { driver: { type: "string", default: "default" } } });
const CALLS = 5_000;
const ROUNDS = 5;

const bun = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun;
// A specifier the type checker does not resolve: bun:jsc exists on Bun only.
const jscModule = "bun:jsc";
const jsc = bun ? await import(jscModule) as { heapStats(): { objectTypeCounts: Record<string, number> } } : undefined;
const v8gc = (globalThis as { gc?: () => void }).gc;
if (!bun && !v8gc) throw new Error("run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)");
const collect = () => (bun ? bun.gc(true) : v8gc!());
/** What is counted: Promise objects on Bun, heap bytes on V8. */
const reading = () => jsc ? jsc.heapStats().objectTypeCounts["Promise"] ?? 0 : process.memoryUsage().heapUsed;
const unit = jsc ? "promises" : "heap bytes";

const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("allocation", 1);
const driver = values.driver === "ffi" ? await (await import("../src/drivers/ffi/driver.ts")).ffiDriver() : undefined;
const kafka = createRegistry(driver ? { driver } : {});
try {
  const producer = await kafka.producer({ bootstrapServers: broker.bootstrapServers, producer: { "linger.ms": 5 } });
  const topic = benchTopic("allocation");
  const modes = [
    ["publish (awaited)", () => producer.publish(topic, MESSAGE_VALUE)],
    ["publishAndForget", () => producer.publishAndForget(topic, MESSAGE_VALUE)],
  ] as const;
  for (const [label, call] of modes) {
    const kept: unknown[] = new Array(CALLS);
    const perRecord: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      collect();
      const before = reading();
      for (let i = 0; i < CALLS; i++) kept[i] = call();
      const after = reading();
      if (round > 0) perRecord.push((after - before) / CALLS); // round 0 warms the code up
      await Promise.all(kept);
      await producer.flush();
    }
    perRecord.sort((a, b) => a - b);
    console.log(
      `${runtimeName()} ${kafka.stats().driver!.name} ${label}: ${perRecord[ROUNDS >> 1]!.toFixed(1)} ${unit} per record ` +
        `(rounds: ${perRecord.map((n) => n.toFixed(1)).join(", ")})`,
    );
  }
} finally {
  await kafka.close();
  await broker.stop();
}
