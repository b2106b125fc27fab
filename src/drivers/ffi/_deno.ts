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
import type {
  CallbackSpec,
  NativeCallback,
  NativeLibrary,
  NativeRuntime,
  NativeType,
  Pointer,
  SymbolTable,
} from "./_native.ts";

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
  build: { os: string };
  /** Where querySync is absent (older Deno), kshare assumes access and lets dlopen say otherwise. */
  permissions?: {
    querySync?(descriptor: { name: "ffi" }): { state: "granted" | "prompt" | "denied" };
  };
}

const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;

/** The C library and `RTLD_NOW | RTLD_NODELETE` of glibc (Linux) and macOS; musl never unloads a library. */
const NODELETE: Record<string, readonly [libc: string, flags: number]> = {
  linux: ["libc.so.6", 0x2 | 0x1000],
  darwin: ["libSystem.B.dylib", 0x2 | 0x80],
};

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

function definition(spec: CallbackSpec): { parameters: string[]; result: string } {
  return { parameters: spec.args.map((t) => TYPES[t]), result: TYPES[spec.ret] };
}

function view(pointer: Pointer | null): DenoPointerView {
  if (pointer === null) throw new TypeError("read through a NULL pointer");
  return new Deno.UnsafePointerView(pointer as unknown as DenoPointer);
}

/** The Deno shim. Deno pointers are `Deno.PointerObject`s and NULL is already `null`. */
export function denoRuntime(): NativeRuntime {
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
      const target = NODELETE[Deno.build.os];
      if (!target) return;
      try {
        const libc = Deno.dlopen(target[0], { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } });
        libc.symbols.dlopen!(new TextEncoder().encode(`${path}\0`), target[1]);
        libc.close(); // the C library itself stays loaded
      } catch {
        // No glibc (musl never unloads) or no permission: nothing to pin.
      }
    },

    callback(spec, fn, options): NativeCallback {
      // Deno's threadSafe callbacks make the calling C thread wait for the
      // JavaScript thread, so capabilities.threadSafeCallbacks is false (see
      // NativeCapabilities); they remain available for C code that can wait.
      const cb = options?.threadSafe
        ? Deno.UnsafeCallback.threadSafe(definition(spec), fn)
        : new Deno.UnsafeCallback(definition(spec), fn);
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
      if (length > 0) view(pointer).copyInto(out, offset);
      return out;
    },
    copyInto(pointer, target, offset = 0) {
      if (pointer === null) throw new TypeError("read through a NULL pointer");
      Deno.UnsafePointerView.copyInto(pointer as unknown as DenoPointer, target, offset);
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
