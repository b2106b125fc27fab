/**
 * Produce requests to the gateway's REST Proxy v3 API, valid and hostile, as fast-check arbitraries; shared by
 * the property test (tests/gateway_properties.test.ts) and the RSS bench (bench/gateway_rss.ts), so the bench
 * sends the kinds of request the property covers. Bodies are built as JSON text, not by JSON.stringify, so
 * they can hold what no JavaScript value serialises to: own `__proto__` keys, 1e400, -0, 2**64 digits.
 * Each case carries what a correct answer must be where the request is known to be valid; where a hostile
 * part makes it unknown, any well-formed answer is correct.
 */
import fc from "fast-check";

/** The gateway's cluster id, demo user and partitions per topic (gateway/config.ts, gateway/topics.ts). */
export const CLUSTER = "kshare";
export const USER = { username: "dev", password: "dev-secret" } as const;
export const PARTITIONS = 3;
/** The gateway's default body limit. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What one record of a case must come back as, when `valid`; otherwise any well-formed outcome is correct. */
export interface RecordExpectation {
  /** Every part of the record is known valid (and so is the request around it): it must be published. */
  readonly valid: boolean;
  readonly partition?: number;
  /** How the key and the value were sent (the answer reports it): `null` for no key. */
  readonly keyType: "JSON" | "STRING" | "BINARY" | null;
  readonly valueType: "JSON" | "STRING" | "BINARY";
  /** The value as Kafka must hold it (JSON text of the order), for kcat to compare. */
  readonly payload: string;
}

/** One request and what its answer must be. */
export interface GatewayCase {
  /** `body`: arbitrary bytes or JSON; `record`: one record; `stream`: concatenated records; `batch`: `records:batch`. */
  readonly kind: "body" | "record" | "stream" | "batch";
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array<ArrayBuffer>;
  /** Sent without a Content-Length (chunked), so the limit is counted as the body is read. */
  readonly chunked: boolean;
  /** Path, credentials, content type and size are right: the body alone decides the answer. */
  readonly envelopeOk: boolean;
  /** `record`: one; `stream`: one per framed object, in order; `batch`: one per entry. */
  readonly records: readonly RecordExpectation[];
  /** `stream`: a part that is not an object follows the records (one more error line). */
  readonly trailingGarbage?: boolean;
  /** `batch`: the entry ids, and whether the batch itself (ids, count, shape) is valid. */
  readonly ids?: readonly string[];
  readonly batchOk?: boolean;
}

/** A JSON object's text from `[key, text]` pairs; `undefined` texts are left out. Keys may repeat or be `__proto__`. */
function object(entries: ReadonlyArray<readonly [string, string | undefined]>): string {
  return `{${entries.filter(([, t]) => t !== undefined).map(([k, t]) => `${JSON.stringify(k)}:${t}`).join(",")}}`;
}

const encoder = new TextEncoder();
const base64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
const base64Text = (text: string) => base64(encoder.encode(text));

/** A field: its text and whether it is known valid. `undefined` text: the field is left out. */
interface Part {
  readonly text: string | undefined;
  readonly ok: boolean;
}

const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"] as const;

/** Deep nesting, up to 100,000 levels (600 kB, within the body limit). */
const deep: fc.Arbitrary<string> = fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.boolean()).map(([n, arrays]) =>
  arrays ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n)
);

/** Base64 that is not: bad characters, bad padding, bad length, whitespace. */
const badBase64: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("!", "a", "abc", "abcde", "====", "YQ", "YQ=", "Y Q==", "YQ==\n", "é", "YQ==YQ==", "-_-_", "YQ=a"),
  fc.string({ maxLength: 12 }),
);

/** Many valid headers, up to 3,000. */
const manyHeaders: fc.Arbitrary<string> = fc.integer({ min: 50, max: 3000 }).map((n) =>
  `[${Array.from({ length: n }, (_, i) => `{"name":"h${i}","value":"YQ=="}`).join(",")}]`
);

/** Long strings within the body limit (or just over it: 413), of 1- to 4-byte characters and escapes. */
const longString: fc.Arbitrary<string> = fc.tuple(
  fc.integer({ min: 1000, max: 300_000 }),
  fc.constantFrom("x", "é", "€", "😀", "\\u0000", "\\ud800", '\\"'),
).map(([n, unit]) => `"${unit.repeat(n)}"`);

/** What replaces a field: wrong types, extreme numbers, nesting, prototype keys, bad base64, sizes. */
const hostile: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.constantFrom(
    "1e308",
    "-1e308",
    "-0",
    "18446744073709551616",
    "-18446744073709551616",
    "1e400",
    "-1e400",
    "5e-324",
    "0.5",
    "-1",
    "3",
    "2147483648",
    "9007199254740993",
    "123456789012345678901234567890",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '""',
    '" "',
    '"JSON"',
    '"BINARY"',
    '"STRING"',
    '"json"',
    '"\\ud800"',
    '"\\u0000"',
  ),
  fc.constant(undefined),
  deep,
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"prototype":{"polluted":true}}',
    '{"__proto__":null}',
    '{"__proto__":[]}',
    '{"type":"JSON","data":{},"__proto__":{"type":"BINARY"}}',
    '{"data":{"id":"a","customer":"c","total":1},"__proto__":{"data":1}}',
  ),
  badBase64.map((s) => JSON.stringify(s)),
  longString,
  manyHeaders,
);

/** A field that is mostly valid, now and then hostile. */
function field(valid: fc.Arbitrary<string | undefined>, hostileWeight = 1): fc.Arbitrary<Part> {
  return fc.oneof(
    { weight: 14, arbitrary: valid.map((text) => ({ text, ok: true })) },
    { weight: hostileWeight, arbitrary: hostile.map((text) => ({ text, ok: false })) },
  );
}

/** Now and then an extra key (a prototype key, or any name) on an object: unknown fields are refused. */
const extraKey: fc.Arbitrary<Array<readonly [string, string]>> = fc.oneof(
  { weight: 20, arbitrary: fc.constant<Array<readonly [string, string]>>([]) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 })), hostile)
      .map(([k, t]) => [[k, t ?? "1"] as const]),
  },
);

const text: fc.Arbitrary<string> = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== "");

/** A valid order (gateway/topics.ts): its JSON text. */
const order: fc.Arbitrary<string> = fc.record({
  id: text,
  customer: text,
  total: fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true })),
}).map((o) => JSON.stringify(o));

/** One record of the produce API for the `orders` topic, each field now and then hostile. */
export const record: fc.Arbitrary<{ text: string; expect: RecordExpectation }> = fc.record({
  order: order,
  orderPart: field(fc.constant("")), // "" = the order as generated
  valueType: fc.constantFrom(undefined, "JSON", "STRING", "BINARY"),
  valueTypePart: field(fc.constant("")),
  valueExtra: extraKey,
  keyType: fc.constantFrom(null, undefined, "JSON", "STRING", "BINARY"),
  keyData: text,
  keyPart: field(fc.constant("")),
  keyDataPart: field(fc.constant("")),
  headers: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant("null") },
    {
      weight: 6,
      arbitrary: fc.array(
        fc.record({
          name: field(text.map((s) => JSON.stringify(s))),
          value: field(fc.uint8Array({ maxLength: 40 }).map((b) => JSON.stringify(base64(b)))),
          extra: extraKey,
        }),
        { maxLength: 6 },
      ).map((hs) => ({
        text: `[${hs.map((h) => object([["name", h.name.text], ["value", h.value.text], ...h.extra])).join(",")}]`,
        ok: hs.every((h) => h.name.ok && h.value.ok && h.extra.length === 0),
      })),
    },
    { weight: 1, arbitrary: manyHeaders },
  ),
  headersPart: field(fc.constant("")),
  partition: fc.option(fc.integer({ min: 0, max: PARTITIONS - 1 })),
  partitionPart: field(fc.constant("")),
  timestamp: fc.oneof(
    fc.constant(undefined),
    fc.constant("null"),
    fc.integer({ min: 0, max: 2 ** 41 }).map(String),
    fc.date({ min: new Date(0), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())),
  ),
  timestampPart: field(fc.constant("")),
  extra: extraKey,
}).map((r) => {
  const pick = (part: Part, valid: string | undefined) => (part.ok ? valid : part.text);
  const valueType = r.valueType ?? "JSON";
  const valueData = valueType === "JSON" ? r.order : JSON.stringify(valueType === "STRING" ? r.order : base64Text(r.order));
  const valueText = object([
    ["type", pick(r.valueTypePart, r.valueType && JSON.stringify(r.valueType))],
    ["data", pick(r.orderPart, valueData)],
    ...r.valueExtra,
  ]);
  const keyData = r.keyType === "BINARY" ? base64Text(r.keyData) : r.keyData;
  const keyText = r.keyType === null ? "null" : object([
    ["type", r.keyType && JSON.stringify(r.keyType)],
    ["data", pick(r.keyDataPart, JSON.stringify(keyData))],
  ]);
  const headers = typeof r.headers === "string" ? { text: r.headers, ok: true } : r.headers ?? { text: undefined, ok: true };
  const textOut = object([
    ["key", pick(r.keyPart, keyText)],
    ["value", valueText],
    ["headers", pick(r.headersPart, headers.text)],
    ["partition_id", pick(r.partitionPart, r.partition === null ? undefined : String(r.partition))],
    ["timestamp", pick(r.timestampPart, r.timestamp)],
    ...r.extra,
  ]);
  const parts = [
    r.orderPart,
    r.valueTypePart,
    r.keyPart,
    r.keyDataPart,
    r.headersPart,
    r.partitionPart,
    r.timestampPart,
    headers,
  ];
  const valid = parts.every((p) => p.ok) && r.extra.length === 0 && r.valueExtra.length === 0;
  return {
    text: textOut,
    expect: {
      valid,
      ...(r.partition !== null && { partition: r.partition }),
      keyType: r.keyType === undefined ? "JSON" : r.keyType,
      valueType,
      payload: r.order,
    },
  };
});

/** Bytes that are not UTF-8: overlong, surrogate, out of range, stray continuation, truncated. */
const invalidUtf8: fc.Arbitrary<number[]> = fc.constantFrom(
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
);

/** `text` as UTF-8, now and then with invalid bytes spliced in (then the record is no longer known valid). */
const encoded = (text: string): fc.Arbitrary<{ bytes: Uint8Array<ArrayBuffer>; spliced: boolean }> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant({ bytes: encoder.encode(text), spliced: false }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat(), invalidUtf8).map(([at, bad]) => {
        const bytes = encoder.encode(text);
        const i = at % (bytes.length + 1);
        const out = new Uint8Array(bytes.length + bad.length);
        out.set(bytes.subarray(0, i));
        out.set(bad, i);
        out.set(bytes.subarray(i), i + bad.length);
        return { bytes: out, spliced: true };
      }),
    },
  );

/** The request around a body: path, credentials, content type, extra headers, chunked or not. */
function envelope(kind: GatewayCase["kind"]) {
  const suffix = kind === "batch" ? "records:batch" : "records";
  const good = `/v3/clusters/${CLUSTER}/topics/orders/${suffix}`;
  return fc.record({
    path: fc.oneof(
      { weight: 18, arbitrary: fc.constant({ path: good, ok: true }) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.constantFrom(
            `/v3/clusters/${CLUSTER}/topics/payments/${suffix}`,
            `/v3/clusters/other/topics/orders/${suffix}`,
            `/v3/clusters/${CLUSTER}/topics/orders/records%3Abatch`,
            `/v3/clusters/${CLUSTER}/topics/orders/records:batchx`,
            `/v3/clusters/${CLUSTER}/topics/__proto__/${suffix}`,
            `/v3/clusters/__proto__/topics/orders/${suffix}`,
            `/v3/clusters/${CLUSTER}/topics/constructor/${suffix}`,
          ),
          fc.string({ maxLength: 20 }).map((t) => `/v3/clusters/${CLUSTER}/topics/${encodeURIComponent(t)}/${suffix}`),
        ).map((path) => ({ path, ok: false })),
      },
    ),
    auth: fc.oneof(
      { weight: 20, arbitrary: fc.constant({ value: `Basic ${btoa(`${USER.username}:${USER.password}`)}`, ok: true }) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.constantFrom(undefined, "Basic", "Basic !!!", "Basic ZGV2", "Bearer dev-secret", `Basic ${btoa("dev:wrong")}`),
          fc.stringMatching(/^[\x21-\x7e]{0,40}$/).map((s) => `Basic ${s}`),
        ).map((value) => ({ value, ok: false })),
      },
    ),
    contentType: fc.oneof(
      { weight: 18, arbitrary: fc.constant({ value: "application/json", ok: true }) },
      {
        weight: 2,
        arbitrary: fc.oneof(
          fc.constantFrom(
            undefined,
            "",
            "text/plain",
            "application/json; charset=utf-8",
            "application/vnd.kafka.v3+json",
            "application/x-www-form-urlencoded",
            "application/json;",
            "APPLICATION/JSON",
            "application/jsonx",
          ),
          fc.stringMatching(/^[\x20-\x7e]{0,30}$/),
        ).map((value) => ({ value, ok: false })),
      },
    ),
    extraHeaders: fc.oneof(
      { weight: 6, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.stringMatching(/^[\x21-\x7e]{0,100}$/)), { maxLength: 100 }) },
    ),
    chunked: fc.boolean(),
  }).map((e) => {
    const headers: Record<string, string> = {};
    // Extra headers first, in their own namespace: they must not replace the ones the case is about.
    for (const [name, value] of e.extraHeaders) headers[`x-f-${name}`] = value;
    if (e.auth.value !== undefined) headers["authorization"] = e.auth.value;
    if (e.contentType.value !== undefined) headers["content-type"] = e.contentType.value;
    return { path: e.path.path, headers, chunked: e.chunked, ok: e.path.ok && e.auth.ok && e.contentType.ok };
  });
}

function finish(
  kind: GatewayCase["kind"],
  env: { path: string; headers: Record<string, string>; chunked: boolean; ok: boolean },
  body: Uint8Array<ArrayBuffer>,
  rest: Pick<GatewayCase, "records" | "trailingGarbage" | "ids" | "batchOk">,
): GatewayCase {
  return { kind, path: env.path, headers: env.headers, chunked: env.chunked, body, envelopeOk: env.ok && body.length <= MAX_BODY_BYTES, ...rest };
}

/** Any body at all to the records path: bytes, JSON values, JSON text with extreme numbers and nesting. */
export const anyBody: fc.Arbitrary<GatewayCase> = fc.tuple(
  envelope("body"),
  fc.oneof(
    fc.uint8Array({ maxLength: 2000 }),
    fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v))),
    fc.string({ maxLength: 200 }).map((s) => encoder.encode(s)),
    hostile.map((t) => encoder.encode(t ?? "")),
  ),
).map(([env, body]) => finish("body", env, body, { records: [] }));

/** One record, now and then with invalid UTF-8 spliced into its body. */
export const singleRecord: fc.Arbitrary<GatewayCase> = fc.tuple(envelope("record"), record).chain(([env, r]) =>
  encoded(r.text).map(({ bytes, spliced }) => finish("record", env, bytes, { records: [{ ...r.expect, valid: r.expect.valid && !spliced }] }))
);

/** Objects that frame (brackets balanced) but do not parse: each answered with its own error line. */
const brokenObject = fc.constantFrom('{"value":}', "{,}", '{"a" 1}', "{'a':1}", '{"value":{"data":1e}}', '{"a":[1,]}', '{"a":tru}');

/** Concatenated records (streaming mode), valid and not, any whitespace between, maybe garbage at the end. */
export const streamedRecords: fc.Arbitrary<GatewayCase> = fc.tuple(
  envelope("stream"),
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: record },
      {
        weight: 1,
        arbitrary: brokenObject.map((text) => ({
          text,
          expect: { valid: false, keyType: null, valueType: "JSON", payload: "" } satisfies RecordExpectation,
        })),
      },
    ),
    { minLength: 2, maxLength: 8 },
  ),
  fc.constantFrom("", "\n", " ", "\r\n", "\t\n "),
  fc.option(fc.constantFrom("x", "[1]", "{", '"a"', "}", "1", "null")),
).map(([env, records, separator, garbage]) =>
  finish("stream", env, encoder.encode(records.map((r) => r.text).join(separator) + (garbage ? separator + garbage : "")), {
    records: records.map((r) => r.expect),
    trailingGarbage: garbage !== null,
  })
);

/** `records:batch` bodies: entries with ids valid or not, the batch's shape now and then wrong. */
export const batch: fc.Arbitrary<GatewayCase> = fc.tuple(
  envelope("batch"),
  fc.array(fc.tuple(record, field(fc.constant(""), 1)), { minLength: 1, maxLength: 12 }),
  field(fc.constant(""), 1),
  extraKey,
).map(([env, entries, entriesPart, extra]) => {
  const idTexts = entries.map(([, id], i) => (id.ok ? JSON.stringify(`e-${i}`) : id.text));
  // The id goes first into the record's object text (which always holds a value).
  const entryTexts = entries.map(([r], i) => (idTexts[i] === undefined ? r.text : `{"id":${idTexts[i]},${r.text.slice(1)}`));
  const bodyText = object([["entries", entriesPart.ok ? `[${entryTexts.join(",")}]` : entriesPart.text], ...extra]);
  const batchOk = entriesPart.ok && extra.length === 0 && entries.length <= 10 && entries.every(([, id]) => id.ok);
  return finish("batch", env, encoder.encode(bodyText), {
    records: entries.map(([r]) => r.expect),
    ids: entries.map(([, id], i) => (id.ok ? `e-${i}` : "")),
    batchOk,
  });
});

/** Every kind of case, in the proportions the property test and the bench use. */
export const anyCase: fc.Arbitrary<GatewayCase> = fc.oneof(
  { weight: 2, arbitrary: anyBody },
  { weight: 4, arbitrary: singleRecord },
  { weight: 2, arbitrary: streamedRecords },
  { weight: 2, arbitrary: batch },
);
