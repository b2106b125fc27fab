// The driver a registry takes when given none: the FFI driver on Deno and Bun; on Node the FFI driver (koffi)
// where it loads, else the Confluent client, and KSHARE_DRIVER picking one of them. The node_optional_deps
// test covers Node with neither package installed; the whole suite runs on Node with each driver (npm test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DRIVER_ENV, loadDefaultDriver } from "../src/drivers/default.ts";
import { withEnv } from "./_helpers.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

test("without KSHARE_DRIVER: the FFI driver, on Node too where koffi and a librdkafka are installed (as here)", async () => {
  const driver = await withEnv(DRIVER_ENV, undefined, loadDefaultDriver);
  assert.equal(driver.name, `ffi-${runtime}`);
});

test("on Node, KSHARE_DRIVER picks the driver; another value is refused, naming the variable and the value", {
  skip: runtime === "node" ? false : "Node only: Deno and Bun have one driver",
}, async () => {
  assert.equal((await withEnv(DRIVER_ENV, "confluent", loadDefaultDriver)).name, "confluent-node");
  assert.equal((await withEnv(DRIVER_ENV, "ffi", loadDefaultDriver)).name, "ffi-node");
  await assert.rejects(withEnv(DRIVER_ENV, "kafkajs", loadDefaultDriver), {
    message: 'KSHARE_DRIVER must be ffi or confluent (or unset: the FFI driver where it loads, else the Confluent client), got "kafkajs"',
  });
});

test("on Deno and Bun, KSHARE_DRIVER changes nothing", { skip: runtime === "node" ? "Deno and Bun only" : false }, async () => {
  assert.equal((await withEnv(DRIVER_ENV, "confluent", loadDefaultDriver)).name, `ffi-${runtime}`);
});
