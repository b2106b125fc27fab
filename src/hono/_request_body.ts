/**
 * How a `publishRoutes` app reads a produce request's body: at most
 * `maxBodyBytes` (413 otherwise), received within `bodyTimeoutMs` (408
 * otherwise: a slow body holds its tenant's request slot no longer), not
 * blank (422).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { HTTPException } from "hono/http-exception";
import { isBlank } from "../_json_stream.ts";
import { timeouts } from "../_timeouts.ts";
import { restProxyError } from "./errors.ts";

/** The body bounds of one app; made once by {@link bodyLimits}, shared by all its requests. */
export interface BodyLimits {
  /** Largest body in bytes. */
  readonly maxBodyBytes: number;
  /** Time to receive a body, from the start of reading it, in ms. */
  readonly bodyTimeoutMs: number;
  /** Counts a body without a stated length (chunked) as it is read: {@link readUnstated}. */
  readonly streamLimit: MiddlewareHandler;
}

/**
 * Past `maxBodyBytes`, what the client still sends of a body is read and
 * dropped, up to this many bytes more, so that its connection can carry the
 * next request: the 413 comes once the body ended. (Cancelling the read of a
 * chunked body made Node and Deno close a connection they answered keep-alive
 * on; Deno closed it after a sized body left unread too.) A body stated or
 * found larger still is answered 413 with `Connection: close`.
 */
const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;

/** The {@link BodyLimits} of an app whose options were checked. */
export function bodyLimits(maxBodyBytes: number, bodyTimeoutMs: number): BodyLimits {
  return { maxBodyBytes, bodyTimeoutMs, streamLimit: (c, next) => readUnstated(c, maxBodyBytes, next) };
}

/**
 * A body of unstated length (or stated over the limit) read whole, counted as it comes (413 past
 * `maxBodyBytes`, after the rest of it was dropped), then the handlers after
 * it run on it: Hono's `bodyLimit`, but for what a client sends past the limit.
 */
async function readUnstated(c: Context, maxBodyBytes: number, next: () => Promise<void>): Promise<void> {
  const stream = c.req.raw.body;
  if (!stream) return next();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBodyBytes) return discardRest(reader, maxBodyBytes);
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  c.req.raw = new Request(c.req.raw, { body });
  return next();
}

/** Read and drop the rest of a body over the limit (at most {@link MAX_DISCARDED_BYTES}), then 413. */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, maxBodyBytes: number): Promise<never> {
  for (let dropped = 0;;) {
    const { done, value } = await reader.read();
    if (done) tooLarge(maxBodyBytes);
    dropped += value.byteLength;
    if (dropped > MAX_DISCARDED_BYTES) {
      reader.cancel().catch(() => {});
      tooLarge(maxBodyBytes, { Connection: "close" });
    }
  }
}

/**
 * Whether the headers state the body's length, which is then judged here
 * (413 when over the limit) the way `bodyLimit` would judge it, but without
 * touching `c.req.raw.body`: on Deno that turns the body into a stream,
 * several µs slower to read. False for a body `streamLimit` must count.
 */
export function lengthStated(c: Context, limits: BodyLimits): boolean {
  const length = c.req.header("content-length");
  if (length === undefined || c.req.header("transfer-encoding") !== undefined) return false;
  const stated = parseInt(length, 10);
  if (stated > limits.maxBodyBytes + MAX_DISCARDED_BYTES) tooLarge(limits.maxBodyBytes, { Connection: "close" });
  // Over the limit: read and dropped like a chunked body's excess, so that Deno keeps the connection.
  return stated <= limits.maxBodyBytes;
}

/**
 * `streamLimit` with the body timeout over its read: Hono's `bodyLimit`
 * reads a body of unstated length whole before `next` runs, which stops the timer.
 */
export function limitedStream(c: Context, limits: BodyLimits, next: () => Promise<void>): Promise<void> {
  let received!: () => void;
  const inside = new Promise<void>((resolve) => (received = resolve));
  const read = limits.streamLimit(c, () => {
    received();
    return next();
  });
  return within(read as Promise<void>, limits.bodyTimeoutMs, () => bodyTimedOut(limits.bodyTimeoutMs), inside);
}

/** A middleware holding a request to `limits` before the handlers after it read its body. */
export function limitBody(limits: BodyLimits): MiddlewareHandler {
  return async function limit(c, next) {
    if (lengthStated(c, limits)) await next();
    else await limitedStream(c, limits, next);
  };
}

/**
 * The request body, at most `maxBodyBytes` (behind {@link limitBody} or
 * {@link limitedStream}), received within `bodyTimeoutMs`; 422 when it holds
 * nothing but whitespace.
 */
export async function nonEmptyBody(c: Context, limits: BodyLimits): Promise<Uint8Array> {
  const body = new Uint8Array(await within(c.req.arrayBuffer(), limits.bodyTimeoutMs, () => bodyTimedOut(limits.bodyTimeoutMs)));
  if (isBlank(body)) throw restProxyError(422, 422, "Payload error. Request body is empty. Data is required.");
  return body;
}

function tooLarge(maxBodyBytes: number, headers?: Record<string, string>): never {
  throw restProxyError(413, 413, `The request body is larger than ${maxBodyBytes} bytes`, headers);
}

function bodyTimedOut(bodyTimeoutMs: number): HTTPException {
  return restProxyError(408, 408, `The request body was not received within ${bodyTimeoutMs} ms`, { Connection: "close" });
}

/**
 * `promise`, or the error `onTimeout` makes once `ms` passed first, unless
 * `stop` resolved before (the timed part is over; `promise` goes on). A late
 * rejection of `promise` (the client gone after the timeout) is ignored.
 */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error, stop?: Promise<void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // One per request: a shared list's, not a runtime timer of its own (see _timeouts.ts).
    const timeout = timeouts.start(ms, () => reject(onTimeout()));
    stop?.then(() => timeouts.stop(timeout));
    promise.then((value) => {
      timeouts.stop(timeout);
      resolve(value);
    }, (error: unknown) => {
      timeouts.stop(timeout);
      reject(error);
    });
  });
}
