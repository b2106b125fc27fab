/**
 * REST Proxy v3's produce requests as the REST Proxy driver writes them, and
 * the reading of their answers, in the API's two modes:
 *
 * - streaming: `POST /v3/clusters/{id}/topics/{topic}/records`, the records
 *   as concatenated JSON objects (one a line), answered with one JSON object
 *   per record, in the same order;
 * - batch: `POST /v3/clusters/{id}/topics/{topic}/records:batch`,
 *   `{"entries":[…]}` with each record under an `id` (its position in the
 *   request: `"0"`, `"1"`, …), answered 207 with `successes` and `failures`
 *   by id.
 *
 * Either way a record's answer is one object: a success (`partition_id`,
 * `offset`, `timestamp`) or REST Proxy's `{ error_code, message }`; which of
 * them it is, the producer reads alike whatever the mode.
 *
 * Pure functions of bytes: no I/O, no state.
 *
 * @module
 */
import type { OutgoingRecord, Payload } from "../driver.ts";
import { splitJsonObjects } from "../_json_stream.ts";
import { toBase64 } from "../_util.ts";

/** How one request of a mode is written, and its 2xx answer read. */
export interface ProduceRequestFormat {
  /** The path after `/topics/{topic}`. */
  readonly path: "/records" | "/records:batch";
  /** Most records of one request. */
  readonly maxRecords: number;
  /**
   * Bytes the body holds, besides the record's own JSON, for the record at
   * `index` (the first one's count includes the body's envelope): a request's
   * size is known before it is written.
   */
  framing(index: number): number;
  /** The body of a request of `records` (each from {@link encodeRecord}), in order. */
  body(records: readonly Uint8Array[]): Uint8Array<ArrayBuffer>;
  /**
   * Each record's answer in a 2xx body, by position in the request;
   * `undefined` for one the body does not answer (it is cut short, malformed,
   * or names no such record).
   */
  answers(body: Uint8Array, count: number): unknown[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const BATCH_OPEN = encoder.encode('{"entries":[');
const BATCH_CLOSE = encoder.encode("]}");

/** Streaming mode: any number of records (up to the request's byte limit), answered in order. */
export const streamingRequests: ProduceRequestFormat = {
  path: "/records",
  maxRecords: Infinity,
  framing: (index) => (index === 0 ? 0 : 1), // the newline before it
  body(records) {
    let size = records.length - 1;
    for (const json of records) size += json.length;
    const body = new Uint8Array(size);
    let at = 0;
    for (const json of records) {
      if (at > 0) body[at++] = NEWLINE;
      body.set(json, at);
      at += json.length;
    }
    return body;
  },
  answers(body, count) {
    const answers: unknown[] = [];
    for (const chunk of splitJsonObjects(body)) {
      if (answers.length === count || "malformed" in chunk) break;
      try {
        answers.push(JSON.parse(chunk.text));
      } catch {
        break; // nothing after it can be matched to its record
      }
    }
    return answers;
  },
};

/** Batch mode: at most `maxEntries` records a request. */
export function batchRequests(maxEntries: number): ProduceRequestFormat {
  return {
    path: "/records:batch",
    maxRecords: maxEntries,
    // `{"id":"<index>",` before the record's own fields, a comma before every entry but the first.
    framing: (index) => (index === 0 ? BATCH_OPEN.length + BATCH_CLOSE.length : 1) + entryIdPrefix(index).length - 1,
    body(records) {
      const prefixes = records.map((_, index) => entryIdPrefix(index));
      let size = BATCH_OPEN.length + BATCH_CLOSE.length + records.length - 1;
      records.forEach((json, index) => (size += prefixes[index]!.length + json.length - 1));
      const body = new Uint8Array(size);
      body.set(BATCH_OPEN, 0);
      let at = BATCH_OPEN.length;
      records.forEach((json, index) => {
        if (index > 0) body[at++] = COMMA;
        body.set(prefixes[index]!, at);
        at += prefixes[index]!.length;
        // encodeRecord always writes "key" first, so the object is never empty: its `{` is the prefix's.
        body.set(json.subarray(1), at);
        at += json.length - 1;
      });
      body.set(BATCH_CLOSE, at);
      return body;
    },
    answers(body, count) {
      const answers = new Array<unknown>(count).fill(undefined);
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(body));
      } catch {
        return answers;
      }
      const { successes, failures } = (typeof parsed === "object" && parsed !== null ? parsed : {}) as {
        successes?: unknown;
        failures?: unknown;
      };
      const twice = new Set<number>();
      for (const list of [successes, failures]) {
        if (!Array.isArray(list)) continue;
        for (const entry of list as unknown[]) {
          const id = (entry as { id?: unknown } | null)?.id;
          const index = typeof id === "string" && /^(0|[1-9]\d*)$/.test(id) ? Number(id) : -1;
          if (index < 0 || index >= count) continue; // an id this request did not send settles nothing
          if (answers[index] !== undefined) twice.add(index);
          answers[index] = entry;
        }
      }
      // An entry answered twice is not known to have either outcome.
      for (const index of twice) answers[index] = undefined;
      return answers;
    },
  };
}

/** `{"id":"<index>",`: the start of a batch entry, whose record fields follow. */
function entryIdPrefix(index: number): Uint8Array {
  return encoder.encode(`{"id":"${index}",`);
}

/** Bytes as REST Proxy v3's binary payload. */
function binary(payload: Payload): { type: "BINARY"; data: string } {
  return { type: "BINARY", data: toBase64(typeof payload === "string" ? encoder.encode(payload) : payload) };
}

/**
 * One record as a produce request's JSON object, UTF-8: key and value as
 * BINARY (the bytes exactly), headers with base64 values, partition,
 * timestamp. The key comes first, always: no key is sent as `"key": null` (a
 * REST Proxy may otherwise derive one). Throws a `TypeError` for a timestamp
 * no ISO date-time can write.
 */
export function encodeRecord(record: OutgoingRecord): Uint8Array {
  const json: Record<string, unknown> = { key: record.key == null ? null : binary(record.key) };
  if (record.value !== null) json["value"] = binary(record.value);
  if (record.headers && record.headers.length > 0) {
    json["headers"] = record.headers.map(([name, value]) => ({ name, value: toBase64(value) }));
  }
  if (record.partition !== undefined) json["partition_id"] = record.partition;
  if (record.timestamp !== undefined) {
    const date = new Date(record.timestamp);
    if (Number.isNaN(date.getTime())) {
      throw new TypeError(`Topic "${record.topic}": timestamp ${record.timestamp} is past the latest date-time a REST Proxy takes`);
    }
    json["timestamp"] = date.toISOString();
  }
  return encoder.encode(JSON.stringify(json));
}
