/**
 * Which runtime's FFI shim serves this process: {@link nativeRuntime} loads
 * `_deno.ts`, `_bun.ts` or `_node.ts` with a dynamic `import()`, so no runtime
 * API is imported at module top level and a shim is only ever evaluated on
 * its own runtime. The interface they implement is `_native_types.ts`.
 *
 * @module
 */
import type { NativeRuntime } from "./_native_types.ts";

/** Which JavaScript runtime this is, by its global. */
export function runtimeName(): NativeRuntime["name"] {
  if ("Deno" in globalThis) return "deno";
  if ("Bun" in globalThis) return "bun";
  return "node";
}

let loading: Promise<NativeRuntime> | undefined;

/**
 * The {@link NativeRuntime} of the current runtime, loaded once per process
 * with a dynamic `import()` of its shim.
 */
export function nativeRuntime(): Promise<NativeRuntime> {
  loading ??= (async () => {
    switch (runtimeName()) {
      case "deno":
        return (await import("./_deno.ts")).denoRuntime();
      case "bun":
        return (await import("./_bun.ts")).bunRuntime();
      default:
        return (await import("./_node.ts")).nodeRuntime();
    }
  })();
  return loading;
}
