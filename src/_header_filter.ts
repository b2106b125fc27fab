/**
 * A topic's header filter (`SubscribeOptions.headerFilter`), turned once, at
 * subscribe, into one predicate over a record's headers as fetched. A record
 * it refuses is skipped before anything else looks at it: no decoding, no
 * validation, no handler.
 *
 * @module
 */
import type { IncomingMessage } from "./driver.ts";
import { isPlainObject } from "./_util.ts";

/** A record's headers as fetched: in order, names may repeat, values as bytes. */
export type RawHeaders = IncomingMessage["headers"];

/** What `headerFilter` takes: a predicate, or header names to a value (exact text) or a pattern. */
export type HeaderFilter = ((headers: RawHeaders) => boolean) | Readonly<Record<string, string | RegExp>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The predicate of `filter`, or a `TypeError` naming what is wrong with it.
 * A map matches a record whose last header of each name (as Kafka's
 * `lastHeader`) equals the text, or whose UTF-8 text the pattern matches.
 */
export function compileHeaderFilter(topic: string, filter: HeaderFilter): (headers: RawHeaders) => boolean {
  if (typeof filter === "function") return filter;
  if (!isPlainObject(filter)) {
    throw new TypeError(`Topic "${topic}": headerFilter must be a function of the headers, or an object of header names to a string or RegExp`);
  }
  const wanted: Array<readonly [string, Uint8Array | RegExp]> = [];
  for (const [name, expected] of Object.entries(filter)) {
    if (typeof expected === "string") wanted.push([name, encoder.encode(expected)]);
    else if (expected instanceof RegExp) wanted.push([name, expected]);
    else throw new TypeError(`Topic "${topic}": headerFilter's "${name}" must be a string or a RegExp`);
  }
  return (headers) => {
    for (const [name, expected] of wanted) {
      const value = lastHeader(headers, name);
      if (value === undefined) return false;
      if (expected instanceof RegExp) {
        expected.lastIndex = 0; // a global or sticky pattern keeps state between tests
        if (!expected.test(decoder.decode(value))) return false;
      } else if (!sameBytes(value, expected)) return false;
    }
    return true;
  };
}

function lastHeader(headers: RawHeaders, name: string): Uint8Array | undefined {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === name) return headers[i]![1];
  return undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
