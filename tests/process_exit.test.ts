/**
 * How a process using kshare ends when it does not close its clients: with
 * the runtime's own exit, never a crash. On Deno, the runtime `dlclose`s
 * librdkafka while tearing down after an uncaught error, under its running
 * threads (SIGSEGV, the error never printed) unless the library is pinned
 * (`NativeRuntime.pin`). Runs the fixture on the runtime running this file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";

const fixture = new URL("./fixtures/uncaught_with_live_clients.ts", import.meta.url).pathname;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const args = runtime === "deno" ? ["run", "-A", fixture] : runtime === "bun" ? [fixture] : ["--import", "tsx", fixture];

test(`an uncaught error with live clients ends ${runtime} with status 1 and the error printed, not a crash`, { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
  assert.equal(signal, null, `killed by ${signal}`);
  assert.equal(code, 1, `exit status ${code}\n${stderr.slice(-2000)}`);
  assert.match(stderr, /an uncaught error with live clients/);
});
