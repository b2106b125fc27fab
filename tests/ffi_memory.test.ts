// The FFI shims' copies out of C memory (delivery reports, consumed messages): every byte where it belongs,
// into a view at an offset of a larger buffer too. On Node they go through libc's memcpy: koffi.view() per
// copy left native memory behind (bench/RESULTS-throughput.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { nativeRuntime } from "../src/drivers/ffi/_native.ts";

const native = await nativeRuntime();
// 4 KiB: off V8's heap (a small typed array may live on it, and move), so its address holds.
const source = Uint8Array.from({ length: 4096 }, (_, i) => (i + 1) & 0xff);
const pointer = native.pointerAt(native.bufferAddress(source))!;

test("copyInto fills a view at an offset of a larger buffer, from an offset of the C memory, and nothing else", () => {
  const buffer = new Uint8Array(16);
  native.copyInto(pointer, buffer.subarray(4, 10), 30);
  assert.deepEqual([...buffer], [0, 0, 0, 0, 31, 32, 33, 34, 35, 36, 0, 0, 0, 0, 0, 0]);
  native.copyInto(pointer, buffer.subarray(0, 0), 0); // nothing to copy
});

test("copyBytes returns a copy that C memory changing later does not touch; 0 bytes is an empty array", () => {
  const copy = native.copyBytes(pointer, 5, 60 - 1);
  assert.deepEqual([...copy], [60, 61, 62, 63, 64]);
  source[59] = 0;
  assert.equal(copy[0], 60);
  source[59] = 60;
  assert.equal(native.copyBytes(pointer, 0).length, 0);
});
