/**
 * The default registry that `mod.ts` exports, shared by every importer.
 *
 * @module
 */
import { createRegistry } from "./create_registry.ts";
import type { Registry } from "./registry.ts";

/** Created by the default registry's first use, never replaced: closing it closes the default for good. */
let instance: Registry | undefined;

const shared = (): Registry => (instance ??= createRegistry());

/**
 * The module-scoped default registry: import it anywhere and get the same
 * shared clients. Close it once at shutdown.
 *
 * It is created on first use: importing kshare constructs nothing, as edge
 * runtimes want of a module's top level, and a bundle that never uses it
 * can drop it.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { registry } from "@kshare/kshare";
 * const producer = await registry.producer({ bootstrapServers: "localhost:9092" });
 * // At shutdown: flush producers, commit and leave groups (node:process works on Deno, Bun and Node).
 * process.once("SIGTERM", () => registry.close().finally(() => process.exit(0)));
 * ```
 */
export const registry: Registry = {
  producer: (ctx) => shared().producer(ctx),
  transactionalProducer: (ctx, options) => shared().transactionalProducer(ctx, options),
  consumer: (ctx, groupId) => shared().consumer(ctx, groupId),
  stats: () => shared().stats(),
  close: () => shared().close(),
  get closed() {
    return instance?.closed ?? false;
  },
  [Symbol.asyncDispose]: () => shared()[Symbol.asyncDispose](),
};
