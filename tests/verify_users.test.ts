// verifyUsers: the HTTP Basic users it accepts, compared with Hono's own basicAuth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { verifyUsers } from "../hono.ts";

test("verifyUsers: exactly the configured name and password pairs; Hono's basicAuth answers the same", async () => {
  const verify = verifyUsers([{ username: "alice", password: "s3cret" }, { username: "bob", password: "pässwört:x" }]);
  assert.equal(verify("alice", "s3cret"), true);
  assert.equal(verify("bob", "pässwört:x"), true);
  for (
    const [name, password] of [
      ["alice", "pässwört:x"], // another user's password
      ["bob", "s3cret"],
      ["alice", "s3cre"], // a prefix
      ["alice", "s3cret "],
      ["alice", ""],
      ["Alice", "s3cret"],
      ["", ""],
      ["carol", "s3cret"],
    ] as const
  ) {
    assert.equal(verify(name, password), false, `${name}:${password}`);
  }
  assert.throws(() => verifyUsers([]), TypeError);
  // The same answers as Hono's own username/password comparison, through the middleware.
  const users = [{ username: "alice", password: "s3cret" }];
  const viaVerifier = new Hono().use(basicAuth({ verifyUser: verifyUsers(users) })).get("/", (c) => c.text("ok"));
  const viaHono = new Hono().use(basicAuth(users[0]!)).get("/", (c) => c.text("ok"));
  for (const credentials of ["alice:s3cret", "alice:s3cret:", "alice:", ":s3cret", "alice", "alice:S3CRET"]) {
    const headers = { Authorization: `Basic ${btoa(credentials)}` };
    assert.equal((await viaVerifier.request("/", { headers })).status, (await viaHono.request("/", { headers })).status, credentials);
  }
});
