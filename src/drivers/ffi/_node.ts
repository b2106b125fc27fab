/**
 * {@link NativeRuntime} over `koffi` (Node). Loaded only on Node, by
 * `nativeRuntime()` in `_native.ts`; `koffi` is loaded here and nowhere else,
 * through `../_require.ts`, so that it is no dependency of the published package (see
 * `_koffi.ts`).
 *
 * koffi 3 represents a pointer as a `bigint` address (NULL as `null`), so
 * pointer arithmetic is plain `bigint` addition.
 *
 * @module
 */
import process from "node:process";
import type { Koffi } from "./_koffi.ts";
import { requireInstalled } from "../_require.ts";
import type { CallbackSpec, NativeCallback, NativeLibrary, NativeRuntime, NativeType, Pointer, SymbolTable } from "./_native_types.ts";

const koffi = requireInstalled<Koffi>("koffi", "kshare's FFI driver and embedded broker on Node", "koffi@^3");

const TYPES: Record<NativeType, string> = {
  void: "void",
  bool: "bool",
  i8: "int8_t",
  u8: "uint8_t",
  i16: "int16_t",
  u16: "uint16_t",
  i32: "int32_t",
  u32: "uint32_t",
  i64: "int64_t",
  u64: "uint64_t",
  usize: "size_t",
  isize: "intptr_t",
  f32: "float",
  f64: "double",
  ptr: "void *",
  // koffi passes a TypedArray given for `void *` by address, without copying.
  buffer: "void *",
};

// Linux values; koffi.load(null) resolves libc's functions from the process.
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

interface Libc {
  pipe2(fds: Int32Array, flags: number): number;
  memcpy(target: Uint8Array, source: bigint, size: number): unknown;
  read(fd: number, buffer: Uint8Array, size: number): number;
  close(fd: number): number;
}

let libcFunctions: Libc | undefined;
function libc(): Libc {
  if (!libcFunctions) {
    const self = koffi.load(null);
    libcFunctions = {
      // The casts state the JavaScript side of each C prototype.
      pipe2: self.func("pipe2", "int", ["void *", "int"]) as Libc["pipe2"], // void *: koffi passes the array by address
      read: self.func("read", "intptr_t", ["int", "void *", "size_t"]) as Libc["read"],
      memcpy: self.func("memcpy", "void *", ["void *", "void *", "size_t"]) as Libc["memcpy"],
      close: self.func("close", "int", ["int"]) as Libc["close"],
    };
  }
  return libcFunctions;
}

function at(pointer: Pointer, offset: number): bigint {
  return (pointer as unknown as bigint) + BigInt(offset);
}

/** The Node shim. */
export function nodeRuntime(): NativeRuntime {
  return {
    name: "node",
    // koffi runs `fn.async` calls on libuv's small thread pool (shared with
    // fs and dns: not for long waits), and a registered callback called from
    // another thread makes that thread wait for the JavaScript thread, so
    // librdkafka queues are watched through wakePipe() instead.
    capabilities: { nonblockingCalls: true, threadSafeCallbacks: false },

    open<T extends SymbolTable>(path: string, symbols: T): NativeLibrary<T> {
      // The handle owns the dlopen; unload() dlcloses it.
      const lib = koffi.load(path);
      const bound: Record<string, (...args: unknown[]) => unknown> = {};
      for (const [name, spec] of Object.entries(symbols)) {
        const fn = lib.func(spec.symbol ?? name, TYPES[spec.ret], spec.args.map((t) => TYPES[t]));
        bound[name] = spec.nonblocking
          ? (...args: unknown[]) =>
            new Promise((resolve, reject) => fn.async(...args, (error: unknown, result: unknown) => (error ? reject(error) : resolve(result))))
          : fn;
      }
      return { path, symbols: bound as unknown as NativeLibrary<T>["symbols"], close: () => lib.unload() };
    },

    callback(spec: CallbackSpec, fn): NativeCallback {
      // Registered callbacks may be called later and from any thread (koffi
      // queues a foreign thread's call to the JavaScript thread and makes the
      // caller wait), so the threadSafe option needs nothing more.
      // unregister() frees the slot.
      const proto = koffi.proto(TYPES[spec.ret], spec.args.map((t) => TYPES[t]));
      const registered = koffi.register(fn, koffi.pointer(proto));
      return { pointer: registered as unknown as Pointer, close: () => koffi.unregister(registered) };
    },

    readCString(pointer, offset = 0) {
      return pointer === null ? null : koffi.decode.string(at(pointer, offset));
    },
    readPointer(pointer, offset = 0) {
      return (koffi.decode(at(pointer, 0), offset, "void *") ?? null) as Pointer | null;
    },
    readI32(pointer, offset = 0) {
      return koffi.decode(at(pointer, 0), offset, "int32_t") as number;
    },
    readI16(pointer, offset = 0) {
      return koffi.decode(at(pointer, 0), offset, "int16_t") as number;
    },
    readI64(pointer, offset = 0) {
      return BigInt(koffi.decode(at(pointer, 0), offset, "int64_t") as number | bigint);
    },
    // Copies go through libc's memcpy into JavaScript memory. Not through koffi.view(), an
    // ArrayBuffer over C memory per copy: with one per delivery report, the process's native
    // memory grew by about 210 bytes a record and was not given back (peak RSS 787 MiB after
    // 3,000,000 awaited publishes; 192 MiB with memcpy, 175 MiB for the Confluent driver).
    copyBytes(pointer, length, offset = 0) {
      const bytes = new Uint8Array(length);
      if (length > 0) libc().memcpy(bytes, at(pointer, offset), length);
      return bytes;
    },
    copyInto(pointer, target, offset = 0) {
      if (target.length > 0) libc().memcpy(target, at(pointer, offset), target.length);
    },

    addressOf(pointer) {
      return pointer === null ? 0n : (pointer as unknown as bigint);
    },
    pointerAt(address) {
      return address == 0 ? null : (BigInt(address) as unknown as Pointer);
    },
    bufferAddress(buffer) {
      return koffi.address(buffer);
    },

    wakePipe(onWake) {
      const c = libc();
      const fds = new Int32Array(2);
      // Both ends non-blocking: librdkafka's write must never block its
      // thread, and the drain loop below stops at EAGAIN.
      if (c.pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) throw new Error("pipe2() failed");
      const [readFd, writeFd] = [fds[0]!, fds[1]!];
      const scratch = new Uint8Array(64);
      // A libuv poll handle: the event loop watches the fd, no thread waits.
      const handle = koffi.node.poll(readFd, { readable: true }, () => {
        while (c.read(readFd, scratch, scratch.length) > 0) {
          // drain every pending wake-up byte
        }
        onWake();
      });
      let open = true;
      return {
        writeFd,
        close() {
          if (!open) return;
          open = false;
          handle.close();
          c.close(readFd);
          c.close(writeFd);
        },
      };
    },

    cwd: () => process.cwd(),
    env: (name) => process.env[name],
  };
}
