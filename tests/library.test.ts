/**
 * Finding librdkafka for the FFI driver: an explicit path (option or
 * `KSHARE_LIBRDKAFKA`) is the only candidate, the default search starts with
 * the Confluent package's dynamic build and ends with the system's names, and
 * a failure lists what was tried and how to get a librdkafka. Runs on the
 * three runtimes (Node through koffi):
 *
 *   npx deno test -A tests/library.test.ts
 *   npx bun test tests/library.test.ts
 *   node --import tsx --test tests/library.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { existsSync } from "node:fs";
import { ffiDriver } from "../src/drivers/ffi/driver.ts";
import { LIBRARY_ENV, librdkafkaCandidates, loadLibrdkafka } from "../src/drivers/ffi/library.ts";
import { nativeRuntime } from "../src/drivers/ffi/_native.ts";

const PACKAGE_BUILD = "node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1";

/** The lines of a load error's "Tried:" list. */
function tried(error: Error): string[] {
  return error.message.split("\n").filter((line) => line.startsWith("  "));
}

/** Run `fn` with `$KSHARE_LIBRDKAFKA` set to `value`, restoring it afterwards. */
async function withLibraryEnv<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env[LIBRARY_ENV];
  process.env[LIBRARY_ENV] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env[LIBRARY_ENV];
    else process.env[LIBRARY_ENV] = before;
  }
}

test("the default search starts with the package's dynamic build here and ends with the system's names", async () => {
  const candidates = librdkafkaCandidates(await nativeRuntime());
  assert.equal(candidates[0], `${process.cwd()}/${PACKAGE_BUILD}`);
  assert.deepEqual(candidates.slice(-2), ["librdkafka.so.1", "librdkafka.dylib"]);
  assert.ok(candidates.includes(`/${PACKAGE_BUILD}`), "every parent directory up to the root is searched");
  assert.equal(new Set(candidates).size, candidates.length, "no path twice");

  const rdkafka = await withLibraryEnv("", () => loadLibrdkafka()); // empty counts as unset
  assert.equal(rdkafka.path, candidates.find((path) => path.startsWith("/") && existsSync(path)));
  assert.match(rdkafka.version, /^\d+\.\d+\.\d+/);
});

test("an explicit path is the only candidate: loaded when it is a librdkafka, once per process", async () => {
  const path = `${process.cwd()}/${PACKAGE_BUILD}`;
  const first = await loadLibrdkafka({ library: path });
  assert.equal(first.path, path);
  assert.equal(await loadLibrdkafka({ library: path }), first, "the same path shares one loaded library");
});

test("a missing explicit library fails with what was tried and how to get one, without falling back", async () => {
  const missing = "/nonexistent/kshare-test/librdkafka.so.1";
  const error = await ffiDriver({ library: missing }).then(
    () => assert.fail("loaded a library that does not exist"),
    (error: Error) => error,
  );
  assert.match(error.message, /could not load librdkafka/);
  assert.deepEqual(tried(error).map((line) => line.trim().split(": ")[0]), [missing], "only the named path was tried");
  assert.match(error.message, /CKJS_LINKING=dynamic npm install @confluentinc\/kafka-javascript/);
  assert.match(error.message, /librdkafka1/);
  assert.match(error.message, new RegExp(LIBRARY_ENV));
});

test("a file that is not a shared library fails with the loader's reason", async () => {
  const notALibrary = `${process.cwd()}/package.json`;
  const error = await loadLibrdkafka({ library: notALibrary }).then(
    () => assert.fail("loaded package.json as a library"),
    (error: Error) => error,
  );
  const [line] = tried(error);
  assert.ok(line?.trim().startsWith(`${notALibrary}: `), error.message);
  assert.ok(line!.trim().length > notALibrary.length + 2, "the loader's reason follows the path");
});

test(`${LIBRARY_ENV} names the library when no option does`, async () => {
  const missing = "/nonexistent/kshare-env/librdkafka.so.1";
  const error = await withLibraryEnv(missing, () =>
    loadLibrdkafka().then(
      () => assert.fail(`ignored ${LIBRARY_ENV}`),
      (error: Error) => error,
    ));
  assert.deepEqual(tried(error).map((line) => line.trim().split(": ")[0]), [missing]);
  // And the option wins over the variable.
  const path = `${process.cwd()}/${PACKAGE_BUILD}`;
  const loaded = await withLibraryEnv(missing, () => loadLibrdkafka({ library: path }));
  assert.equal(loaded.path, path);
});
