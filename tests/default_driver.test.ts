// The driver a registry takes when given none: the FFI driver on Deno and Bun; on Node the FFI driver (koffi)
// where it loads, else the Confluent client, and KSHARE_DRIVER picking one of them. The node_optional_deps
// test covers Node with neither package installed; the whole suite runs on Node with each driver (npm test).
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { DRIVER_ENV, loadDefaultDriver } from "../src/drivers/default.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** Run `body` with KSHARE_DRIVER set to `value` (or unset), then put it back. */
async function withDriverEnv<T>(value: string | undefined, body: () => Promise<T>): Promise<T> {
  const before = process.env[DRIVER_ENV];
  if (value === undefined) delete process.env[DRIVER_ENV];
  else process.env[DRIVER_ENV] = value;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env[DRIVER_ENV];
    else process.env[DRIVER_ENV] = before;
  }
}

test("without KSHARE_DRIVER: the FFI driver, on Node too where koffi and a librdkafka are installed (as here)", async () => {
  const driver = await withDriverEnv(undefined, loadDefaultDriver);
  assert.equal(driver.name, `ffi-${runtime}`);
});

test("on Node, KSHARE_DRIVER picks the driver; another value is refused, naming the variable and the value", {
  skip: runtime === "node" ? false : "Node only: Deno and Bun have one driver",
}, async () => {
  assert.equal((await withDriverEnv("confluent", loadDefaultDriver)).name, "confluent-node");
  assert.equal((await withDriverEnv("ffi", loadDefaultDriver)).name, "ffi-node");
  await assert.rejects(withDriverEnv("kafkajs", loadDefaultDriver), {
    message: 'KSHARE_DRIVER must be ffi or confluent (or unset: the FFI driver where it loads, else the Confluent client), got "kafkajs"',
  });
});

test("on Deno and Bun, KSHARE_DRIVER changes nothing", { skip: runtime === "node" ? "Deno and Bun only" : false }, async () => {
  assert.equal((await withDriverEnv("confluent", loadDefaultDriver)).name, `ffi-${runtime}`);
});
