/**
 * {@link NativeRuntime} over Deno's FFI (`Deno.dlopen`). Loaded only on Deno,
 * by `nativeRuntime()` in `_native.ts`. Needs `--allow-ffi` (and `--allow-env`
 * / `--allow-read` for library discovery); `ffiAllowed()` lets `library.ts`
 * say so in one line instead of one permission error per candidate library.
 *
 * Types: the subset of `Deno.*` used here is declared structurally below, so
 * this file also type-checks under `tsc` with Node's types.
 *
 * @module
 */
import type { CallbackSpec, NativeCallback, NativeLibrary, NativeRuntime, NativeType, Pointer, SymbolTable } from "./_native_types.ts";
import { LINUX_PIPE_FLAGS } from "./_libc.ts";
import { SIZES } from "./_c_memory.ts";
import { type PollerLibc, sharedPoller } from "./_deno_poller.ts";

/** Deno's pointer value: an opaque object, or `null` for NULL. */
type DenoPointer = object | null;

interface DenoForeignFunction {
  name?: string;
  parameters: string[];
  result: string;
  nonblocking?: boolean;
}

interface DenoPointerView {
  getCString(offset?: number): string;
  getPointer(offset?: number): DenoPointer;
  getInt32(offset?: number): number;
  getInt16(offset?: number): number;
  getBigInt64(offset?: number): bigint;
  copyInto(destination: Uint8Array, offset?: number): void;
}

interface DenoUnsafeCallback {
  readonly pointer: DenoPointer;
  close(): void;
}

interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, DenoForeignFunction>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  UnsafePointerView: {
    new (pointer: DenoPointer): DenoPointerView;
    copyInto(pointer: DenoPointer, destination: Uint8Array, offset?: number): void;
  };
  UnsafePointer: {
    value(pointer: DenoPointer): number | bigint;
    offset(pointer: DenoPointer, offset: number): DenoPointer;
    create(value: bigint): DenoPointer;
    of(buffer: Uint8Array): DenoPointer;
  };
  UnsafeCallback: {
    new (
      definition: { parameters: string[]; result: string },
      fn: (...args: never[]) => unknown,
    ): DenoUnsafeCallback;
    threadSafe(
      definition: { parameters: string[]; result: string },
      fn: (...args: never[]) => unknown,
    ): DenoUnsafeCallback;
  };
  cwd(): string;
  env: { get(name: string): string | undefined };
  build: { os: string; arch: string };
  /** Where querySync is absent (older Deno), kshare assumes access and lets dlopen say otherwise. */
  permissions?: {
    querySync?(descriptor: { name: "ffi" }): { state: "granted" | "prompt" | "denied" };
  };
}

const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;

/** The C library of glibc (Linux) and macOS; musl never unloads a library, and Deno is built for glibc. */
const LIBC: Record<string, string> = { linux: "libc.so.6", darwin: "libSystem.B.dylib" };
/** `RTLD_NOW | RTLD_NODELETE` of glibc and macOS. */
const NODELETE: Record<string, number> = { linux: 0x2 | 0x1000, darwin: 0x2 | 0x80 };

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
  usize: "usize",
  isize: "isize",
  f32: "f32",
  f64: "f64",
  ptr: "pointer",
  buffer: "buffer",
};

/** macOS's `fcntl` commands and flags: `F_SETFD`, `FD_CLOEXEC`, `F_SETFL`, `O_NONBLOCK`. */
const DARWIN = { F_SETFD: 2, FD_CLOEXEC: 1, F_SETFL: 4, O_NONBLOCK: 0x4 } as const;

/**
 * The libc calls of the wake-up poller (`_deno_poller.ts`), bound once. All
 * but `poll` run on the JavaScript thread and return at once; `poll` is
 * `nonblocking`: it runs on a thread of Deno's blocking pool.
 */
function pollerLibc(): PollerLibc {
  const linux = Deno.build.os === "linux";
  // fcntl(int, int, ...) (macOS only, which lacks pipe2). Its third argument is
  // variadic: x86-64 reads it from the register of a third fixed argument;
  // Apple's arm64 from the first stack slot, where the ninth argument goes
  // once six unused ones fill the argument registers.
  const fcntlArgs = Deno.build.arch === "aarch64" ? ["i32", "i32", "i64", "i64", "i64", "i64", "i64", "i64", "i64"] : ["i32", "i32", "i64"];
  // The handle is never closed: the poller, like librdkafka, stays for the life of the process.
  const { symbols: c } = Deno.dlopen(LIBC[Deno.build.os]!, {
    ...(linux
      // int pipe2(int fds[2], int flags): fds written during the call
      ? { pipe2: { parameters: ["buffer", "i32"], result: "i32" } }
      : {
        // int pipe(int fds[2]): fds written during the call
        pipe: { parameters: ["buffer"], result: "i32" },
        fcntl: { parameters: fcntlArgs, result: "i32" },
      }),
    // ssize_t read(int, void *, size_t), ssize_t write(int, const void *, size_t): the buffer is used during the call only
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    // int close(int)
    close: { parameters: ["i32"], result: "i32" },
    // int poll(struct pollfd *fds, nfds_t n, int timeout_ms): fds read and written until it returns;
    // nfds_t is unsigned long on Linux, unsigned int on macOS
    poll: { parameters: ["buffer", linux ? "usize" : "u32", "i32"], result: "i32", nonblocking: true },
  });
  const fcntl = (fd: number, command: number, arg: number) =>
    fcntlArgs.length === 3 ? c.fcntl!(fd, command, arg) : c.fcntl!(fd, command, 0, 0, 0, 0, 0, 0, arg);
  return {
    pipe() {
      const fds = new Int32Array(2);
      const out = new Uint8Array(fds.buffer);
      if (linux) {
        if (c.pipe2!(out, LINUX_PIPE_FLAGS) !== 0) throw new Error("pipe2() failed (out of file descriptors?)");
      } else {
        if (c.pipe!(out) !== 0) throw new Error("pipe() failed (out of file descriptors?)");
        for (const fd of fds) {
          if (
            fcntl(fd, DARWIN.F_SETFL, DARWIN.O_NONBLOCK) !== 0 || fcntl(fd, DARWIN.F_SETFD, DARWIN.FD_CLOEXEC) !== 0
          ) {
            c.close!(fds[0]!);
            c.close!(fds[1]!);
            throw new Error("fcntl() failed on a new pipe");
          }
        }
      }
      return [fds[0]!, fds[1]!];
    },
    read: (fd, buffer) => c.read!(fd, buffer, buffer.length) as number | bigint,
    write: (fd, buffer) => c.write!(fd, buffer, buffer.length) as number | bigint,
    close: (fd) => void c.close!(fd),
    poll: (fds, count) => c.poll!(fds, count, -1) as Promise<number>,
  };
}

/** Copies `length` bytes from `pointer` to the start of `target` (a subarray's own start). */
type Memcpy = (target: Uint8Array, pointer: DenoPointer, length: bigint) => void;

/**
 * libc's `memcpy`, bound as an FFI call; `null` where kshare knows no C
 * library. `Deno.UnsafePointerView.copyInto` took about 110 ns more per copy
 * than this call (Deno 2.9 here), and the consumer copies a struct and a
 * value per message. The handle is never closed.
 */
function libcMemcpy(): Memcpy | null {
  const libc = LIBC[Deno.build.os];
  if (!libc) return null;
  // void *memcpy(void *dest, const void *src, size_t n): its result (dest) is not read.
  const { symbols } = Deno.dlopen(libc, { memcpy: { parameters: ["buffer", "pointer", "usize"], result: "void" } });
  return symbols.memcpy as unknown as Memcpy;
}

function definition(spec: CallbackSpec): { parameters: string[]; result: string } {
  return { parameters: spec.args.map((t) => TYPES[t]), result: TYPES[spec.ret] };
}

function nonNull(pointer: Pointer | null): Pointer {
  if (pointer === null) throw new TypeError("read through a NULL pointer");
  return pointer;
}

function view(pointer: Pointer | null): DenoPointerView {
  return new Deno.UnsafePointerView(nonNull(pointer) as unknown as DenoPointer);
}

/** The Deno shim. Deno pointers are `Deno.PointerObject`s and NULL is already `null`. */
export function denoRuntime(): NativeRuntime {
  /** Made with the first pipe: its control pipe and libc handle stay for the life of the process. */
  let poller: NativeRuntime["wakePipe"];
  /** Bound on the first copy. */
  let memcpy: Memcpy | null | undefined;
  /** Copy `target.length` bytes from `pointer` + `offset` into `target`. */
  const copy = (pointer: Pointer, target: Uint8Array, offset: number): void => {
    memcpy ??= libcMemcpy();
    const from = pointer as unknown as DenoPointer;
    if (memcpy === null) Deno.UnsafePointerView.copyInto(from, target, offset);
    else {
      const length = target.length;
      memcpy(target, offset === 0 ? from : Deno.UnsafePointer.offset(from, offset), length < SIZES.length ? SIZES[length]! : BigInt(length));
    }
  };
  return {
    name: "deno",
    capabilities: { nonblockingCalls: true, threadSafeCallbacks: false },

    open<T extends SymbolTable>(path: string, symbols: T): NativeLibrary<T> {
      const defs: Record<string, DenoForeignFunction> = {};
      for (const [name, spec] of Object.entries(symbols)) {
        defs[name] = {
          ...(spec.symbol ? { name: spec.symbol } : {}),
          parameters: spec.args.map((t) => TYPES[t]),
          result: TYPES[spec.ret],
          ...(spec.nonblocking ? { nonblocking: true } : {}),
        };
      }
      // The DynamicLibrary owns the dlopen handle; close() dlcloses it.
      const lib = Deno.dlopen(path, defs);
      return {
        path,
        symbols: lib.symbols as unknown as NativeLibrary<T>["symbols"],
        close: () => lib.close(),
      };
    },

    pin(path: string): void {
      // Deno dlcloses the libraries it opened when it tears a runtime down (an uncaught error,
      // the end of a test module) while librdkafka's threads may still run: with their code
      // unmapped the process dies of SIGSEGV, and an uncaught error is never printed. A second
      // dlopen with RTLD_NODELETE keeps librdkafka mapped until exit. Its handle is never closed.
      const libc = LIBC[Deno.build.os];
      if (!libc) return;
      try {
        const self = Deno.dlopen(libc, { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } });
        self.symbols.dlopen!(new TextEncoder().encode(`${path}\0`), NODELETE[Deno.build.os]!);
        self.close(); // the C library itself stays loaded
      } catch {
        // No glibc (musl never unloads) or no permission: nothing to pin.
      }
    },

    callback(spec, fn, options): NativeCallback {
      // Deno's threadSafe callbacks make the calling C thread wait for the
      // JavaScript thread, so capabilities.threadSafeCallbacks is false (see
      // NativeCapabilities); they remain available for C code that can wait.
      const cb = options?.threadSafe ? Deno.UnsafeCallback.threadSafe(definition(spec), fn) : new Deno.UnsafeCallback(definition(spec), fn);
      return { pointer: cb.pointer as unknown as Pointer, close: () => cb.close() };
    },

    readCString(pointer, offset = 0) {
      return pointer === null ? null : view(pointer).getCString(offset);
    },
    readPointer(pointer, offset = 0) {
      return view(pointer).getPointer(offset) as Pointer | null;
    },
    readI32(pointer, offset = 0) {
      return view(pointer).getInt32(offset);
    },
    readI16(pointer, offset = 0) {
      return view(pointer).getInt16(offset);
    },
    readI64(pointer, offset = 0) {
      return view(pointer).getBigInt64(offset);
    },
    copyBytes(pointer, length, offset = 0) {
      const out = new Uint8Array(length);
      if (length > 0) copy(nonNull(pointer), out, offset);
      return out;
    },
    copyInto(pointer, target, offset = 0) {
      copy(nonNull(pointer), target, offset);
    },

    addressOf(pointer) {
      return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer as unknown as DenoPointer));
    },
    pointerAt(address) {
      // create() takes a number too (its declared type says bigint only).
      return address == 0 ? null : (Deno.UnsafePointer.create(address as bigint) as Pointer | null);
    },
    bufferAddress(buffer) {
      return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
    },

    // One poll(2) on one blocking-pool thread watches every pipe (see _deno_poller.ts).
    ...(LIBC[Deno.build.os] ? { wakePipe: (onWake: () => void) => (poller ??= sharedPoller(pollerLibc()))(onWake) } : {}),

    cwd: () => Deno.cwd(),
    env(name) {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined; // no --allow-env: treat as unset
      }
    },
    ffiAllowed() {
      // Queried without a path: `--allow-ffi=<path>` lets dlopen open that path, but
      // UnsafePointerView (every C string kshare reads) needs FFI access for all paths.
      const query = Deno.permissions?.querySync;
      return query === undefined || query.call(Deno.permissions, { name: "ffi" }).state === "granted";
    },
  };
}
