// kshare as an edge runtime (Cloudflare Workers, Vercel Edge) gets it: the
// whole public API of @kshare/kshare and @kshare/kshare/hono bundled by
// esbuild into one minified file for a browser-like platform, as wrangler
// bundles a Worker. The bundle must hold no native driver, and evaluating it
// must draw no random value, set no timer and start no I/O, which Workers
// refuse at a module's top level; afterwards the same calls are allowed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { kshareExports, root, WORKER_TARGET } from "./_bundle.ts";

after(() => esbuild.stop());

/**
 * gzip size of the minified bundle, at most. The whole public API of both
 * entry points was 38 KB before the REST Proxy driver and the seed library's
 * features (forget, header filters, defaults), 45 KB with them (Hono 24 KB,
 * valibot and @valibot/to-json-schema 26 KB, @noble/hashes 8 KB of the
 * minified code), 50.1 KB (esbuild on Node; 50.6 KB on Deno) with tracing,
 * transactions and the gateway's fairness bounds; a Worker that imports what
 * it uses bundles less. The budget leaves room for growth, not for a native
 * driver or a new dependency.
 */
const GZIP_BUDGET_BYTES = 55_000;

/** What a Worker importing everything of kshare and kshare/hono bundles: nothing can be tree-shaken away. */
function bundle(format: "esm" | "iife"): Promise<esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] }> {
  return esbuild.build({
    stdin: {
      contents: 'export * as kshare from "@kshare/kshare";\nexport * as hono from "@kshare/kshare/hono";\n',
      resolveDir: fileURLToPath(root),
      loader: "ts",
    },
    bundle: true,
    write: false,
    minify: true,
    format,
    ...WORKER_TARGET,
    conditions: [...WORKER_TARGET.conditions],
    logLevel: "silent",
    plugins: [kshareExports],
    // The script form evaluated below has no import.meta.
    ...(format === "iife" ? { globalName: "edge", define: { "import.meta.url": '"https://edge.invalid/worker.js"' } } : {}),
  });
}

/**
 * The one warning expected: the native drivers' import, which no bundler
 * follows by design (`src/_default_driver.ts`), is a glob that matches no file.
 */
function unexpected(warnings: readonly esbuild.Message[]): string[] {
  return warnings
    .filter((w) => !(w.id === "empty-glob" && w.location?.file.endsWith("src/_default_driver.ts")))
    .map((w) => `${w.location?.file}:${w.location?.line}: ${w.text}`);
}

test("bundled for an edge runtime, kshare and kshare/hono hold no native driver and stay under the size budget", async () => {
  const result = await bundle("esm");
  assert.deepEqual(result.errors, []);
  assert.deepEqual(unexpected(result.warnings), []);
  const code = result.outputFiles[0]!.text;
  for (const native of ["node:", "bun:", "Deno.", "dlopen(", "koffi", "kafka-javascript", "createRequire"]) {
    assert.ok(!code.includes(native), `the bundle holds ${JSON.stringify(native)}`);
  }
  const gzipped = gzipSync(code).length;
  assert.ok(gzipped <= GZIP_BUDGET_BYTES, `${gzipped} bytes gzipped, over the budget of ${GZIP_BUDGET_BYTES}`);
});

test("evaluating the bundle draws no random value, sets no timer and fetches nothing; calls made afterwards may", async () => {
  const result = await bundle("iife");
  assert.deepEqual(result.errors, []);
  // Like workerd: these throw while the module's top level runs, and work once it has.
  let evaluating = true;
  const used: string[] = [];
  const guarded = <A extends unknown[], R>(name: string, allowed: (...args: A) => R) => (...args: A): R => {
    if (evaluating) throw new Error(`${name} called at the module's top level`);
    used.push(name);
    return allowed(...args);
  };
  const host = globalThis;
  const context = vm.createContext({
    // A Worker's web APIs; no process, Deno or Bun.
    console,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    Headers,
    Request,
    Response,
    ReadableStream,
    WritableStream,
    TransformStream,
    AbortController,
    AbortSignal,
    Blob,
    FormData,
    Event,
    EventTarget,
    atob,
    btoa,
    structuredClone,
    queueMicrotask,
    crypto: {
      subtle: host.crypto.subtle,
      // The array is of the context's realm: filled from the host's, not passed to it.
      getRandomValues: guarded("crypto.getRandomValues", (array: Uint8Array) => {
        array.set(host.crypto.getRandomValues(new Uint8Array(array.length)));
        return array;
      }),
      randomUUID: guarded("crypto.randomUUID", () => host.crypto.randomUUID()),
    },
    setTimeout: guarded("setTimeout", host.setTimeout),
    setInterval: guarded("setInterval", host.setInterval),
    clearTimeout,
    clearInterval,
    fetch: guarded("fetch", host.fetch),
  });
  assert.equal(vm.runInContext("typeof process + typeof Deno + typeof Bun", context), "undefinedundefinedundefined");

  vm.runInContext(result.outputFiles[0]!.text, context);
  evaluating = false;
  assert.deepEqual(used, []);
  const { kshare, hono } = (context as { edge: { kshare: typeof import("../mod.ts"); hono: typeof import("../hono.ts") } }).edge;

  // A verifier is built at a Worker's top level (hono.ts's example does): its key is drawn at its first check.
  const verify = hono.verifyUsers([{ username: "alice", password: "s3cret" }]);
  assert.deepEqual(used, []);
  assert.equal(verify("alice", "s3cret"), true);
  assert.equal(verify("alice", "s3cret!"), false);
  assert.deepEqual(used, ["crypto.getRandomValues"]);

  // The key for secrets in fingerprints is drawn by the first fingerprint of a secret.
  const sasl = { mechanism: "PLAIN", username: "alice", password: "s3cret" } as const;
  const first = kshare.resolveSecurityContext({ bootstrapServers: "broker:9093", sasl });
  assert.equal(kshare.resolveSecurityContext({ bootstrapServers: "broker:9093", sasl: { ...sasl } }).fingerprint, first.fingerprint);
  assert.deepEqual(used, ["crypto.getRandomValues", "crypto.getRandomValues"]);

  // Without Deno, Bun or Node there is no default driver: connecting says which to pass, the default registry included.
  const noDriver = (error: unknown) => {
    assert.match((error as Error).message, /pass `driver: restProxyDriver\(\{\.\.\.\}\)` to createRegistry/);
    return true;
  };
  const ctx = { bootstrapServers: "broker:9092" };
  const kafka = kshare.createRegistry();
  await assert.rejects(kafka.producer(ctx), noDriver);
  await assert.rejects(kafka.consumer(ctx, "billing").start(), noDriver);
  assert.equal(kshare.registry.closed, false);
  await assert.rejects(kshare.registry.producer(ctx), noDriver);
  assert.equal(kshare.registry.stats().driver, null);
  await kshare.registry.close();
  assert.equal(kshare.registry.closed, true);
  await assert.rejects(kshare.registry.producer(ctx), (error: unknown) => (error as Error).name === "ClosedError");
});

test("bundled for a server runtime, the default driver is not in the bundle and connecting says to pass one from kshare/drivers; passed, it publishes", async () => {
  const { startEmbeddedBroker } = await import("../testing.ts");
  const { kcatRead } = await import("./_helpers.ts");
  const { mkdir, writeFile, rm } = await import("node:fs/promises");
  await using broker = await startEmbeddedBroker({ brokers: 1 });
  broker.createTopic("bundled", 1);
  const result = await esbuild.build({
    stdin: {
      contents: [
        'import * as v from "valibot";',
        'import { createRegistry, defineTopic } from "@kshare/kshare";',
        'import { confluentDriver, ffiDriver } from "@kshare/kshare/drivers";',
        'export const topic = defineTopic({ name: "bundled", schema: v.object({ n: v.number() }) });',
        "export const withoutDriver = createRegistry();",
        'const node = !("Deno" in globalThis) && !("Bun" in globalThis);',
        "export const withDriver = createRegistry({ driver: node ? confluentDriver : () => ffiDriver() });",
      ].join("\n"),
      resolveDir: fileURLToPath(root),
      loader: "ts",
    },
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    // Packages stay imports, as in a server bundle that keeps node_modules; kshare itself is bundled.
    packages: "external",
    logLevel: "silent",
    plugins: [kshareExports],
  });
  assert.deepEqual(result.errors, []);
  // Inside the checkout's node_modules, so that the bundle finds the packages it imports (and the driver its addon).
  const dir = new URL("node_modules/.cache/kshare-edge-bundle-test/", root);
  await mkdir(dir, { recursive: true });
  const file = new URL(`server-${Date.now()}-${Math.random().toString(36).slice(2)}.mjs`, dir);
  await writeFile(file, result.outputFiles[0]!.text);
  try {
    const app = await import(file.href) as {
      topic: import("../mod.ts").Topic<import("valibot").GenericSchema<{ n: number }>>;
      withoutDriver: import("../mod.ts").Registry;
      withDriver: import("../mod.ts").Registry;
    };
    const ctx = { bootstrapServers: broker.bootstrapServers };
    await assert.rejects(app.withoutDriver.producer(ctx), (error: Error) => {
      assert.match(error.message, /pass `driver: confluentDriver` or `driver: ffiDriver` from @kshare\/kshare\/drivers/);
      return true;
    });
    await app.withoutDriver.close();
    const producer = await app.withDriver.producer(ctx);
    const report = await producer.publish(app.topic, { n: 7 });
    await app.withDriver.close();
    const records = await kcatRead(broker.bootstrapServers, "bundled");
    assert.deepEqual(records.map((r) => [r.offset, r.payload]), [[report.offset, '{"n":7}']]);
  } finally {
    await rm(file, { force: true });
  }
});
