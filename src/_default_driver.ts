/**
 * The driver a registry uses when it was given none: the native one of the
 * runtime (`drivers/default.ts`: the librdkafka FFI driver on Deno and Bun,
 * the Confluent client on Node), or, on any other runtime (Cloudflare
 * Workers, Vercel Edge), an error saying to pass one.
 *
 * @module
 */
import type { KafkaDriver } from "./driver.ts";

/** Why a registry without a driver cannot connect here: what `producer()` and a consumer's `start()` reject with. */
const NO_DEFAULT_DRIVER =
  "kshare has no Kafka driver of its own on this runtime (neither Deno, Bun nor Node): pass `driver: restProxyDriver({...})` to createRegistry";
/** Why the native drivers could not be loaded: most likely a bundle, which holds none unless the application imports one. */
const NOT_LOADED = "kshare could not load its native driver (a bundled application holds none): pass `driver: confluentDriver` or `driver: ffiDriver` " +
  "from @kshare/kshare/drivers to createRegistry, or, where there is no TCP, `driver: restProxyDriver({...})`";

/** The native driver of Deno, Bun or Node, loaded on first call; rejects with {@link NO_DEFAULT_DRIVER} elsewhere. */
export async function defaultDriver(): Promise<KafkaDriver> {
  const runtime = globalThis as { Deno?: { dlopen?: unknown }; Bun?: unknown; process?: { versions?: { node?: unknown } } };
  // Deno Deploy is a Deno without FFI (no Deno.dlopen); Workers with nodejs_compat say they are Node, and fail below.
  const { Deno: deno } = runtime;
  if (typeof deno?.dlopen !== "function" && runtime.Bun === undefined && runtime.process?.versions?.node === undefined) {
    throw new Error(NO_DEFAULT_DRIVER);
  }
  let drivers: typeof import("./drivers/default.ts");
  try {
    drivers = await nativeDrivers(".");
  } catch (error) {
    throw new Error(NOT_LOADED, { cause: error });
  }
  return await drivers.loadDefaultDriver();
}

/**
 * `drivers/default.ts`, imported where no bundler follows: the native drivers
 * import `node:*` modules, `bun:ffi` and `Deno.dlopen`, which a bundle for an
 * edge runtime cannot hold (and need not: they could not run there).
 *
 * The specifier is the template `./drivers/${here}/default${extension}`, with
 * `here` = `.`: at run time `./drivers/default.ts`. Deno and JSR take a
 * template that starts with `./` as analysable (`deno publish` warns of an
 * unanalysable import, which `npm run check` refuses); esbuild reads it as a
 * glob over the files under `drivers/`, one directory down or more, named
 * `default…`, and there is none: a bundle holds no native driver, and this
 * import fails in it (esbuild warns that the glob matched no file). `here` is
 * a parameter, not a constant: esbuild inlines a module's constants into the
 * template, and would then follow it.
 *
 * `extension` is this module's own: JSR's npm layer serves compiled `.js`
 * files and rewrites only specifiers written as string literals. The `typeof
 * import()` keeps `drivers/default.ts`, and the drivers it imports, in JSR's
 * module graph, which its npm layer compiles, and in type checks.
 */
async function nativeDrivers(here: string): Promise<typeof import("./drivers/default.ts")> {
  const url = import.meta.url;
  const extension = url.slice(url.lastIndexOf("."));
  return await import(`./drivers/${here}/default${extension}`);
}
