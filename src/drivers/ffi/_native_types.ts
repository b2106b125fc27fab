/**
 * The runtime-neutral foreign function interface: the types of the one seam
 * between kshare's librdkafka code and the three runtimes' FFIs
 * (`Deno.dlopen`, `bun:ffi`, Node through `koffi`).
 *
 * Everything above it (library discovery, the mock cluster, the FFI driver)
 * is written once against {@link NativeRuntime}; each runtime implements it in
 * a thin shim (`_deno.ts`, `_bun.ts`, `_node.ts`), which `_native.ts` picks
 * and loads. Types only: shims and their users import this file, nothing here
 * imports them.
 *
 * Conventions shared by all shims:
 * - A C pointer is an opaque {@link Pointer}; `NULL` is always `null`. Its
 *   JavaScript representation differs by runtime (a `Deno.PointerObject`, a
 *   `number` on Bun, a `bigint` with koffi) and must not be inspected.
 * - `"buffer"` arguments take a `Uint8Array` (or `null`) whose memory C reads
 *   or writes during the call only: the shim passes the address of the
 *   JavaScript memory, without copying. C must not keep that address after the
 *   call returns, unless the caller keeps the array alive and says so.
 * - 64-bit integer results (`i64`, `u64`, `usize`, `isize`) are `number` or
 *   `bigint` depending on the runtime and the value: convert with `Number()` or
 *   `BigInt()` at the use site.
 * - Memory read through {@link NativeRuntime} (`readCString`, `copyBytes`, …)
 *   belongs to C; the read functions copy, so the result outlives it.
 * - 64-bit platforms only (LP64: pointers, `size_t` and `long` are 8 bytes);
 *   struct offsets elsewhere in this folder assume it.
 *
 * @module
 */

declare const pointerBrand: unique symbol;

/**
 * An opaque, non-NULL C pointer. `NULL` is represented by `null`, so a C
 * `T *` maps to `Pointer | null`.
 */
export type Pointer = { readonly [pointerBrand]: true };

/** Argument and result types, in one neutral spelling for every runtime. */
export type NativeType =
  | "void"
  | "bool"
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "usize"
  | "isize"
  | "f32"
  | "f64"
  /** An opaque C pointer ({@link Pointer} or `null`). */
  | "ptr"
  /** A pointer to JavaScript memory: a `Uint8Array` or `null`, borrowed for the call. */
  | "buffer";

/** The C prototype of one symbol. */
export interface SymbolSpec {
  /**
   * The C function's name when it differs from the table key, so one function
   * can be bound twice (e.g. a blocking and a `nonblocking` binding). Not
   * supported by the Bun shim, which never opens such a table.
   */
  readonly symbol?: string;
  readonly args: readonly NativeType[];
  readonly ret: NativeType;
  /**
   * The call may block (e.g. waits on a queue with a timeout). On runtimes
   * with `capabilities.nonblockingCalls` it runs on a worker thread and the
   * binding returns a `Promise`; other runtimes refuse to open such a symbol.
   */
  readonly nonblocking?: boolean;
}

/** A symbol table: C function name to prototype. */
export type SymbolTable = Readonly<Record<string, SymbolSpec>>;

/** The JavaScript value accepted for an argument of type `T`. */
export type ArgValue<T extends NativeType> = T extends "ptr" ? Pointer | null
  : T extends "buffer" ? Uint8Array | null
  : T extends "bool" ? boolean
  : T extends "i64" | "u64" | "usize" | "isize" ? number | bigint
  : T extends "void" ? never
  : number;

/** The JavaScript value returned for a result of type `T`. */
export type RetValue<T extends NativeType> = T extends "ptr" ? Pointer | null
  : T extends "bool" ? boolean
  : T extends "i64" | "u64" | "usize" | "isize" ? number | bigint
  : T extends "void" ? void
  : T extends "buffer" ? never
  : number;

type ArgValues<A extends readonly NativeType[]> = { [I in keyof A]: ArgValue<A[I]> };

/** The callable binding of one {@link SymbolSpec}. */
export type NativeFunction<S extends SymbolSpec> = (
  ...args: ArgValues<S["args"]>
) => S["nonblocking"] extends true ? Promise<RetValue<S["ret"]>> : RetValue<S["ret"]>;

/** The bound functions of a {@link SymbolTable}. */
export type NativeSymbols<T extends SymbolTable> = { readonly [K in keyof T]: NativeFunction<T[K]> };

/** An opened shared library. */
export interface NativeLibrary<T extends SymbolTable> {
  /** The path it was opened from. */
  readonly path: string;
  readonly symbols: NativeSymbols<T>;
  /**
   * Unload the library. Every pointer, symbol and callback obtained through it
   * is invalid afterwards. kshare keeps librdkafka loaded for the life of the
   * process (see `library.ts`), so this is for tests of the shims only.
   */
  close(): void;
}

/** The C prototype of a JavaScript function handed to C as a function pointer. */
export interface CallbackSpec {
  readonly args: readonly NativeType[];
  readonly ret: NativeType;
}

/** A JavaScript function made callable from C. */
export interface NativeCallback {
  /** The C function pointer; valid until {@link close}. */
  readonly pointer: Pointer;
  /**
   * Release the trampoline. The caller guarantees that C will not call the
   * pointer again (e.g. the librdkafka handle that held it is destroyed).
   */
  close(): void;
}

/** What a runtime's FFI can do, so code above picks a strategy per runtime. */
export interface NativeCapabilities {
  /** Symbols declared `nonblocking` run on a worker thread and return a Promise (Deno, koffi). */
  readonly nonblockingCalls: boolean;
  /**
   * A `callback(…, { threadSafe: true })` may be called from any C thread and
   * returns to its C caller at once; the JavaScript function runs later on the
   * JavaScript thread (Bun). False where the C caller waits for the
   * JavaScript thread instead (Deno's `UnsafeCallback.threadSafe`, koffi):
   * librdkafka calls a queue's event callback while holding the queue's lock,
   * so a waiting callback deadlocks against any librdkafka call the
   * JavaScript thread makes on that queue (the hang seen with Deno).
   */
  readonly threadSafeCallbacks: boolean;
}

/** A non-blocking pipe whose read end the event loop watches ({@link NativeRuntime.wakePipe}). */
export interface WakePipe {
  /** The write end, for C to write a byte to (e.g. `rd_kafka_queue_io_event_enable`). */
  readonly writeFd: number;
  /**
   * Stop watching and close both ends (on Deno possibly a little later, once
   * no thread polls them; `onWake` is not called again either way). The
   * caller guarantees C no longer writes to `writeFd` (e.g. it disabled the
   * queue's IO event first).
   */
  close(): void;
}

/** One runtime's FFI, behind a neutral interface. Implemented by `_deno.ts`, `_bun.ts`, `_node.ts`. */
export interface NativeRuntime {
  /** `deno`, `bun` or `node`: for driver names and messages. */
  readonly name: "deno" | "bun" | "node";
  readonly capabilities: NativeCapabilities;

  /** `dlopen` the library at `path` and bind `symbols`. Throws if it cannot be loaded or a symbol is missing. */
  open<T extends SymbolTable>(path: string, symbols: T): NativeLibrary<T>;

  /**
   * Keep the library at `path` (already opened) mapped until the process
   * exits, whatever closes its handles: where the runtime `dlclose`s libraries
   * while tearing down (Deno, on an uncaught error or at the end of a test
   * run) and librdkafka's threads still run, unmapping its code under them
   * crashes the process. Best effort; a no-op where it is not needed.
   */
  pin?(path: string): void;

  /**
   * Make `fn` callable from C. Without `threadSafe`, C may only call it on the
   * JavaScript thread, from inside a call made by JavaScript. The caller owns
   * the result and must `close()` it once C can no longer call it.
   */
  callback(
    spec: CallbackSpec,
    fn: (...args: never[]) => unknown,
    options?: { threadSafe?: boolean },
  ): NativeCallback;

  /** Read the NUL-terminated UTF-8 string at `pointer + offset`, copied. `null` for a NULL pointer. */
  readCString(pointer: Pointer | null, offset?: number): string | null;
  /** Read the pointer stored at `pointer + offset`. */
  readPointer(pointer: Pointer, offset?: number): Pointer | null;
  /** Read the `int32_t` at `pointer + offset`. */
  readI32(pointer: Pointer, offset?: number): number;
  /** Read the `int16_t` at `pointer + offset`. */
  readI16(pointer: Pointer, offset?: number): number;
  /** Read the `int64_t` at `pointer + offset`. */
  readI64(pointer: Pointer, offset?: number): bigint;
  /** Copy `length` bytes at `pointer + offset` into a new `Uint8Array` owned by JavaScript. */
  copyBytes(pointer: Pointer, length: number, offset?: number): Uint8Array;
  /**
   * Copy `target.length` bytes at `pointer + offset` into `target`, without
   * allocating: for hot paths that read a C struct into one reused buffer.
   */
  copyInto(pointer: Pointer, target: Uint8Array, offset?: number): void;

  /** The address of `pointer` (0n for `null`), e.g. to store it in a struct built in a buffer. */
  addressOf(pointer: Pointer | null): bigint;
  /**
   * The pointer at `address` (`null` for 0). Only for addresses obtained from
   * C or {@link bufferAddress}; as a number (see {@link getU64}) it costs no
   * BigInt.
   */
  pointerAt(address: number | bigint): Pointer | null;
  /**
   * The address of the first byte of `buffer`'s memory. Valid only while the
   * caller keeps `buffer` alive and does not transfer or resize its
   * ArrayBuffer; C must not use it after that.
   */
  bufferAddress(buffer: Uint8Array): bigint;

  /**
   * Create a non-blocking pipe that is watched without blocking the
   * JavaScript thread: by libuv on Node; on Deno by one `poll(2)` shared by
   * every pipe of the process (`_deno_poller.ts`). Each time its read end
   * becomes readable, the pipe is drained and `onWake` runs on the JavaScript
   * thread, never before `wakePipe` returned. The caller owns the pipe and
   * must `close()` it. Absent on Bun and on platforms without it.
   */
  readonly wakePipe?: (onWake: () => void) => WakePipe;

  /** The current working directory (for library discovery). */
  cwd(): string;
  /** An environment variable, or `undefined` if unset or not readable. */
  env(name: string): string | undefined;

  /**
   * Whether this process may use FFI without asking: `false` on Deno without
   * `--allow-ffi` (a grant for some paths only counts as none: it opens a
   * library but cannot read C memory, which every use of librdkafka does).
   * Absent where FFI is always allowed (Bun, Node).
   */
  ffiAllowed?(): boolean;
}
