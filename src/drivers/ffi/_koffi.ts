/**
 * The part of koffi's API that `_node.ts` uses, written out by hand. It
 * mirrors koffi 3's own declarations (`index.d.ts`, 3.3), narrowed to the
 * values kshare passes (pointers are `bigint` addresses).
 *
 * Why not `import type` from koffi (or `typeof import("koffi")`): JSR turns
 * every import it sees, type-only ones included, into a dependency of the
 * published package, and koffi is needed on Node only, for the embedded
 * broker and the FFI driver; Deno and Bun users call librdkafka through their
 * runtime's own FFI. `_node.ts` loads it through `../_require.ts`, which JSR
 * does not follow.
 *
 * @module
 */

declare const typeBrand: unique symbol;

/** A C type koffi made (by {@link Koffi.proto} or {@link Koffi.pointer}); opaque. */
export type KoffiType = { readonly [typeBrand]: true };

/** A C type: a name koffi parses (`"int32_t"`, `"void *"`) or a type it made. */
export type TypeSpec = string | KoffiType;

/** A bound C function. */
export interface KoffiFunction {
  /** Call on the JavaScript thread. */
  (...args: unknown[]): unknown;
  /** Call on libuv's thread pool; the result comes to the node-style callback, on the JavaScript thread. */
  async(...argsThenCallback: [...unknown[], (error: unknown, result: unknown) => void]): void;
}

/** A `dlopen`ed library; owns the handle until {@link unload}. */
export interface KoffiLibrary {
  func(name: string, result: TypeSpec, args: TypeSpec[]): KoffiFunction;
  /** `dlclose`: every function bound from it is invalid afterwards. */
  unload(): void;
}

/** A libuv poll handle watching a file descriptor; the caller must `close()` it. */
export interface KoffiPollHandle {
  close(): void;
}

/** The module, as `require("koffi")` returns it. */
export interface Koffi {
  /** `null`: the process itself (libc's functions). */
  load(path: string | null): KoffiLibrary;
  proto(result: TypeSpec, args: TypeSpec[]): KoffiType;
  pointer(type: TypeSpec): KoffiType;
  /** A C function pointer calling `fn`, valid until {@link unregister}. */
  register(fn: (...args: never[]) => unknown, type: KoffiType): bigint;
  unregister(pointer: bigint): void;
  /** The address of a TypedArray's memory. */
  address(value: Uint8Array): bigint;
  /** An ArrayBuffer aliasing the C memory at `pointer` (no copy). */
  view(pointer: bigint, length: number): ArrayBuffer;
  decode: {
    /** The value of C type `type` at `pointer + offset`. */
    (pointer: bigint, offset: number, type: TypeSpec): unknown;
    /** The NUL-terminated string at `pointer`, copied. */
    string(pointer: bigint): string;
  };
  node: {
    poll(fd: number, options: { readable?: boolean }, callback: () => void): KoffiPollHandle;
  };
}
