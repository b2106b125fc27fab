/**
 * C values in JavaScript memory, for passing to librdkafka and reading back
 * what it wrote: NUL-terminated strings, out-parameters, 64-bit struct fields
 * read and written as numbers (no BigInt on hot paths), and pointer arrays.
 * Runtime-neutral: every runtime's FFI passes these buffers by address (see
 * `_native_types.ts`).
 *
 * @module
 */
import type { NativeRuntime, Pointer } from "./_native_types.ts";

/**
 * `size_t` arguments as BigInts, made once: a number given for a 64-bit
 * argument costs Deno a BigInt per call (~40 bytes of garbage), so the hot
 * paths pass these. `SIZES[n]` is `BigInt(n)`.
 */
export const SIZES: readonly bigint[] = Object.freeze(Array.from({ length: 1025 }, (_, n) => BigInt(n)));

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as a NUL-terminated UTF-8 C string, in JavaScript memory (pass as `"buffer"`). */
export function cString(text: string): Uint8Array {
  const bytes = new Uint8Array(encoder.encode(text).length + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

/** The text of a NUL-terminated C string written into a JavaScript buffer (e.g. an `errstr`). */
export function fromCBuffer(buffer: Uint8Array): string {
  const end = buffer.indexOf(0);
  return decoder.decode(end < 0 ? buffer : buffer.subarray(0, end));
}

/** A zeroed out-parameter for one `size_t`/`int64_t`/pointer (8 bytes, pass as `"buffer"`). */
export function outWord(): Uint8Array {
  return new Uint8Array(8);
}

/** An {@link outWord} with a view to read it, for out-parameters read on hot paths (with {@link getU64}). */
export function outParameter(): { readonly bytes: Uint8Array; readonly view: DataView } {
  const bytes = outWord();
  return { bytes, view: new DataView(bytes.buffer) };
}

/** The unsigned 64-bit value in an {@link outWord}, as a number (exact below 2^53). */
export function readOutWord(word: Uint8Array): number {
  return getU64(new DataView(word.buffer, word.byteOffset, 8), 0);
}

/*
 * 64-bit fields of C structs as numbers, two 32-bit halves at a time: no
 * BigInt on hot paths. Exact while the magnitude stays below 2^53, which
 * holds for sizes, offsets, ids and user-space addresses.
 */
const TWO_32 = 2 ** 32;

/** The little-endian `uint64_t` (a size or an address) at `at`, as a number. */
export function getU64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_32 + view.getUint32(at, true);
}

/** The little-endian `int64_t` at `at`, as a number. */
export function getI64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * TWO_32 + view.getUint32(at, true);
}

/** Write `value` (an integer) at `at` as a little-endian `int64_t`. */
export function setI64(view: DataView, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  view.setUint32(at, value - high * TWO_32, true);
  view.setInt32(at + 4, high, true);
}

/** Read the `count` pointers of a C array `T **` starting at `array`. */
export function readPointerArray(
  native: NativeRuntime,
  array: Pointer,
  count: number,
): (Pointer | null)[] {
  const out = new Array<Pointer | null>(count);
  for (let i = 0; i < count; i++) out[i] = native.readPointer(array, i * 8);
  return out;
}
