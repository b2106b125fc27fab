/**
 * `verifyUsers()`: a cheap, constant-time credential check for Hono's
 * `basicAuth({ verifyUser })`.
 *
 * Hono's `basicAuth({ username, password })` hashes both the configured and
 * the offered credentials with `crypto.subtle` on every request: four
 * asynchronous SHA-256 digests per user per request, which costs more than
 * the rest of a publish. Here the configured credentials are digested once,
 * and a request costs a synchronous SHA-256 and HMAC, and a 32-byte
 * comparison per user.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";

/**
 * One HTTP Basic user: a name and its password (a secret).
 *
 * @example Users from `GATEWAY_USERS=user:password,user:password`
 * ```ts
 * import process from "node:process";
 * import { basicAuth } from "hono/basic-auth";
 * import { type BasicUser, verifyUsers } from "@kshare/kshare/hono";
 *
 * const users: BasicUser[] = process.env.GATEWAY_USERS!.split(",").map((pair) => {
 *   const colon = pair.indexOf(":");
 *   return { username: pair.slice(0, colon), password: pair.slice(colon + 1) };
 * });
 * const auth = basicAuth({ verifyUser: verifyUsers(users) });
 * ```
 */
export interface BasicUser {
  /** The user name. */
  readonly username: string;
  /** The password: digested once by {@link verifyUsers}, never kept as text by it. */
  readonly password: string;
}

/**
 * A `verifyUser` for Hono's `basicAuth`: true when the offered name and
 * password are those of one of `users`.
 *
 * Each configured name and password pair is kept only as its SHA-256 until
 * the first check, then only as the HMAC-SHA-256 of that under a random key
 * drawn at the first check (it never leaves the process and is never derived
 * from the credentials). The key is not drawn when the verifier is built: that
 * is often at a module's top level, where Cloudflare Workers refuse random
 * values. A request's pair is digested the same way and compared with every
 * user's digest, byte by byte, without stopping early: the time taken does not
 * depend on how much of a secret matched, nor on whether or which user
 * matched. The digests are fixed-length, so the comparison does not reveal a
 * password's length either.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { Hono } from "hono";
 * import { basicAuth } from "hono/basic-auth";
 * import { verifyUsers } from "@kshare/kshare/hono";
 *
 * const app = new Hono<{ Variables: { user: string } }>();
 * app.use("/v3/*", basicAuth({
 *   verifyUser: verifyUsers([{ username: "alice", password: process.env.ALICE_PASSWORD! }]),
 *   onAuthSuccess: (c, username) => c.set("user", username),
 * }));
 * ```
 */
export function verifyUsers(users: readonly BasicUser[]): (username: string, password: string) => boolean {
  if (users.length === 0) throw new TypeError("verifyUsers: needs at least one user");
  // Dropped at the first check, when each is keyed.
  let unkeyed: Uint8Array[] | undefined = users.map((user) => pairDigest(user.username, user.password));
  let matches: ((offered: Uint8Array) => boolean) | undefined;
  return function verifyUser(username, password) {
    if (!matches) {
      matches = keyedMatcher(unkeyed!);
      unkeyed = undefined;
    }
    return matches(pairDigest(username, password));
  };
}

/** The SHA-256 of a pair: the name's length first, so no two pairs share a message ("ab" + "c" is not "a" + "bc"). */
function pairDigest(username: string, password: string): Uint8Array {
  return sha256(utf16Bytes(`${username.length}:${username}${password}`));
}

/**
 * Whether an offered pair's digest is one of `digests`: each compared as its
 * HMAC under a key drawn here, with every user's, in constant time.
 */
function keyedMatcher(digests: readonly Uint8Array[]): (offered: Uint8Array) => boolean {
  // The key's pads are hashed once here; each HMAC continues from a copy of that state.
  const keyed = hmac.create(sha256, randomBytes(32));
  const known = digests.map((digest) => keyed.clone().update(digest).digest());
  // An offered pair's HMAC is computed into these, reused: verifyUser is synchronous, so no two calls share them.
  const scratch = keyed.clone();
  const mac = new Uint8Array(scratch.outputLen);
  return (offered) => {
    keyed._cloneInto(scratch).update(offered).digestInto(mac);
    let matches = 0;
    for (const user of known) matches |= Number(difference(user, mac) === 0);
    return matches === 1;
  };
}

/**
 * The UTF-16 code units of `text`, two bytes each: as unambiguous as UTF-8 for
 * a digest's input, and cheaper to build than a `TextEncoder` call on Deno.
 */
function utf16Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes[2 * i] = unit >> 8;
    bytes[2 * i + 1] = unit & 0xff;
  }
  return bytes;
}

/** Zero when `a` and `b` are equal; every byte is looked at whatever the outcome. Both are 32-byte digests. */
function difference(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) bits |= a[i]! ^ b[i]!;
  return bits;
}
