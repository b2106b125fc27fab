// defineTopic: what a topic definition refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { defineTopic } from "../mod.ts";

test("defineTopic names what is wrong", () => {
  assert.throws(() => defineTopic({ name: "bad name", schema: v.string() }), /Invalid topic name "bad name"/);
  assert.throws(() => defineTopic({ name: "t", schema: v.string(), consumer: { maxBufferedMessages: 0 } }), /maxBufferedMessages/);
  assert.throws(() => defineTopic({ name: "t", schema: {} as v.GenericSchema }), /valibot schema/);
});
