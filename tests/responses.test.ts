// The answers of the produce API: the sizes they report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8Length } from "../src/hono/responses.ts";

test("utf8Length counts what TextEncoder writes, lone surrogates included", () => {
  const encoder = new TextEncoder();
  for (const text of ["", "a", "é", "€", "o-1", "😀", "a😀b", "\ud83d", "\ude00", "x\ud83dy", "\ude00\ud83d", "\u07ff\u0800\uffff", '{"id":"Zürich ✓"}']) {
    assert.equal(utf8Length(text), encoder.encode(text).byteLength, JSON.stringify(text));
  }
});
