/**
 * The native Kafka drivers, for a registry that should not pick one itself:
 *
 * - `ffiDriver(options?)`: librdkafka over FFI (Deno, Bun; koffi on Node),
 *   with the library's path as an option;
 * - `confluentDriver()`: `@confluentinc/kafka-javascript` (Node).
 *
 * A registry created without `driver` loads the one for its runtime on first
 * use, out of bundlers' sight (so that a bundle for an edge runtime holds no
 * native code). An application bundled for Node or Bun therefore passes its
 * driver from here, which the bundler then follows.
 *
 * @example A Node server bundled with esbuild
 * ```ts
 * import { createRegistry } from "@kshare/kshare";
 * import { confluentDriver } from "@kshare/kshare/drivers";
 *
 * export const kafka = createRegistry({ driver: confluentDriver });
 * ```
 *
 * @module
 */
export { ffiDriver } from "./src/drivers/ffi/driver.ts";
export type { FfiDriverOptions } from "./src/drivers/ffi/driver.ts";
export { confluentDriver } from "./src/drivers/confluent.ts";
