/**
 * Splitting a body of concatenated JSON objects (REST Proxy's streaming mode:
 * a produce request's records, and the answers to them) into one text per
 * object, without parsing them. Shared by `kshare/hono`'s produce routes and
 * the REST Proxy driver.
 *
 * @module
 */

/** One top-level object of the body, or the point where the body stopped being a sequence of objects. */
export type JsonChunk = { readonly text: string } | { readonly malformed: string };

const decoder = new TextDecoder();
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The top-level objects of `body` in order, separated by any whitespace. The
 * structural characters are ASCII, so scanning UTF-8 bytes is exact. A body
 * that stops being a sequence of objects (a stray character, an unterminated
 * object) ends with one `malformed` chunk: nothing after it can be framed.
 */
export function* splitJsonObjects(body: Uint8Array): Generator<JsonChunk> {
  let i = 0;
  while (i < body.length) {
    const byte = body[i]!;
    if (WHITESPACE.has(byte)) {
      i++;
      continue;
    }
    if (byte !== OPEN) {
      yield { malformed: "Malformed JSON: expected a JSON object for each record" };
      return;
    }
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < body.length; i++) {
      const b = body[i]!;
      if (inString) {
        if (b === BACKSLASH) i++;
        else if (b === QUOTE) inString = false;
      } else if (b === QUOTE) inString = true;
      else if (b === OPEN || b === 0x5b) depth++;
      else if (b === CLOSE || b === 0x5d) {
        depth--;
        if (depth === 0) break;
      }
    }
    if (i >= body.length) {
      yield { malformed: "Malformed JSON: the body ends inside a record" };
      return;
    }
    i++;
    yield { text: decoder.decode(body.subarray(start, i)) };
  }
}

/** True when `body` holds nothing but whitespace. */
export function isBlank(body: Uint8Array): boolean {
  return body.every((b) => WHITESPACE.has(b));
}
