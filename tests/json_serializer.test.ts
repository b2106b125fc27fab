/**
 * The default serializer's decoding: UTF-8 JSON, malformed UTF-8 refused
 * (the record is then an invalid message, not a value with replacement
 * characters in it), a replacement character the bytes really hold kept.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonSerializer } from "../mod.ts";

const bytes = (...parts: Array<string | number[]>) => {
  const out: number[] = [];
  for (const part of parts) out.push(...(typeof part === "string" ? new TextEncoder().encode(part) : part));
  return Uint8Array.from(out);
};

test("jsonSerializer decodes UTF-8 JSON, and keeps a replacement character the bytes hold", () => {
  assert.deepEqual(jsonSerializer.deserialize(bytes('{"name":"Zoë 𝄞"}')), { name: "Zoë 𝄞" });
  // U+FFFD written as its own three bytes (EF BF BD) is text, not a decoding failure.
  assert.deepEqual(jsonSerializer.deserialize(bytes('{"name":"', [0xef, 0xbf, 0xbd], '"}')), { name: "\uFFFD" });
  assert.deepEqual(jsonSerializer.deserialize(jsonSerializer.serialize({ id: 1, note: "\uFFFD" })), { id: 1, note: "\uFFFD" });
});

test("jsonSerializer refuses malformed UTF-8 instead of replacing it", () => {
  const malformed = [
    bytes('{"name":"', [0xff], '"}'), // a byte that never occurs in UTF-8
    bytes('{"name":"', [0xc3, 0x28], '"}'), // a lead byte without its continuation
    bytes('{"name":"', [0xed, 0xa0, 0x80], '"}'), // an encoded surrogate
    bytes('{"name":"', [0xef, 0xbf, 0xbd], '", "bad":"', [0xe2, 0x82], '"}'), // a real U+FFFD beside a truncated sequence
  ];
  for (const input of malformed) assert.throws(() => jsonSerializer.deserialize(input), TypeError, Array.from(input).join(","));
});
