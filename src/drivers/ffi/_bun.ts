/**
 * {@link NativeRuntime} over Bun's FFI (`bun:ffi`). Loaded only on Bun, by
 * `nativeRuntime()` in `_native.ts`.
 *
 * Types: `bun:ffi` is imported through a non-literal specifier and the subset
 * used here is declared structurally below, so this file also type-checks
 * under `tsc` and `deno check`, which know nothing of `bun:*`.
 *
 * @module
 */
import type { CallbackSpec, NativeCallback, NativeLibrary, NativeRuntime, NativeType, Pointer, SymbolTable } from "./_native_types.ts";
import { LINUX_PIPE_FLAGS } from "./_libc.ts";

/** Bun's pointer value: an address as a `number`; NULL may come back as `0` or `null`. */
type BunPointer = number | null;

interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  ptr(buffer: Uint8Array): number;
  CString: new (pointer: number, byteOffset?: number) => { toString(): string };
  toArrayBuffer(pointer: number, byteOffset: number, byteLength: number): ArrayBuffer;
  read: {
    ptr(pointer: number, byteOffset?: number): number;
    i32(pointer: number, byteOffset?: number): number;
    i16(pointer: number, byteOffset?: number): number;
    i64(pointer: number, byteOffset?: number): bigint;
    u32(pointer: number, byteOffset?: number): number;
    u8(pointer: number, byteOffset?: number): number;
  };
  JSCallback: new (
    fn: (...args: never[]) => unknown,
    definition: { args: string[]; returns: string; threadsafe?: boolean },
  ) => { readonly ptr: number | null; close(): void };
}

interface BunProcess {
  cwd(): string;
  env: Record<string, string | undefined>;
  platform: string;
}

/** The subset of the global `Bun` used here: a file descriptor read as a stream (event-driven for a pipe). */
interface BunGlobal {
  file(fd: number): { stream(): ReadableStream<Uint8Array> };
}

const TYPES: Record<NativeType, string> = {
  void: "void",
  bool: "bool",
  i8: "i8",
  u8: "u8",
  i16: "i16",
  u16: "u16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  usize: "u64", // 64-bit platforms only (see _native_types.ts)
  isize: "i64",
  f32: "f32",
  f64: "f64",
  ptr: "ptr",
  // bun:ffi passes a TypedArray given for a `ptr` argument by address, without copying.
  buffer: "ptr",
};

/** Without libc's memcpy, copies up to this many bytes are read word by word (see copyInto). */
const WORD_COPY_MAX = 128;

function address(pointer: Pointer): number {
  return pointer as unknown as number;
}

/**
 * The Bun shim. `bun:ffi` is loaded here, once, when the shim is loaded, with
 * Bun's `import.meta.require`: an `import()` of it would be a module-graph
 * edge that Deno, tsc and JSR cannot resolve, and an `import()` of a variable
 * is one JSR warns it cannot analyze.
 */
export function bunRuntime(): NativeRuntime {
  const ffi = (import.meta as ImportMeta & { require(id: string): unknown }).require("bun:ffi") as BunFfi;
  const process = (globalThis as unknown as { process: BunProcess }).process;
  /** libc's memcpy, bound on the first copy: Linux's libc.so.6; elsewhere null, and copies stay in JavaScript. */
  let copyFunction: ((target: Uint8Array, source: number, size: number) => unknown) | null | undefined;
  const memcpy = () =>
    copyFunction === undefined
      ? (copyFunction = process.platform === "linux"
        // void *memcpy(void *dest, const void *src, size_t n): a TypedArray as dest is passed by address (its byteOffset included).
        ? ffi.dlopen("libc.so.6", { memcpy: { args: ["ptr", "ptr", "u64"], returns: "ptr" } }).symbols.memcpy as (
          target: Uint8Array,
          source: number,
          size: number,
        ) => unknown
        : null)
      : copyFunction;

  return {
    name: "bun",
    capabilities: { nonblockingCalls: false, threadSafeCallbacks: true },

    open<T extends SymbolTable>(path: string, symbols: T): NativeLibrary<T> {
      const defs: Record<string, { args: string[]; returns: string }> = {};
      for (const [name, spec] of Object.entries(symbols)) {
        if (spec.symbol !== undefined && spec.symbol !== name) {
          throw new Error(`bun:ffi cannot bind ${spec.symbol} under another name (${name})`);
        }
        if (spec.nonblocking) {
          throw new Error(`bun:ffi cannot run ${name} off the JavaScript thread (nonblocking symbols are unsupported on Bun)`);
        }
        defs[name] = { args: spec.args.map((t) => TYPES[t]), returns: TYPES[spec.ret] };
      }
      // The library object owns the dlopen handle; close() dlcloses it.
      const lib = ffi.dlopen(path, defs);
      const bound: Record<string, (...args: unknown[]) => unknown> = {};
      for (const [name, spec] of Object.entries(symbols)) {
        const fn = lib.symbols[name]!;
        // Normalise NULL results to null (bun:ffi may return 0).
        bound[name] = spec.ret === "ptr" ? (...args: unknown[]) => fn(...args) || null : fn;
      }
      return { path, symbols: bound as unknown as NativeLibrary<T>["symbols"], close: () => lib.close() };
    },

    callback(spec: CallbackSpec, fn, options): NativeCallback {
      // A threadsafe JSCallback may be called from any thread: bun:ffi queues
      // the call to the JavaScript thread (the C caller does not wait for a
      // void callback to run).
      const cb = new ffi.JSCallback(fn, {
        args: spec.args.map((t) => TYPES[t]),
        returns: TYPES[spec.ret],
        ...(options?.threadSafe ? { threadsafe: true } : {}),
      });
      if (!cb.ptr) throw new Error("bun:ffi could not create a callback");
      return { pointer: cb.ptr as unknown as Pointer, close: () => cb.close() };
    },

    readCString(pointer, offset = 0) {
      return pointer === null ? null : new ffi.CString(address(pointer), offset).toString();
    },
    readPointer(pointer, offset = 0) {
      return (ffi.read.ptr(address(pointer), offset) || null) as Pointer | null;
    },
    readI32(pointer, offset = 0) {
      return ffi.read.i32(address(pointer), offset);
    },
    readI16(pointer, offset = 0) {
      return ffi.read.i16(address(pointer), offset);
    },
    readI64(pointer, offset = 0) {
      return BigInt(ffi.read.i64(address(pointer), offset));
    },
    copyBytes(pointer, length, offset = 0) {
      if (length === 0) return new Uint8Array(0);
      const copy = memcpy();
      if (copy !== null) {
        const bytes = new Uint8Array(length);
        copy(bytes, address(pointer) + offset, length);
        return bytes;
      }
      // toArrayBuffer aliases C memory; slice() copies it into JavaScript memory.
      return new Uint8Array(ffi.toArrayBuffer(address(pointer), offset, length)).slice();
    },
    copyInto(pointer, target, offset = 0) {
      const at = address(pointer);
      const length = target.length;
      if (length === 0) return;
      const copy = memcpy();
      if (copy !== null) {
        // One call into libc: about 10 ns for a 72-byte message struct, against about 130 ns word by word
        // through ffi.read and 170 ns through toArrayBuffer (which makes an ArrayBuffer per call).
        copy(target, at + offset, length);
        return;
      }
      if (length > WORD_COPY_MAX) {
        target.set(new Uint8Array(ffi.toArrayBuffer(at, offset, length)));
        return;
      }
      // Small copies word by word, little-endian, as everywhere in this folder.
      const words = length & ~3;
      for (let i = 0; i < words; i += 4) {
        const word = ffi.read.u32(at, offset + i);
        target[i] = word;
        target[i + 1] = word >>> 8;
        target[i + 2] = word >>> 16;
        target[i + 3] = word >>> 24;
      }
      for (let i = words; i < length; i++) target[i] = ffi.read.u8(at, offset + i);
    },

    addressOf(pointer) {
      return pointer === null ? 0n : BigInt(address(pointer));
    },
    pointerAt(value) {
      return value == 0 ? null : (Number(value) as unknown as Pointer);
    },
    bufferAddress(buffer) {
      return BigInt(ffi.ptr(buffer));
    },

    // Linux: a pipe that Bun's event loop reads (no thread per pipe, none waiting). Elsewhere (macOS: no
    // pipe2) the thread-safe callback carries wake-ups; Bun documents those as meant for threads it knows,
    // and a wake-up they drop costs a queue's recheck period (_queue.ts).
    ...(process.platform === "linux" ? { wakePipe: (onWake: () => void) => bunWakePipe(ffi, onWake) } : {}),

    cwd: () => process.cwd(),
    env: (name) => process.env[name],
  };
}

/** libc's pipe calls, bound on the first pipe; the handle stays for the life of the process. */
let libc: { pipe2(fds: Int32Array, flags: number): number; close(fd: number): number } | undefined;

/**
 * A non-blocking pipe whose read end Bun's event loop watches: `Bun.file(fd)`
 * streams a pipe as its bytes arrive (epoll; measured: 100 idle pipes, no
 * thread each and no CPU). Each chunk is one or more wake-up bytes. The file
 * descriptors are ours: cancelling the stream leaves them open, and close()
 * closes both once the stream has stopped reading.
 */
function bunWakePipe(ffi: BunFfi, onWake: () => void) {
  libc ??= (() => {
    // int pipe2(int fds[2], int flags): fds written during the call; int close(int)
    const { symbols } = ffi.dlopen("libc.so.6", {
      pipe2: { args: ["ptr", "i32"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
    });
    return symbols as unknown as NonNullable<typeof libc>;
  })();
  const c = libc;
  const fds = new Int32Array(2);
  if (c.pipe2(fds, LINUX_PIPE_FLAGS) !== 0) throw new Error("pipe2() failed (out of file descriptors?)");
  const [readFd, writeFd] = [fds[0]!, fds[1]!];
  const reader = (globalThis as unknown as { Bun: BunGlobal }).Bun.file(readFd).stream().getReader();
  let open = true;
  const reading = (async () => {
    while (open) {
      const { done } = await reader.read();
      if (done || !open) break;
      onWake();
    }
  })().catch(() => {}); // a read that fails ends the watch; the queue's recheck still finds its events
  return {
    writeFd,
    close() {
      if (!open) return;
      open = false;
      void reader.cancel().catch(() => {}).then(() => reading).finally(() => {
        c.close(readFd);
        c.close(writeFd);
      });
    },
  };
}
