/**
 * Copies of C memory into JavaScript for the FFI consumer, small ones carved
 * out of shared slabs.
 *
 * @module
 */
import { getU64 } from "./_c_memory.ts";
import type { NativeRuntime, Pointer } from "./_native_types.ts";

const SLAB_BYTES = 8 * 1024;

/**
 * Copies of fetched bytes (keys, values, header values), the small ones
 * carved out of shared 8 KiB slabs, as Node's `Buffer` pool does: one
 * allocation per slab instead of one off-heap buffer per field, which kept
 * the allocator and the collector busy (and Deno's RSS climbing) at a few
 * hundred thousand messages a second. A view keeps its slab alive until it
 * is collected, so only fields under half a slab share one.
 */
export class Slabs {
  readonly #native: NativeRuntime;
  #slab = new Uint8Array(0);
  #used = 0;

  constructor(native: NativeRuntime) {
    this.#native = native;
  }

  /** A copy of the `length` bytes at `pointer` (owned by C). */
  copy(pointer: Pointer, length: number): Uint8Array {
    if (length >= SLAB_BYTES / 2) return this.#native.copyBytes(pointer, length);
    if (this.#used + length > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
    }
    const view = this.#slab.subarray(this.#used, this.#used + length);
    // Keep views 8-byte aligned, as separate buffers would be.
    this.#used += (length + 7) & ~7;
    if (length > 0) this.#native.copyInto(pointer, view);
    return view;
  }

  /** A copy of the bytes a message struct points to at `at` (length at `lengthAt`); null for NULL. */
  at(fields: DataView, at: number, lengthAt: number): Uint8Array | null {
    if (getU64(fields, at) === 0) return null;
    return this.copy(this.#native.pointerAt(getU64(fields, at))!, getU64(fields, lengthAt));
  }
}
