// The records of a produce request: the fast path for common records against the schema it stands in for.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { commonRecord, ProduceRecordSchema } from "../src/hono/records.ts";

test("commonRecord answers exactly what ProduceRecordSchema outputs, and only for records the schema accepts", () => {
  const data = { id: "o-1", total: 4.5, nested: [1, { a: null }] };
  const inputs: unknown[] = [
    { value: { data } },
    { value: { type: "JSON", data } },
    { value: { type: "JSON", data: null } },
    { value: { type: "JSON", data: "text" } },
    { value: { type: "STRING", data: '{"id":"x"}' } },
    { key: { data: "k" }, value: { data } },
    { key: { type: "JSON", data: { compound: 1 } }, value: { data } },
    { key: { type: "STRING", data: "k" }, value: { type: "JSON", data } },
    { key: { type: "STRING", data: "k" } },
    { value: { data: undefined } },
    {},
    // The schema's business: each of these is left to it (valid or not).
    [],
    { key: null, value: { data } },
    { value: null },
    { value: {} },
    { value: { type: "JSON" } },
    { value: { type: "BINARY", data: "e30=" } },
    { value: { type: "STRING", data: 5 } },
    { value: { type: "json", data } },
    { value: { type: null, data } },
    { value: { data, extra: 1 } },
    { value: [1] },
    { value: "x" },
    { value: { data }, partition_id: 1 },
    { value: { data }, headers: [] },
    { value: { data }, timestamp: 0 },
    { value: { data }, other: true },
    JSON.parse('{"value":{"data":1},"__proto__":{"x":1}}'),
    JSON.parse('{"value":{"data":1,"__proto__":{}}}'),
    null,
    "record",
    42,
  ];
  let recognised = 0;
  for (const input of inputs) {
    const common = commonRecord(input);
    if (common === undefined) continue;
    recognised++;
    const parsed = v.safeParse(ProduceRecordSchema, input);
    assert.ok(parsed.success, `accepted what the schema rejects: ${JSON.stringify(input)}`);
    assert.deepEqual(common, parsed.output, JSON.stringify(input));
  }
  assert.equal(recognised, 11);
});
