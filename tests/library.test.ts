/**
 * Finding librdkafka for the FFI driver: an explicit path (option or
 * `KSHARE_LIBRDKAFKA`) is the only candidate, the default search starts with
 * the Confluent package's dynamic build and ends with the system's names, and
 * a failure lists what was tried and how to get a librdkafka; a librdkafka
 * older than kshare needs is refused for its version (stand-ins compiled from
 * tests/fixtures/librdkafka_stand_in.c with `cc`); Deno without `--allow-ffi`
 * gets one line saying so (a `deno` child process, on every runtime). Runs on
 * the three runtimes (Node through koffi):
 *
 *   npx deno test -A tests/library.test.ts
 *   npx bun test tests/library.test.ts
 *   node --import tsx --test tests/library.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ffiDriver } from "../src/drivers/ffi/driver.ts";
import {
  LIBRARY_ENV,
  librdkafkaCandidates,
  loadLibrdkafka,
  MIN_LIBRDKAFKA_VERSION,
  MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER,
} from "../src/drivers/ffi/library.ts";
import { nativeRuntime } from "../src/drivers/ffi/_native.ts";
import { denoBinary, withEnv } from "./_helpers.ts";

const PACKAGE_DEPS = "node_modules/@confluentinc/kafka-javascript/build/deps";
const PACKAGE_BUILD = `${PACKAGE_DEPS}/librdkafka.so.1`;
const root = fileURLToPath(new URL("..", import.meta.url));
const STAND_IN_SOURCE = fileURLToPath(new URL("./fixtures/librdkafka_stand_in.c", import.meta.url));
const LOAD_FIXTURE = fileURLToPath(new URL("./fixtures/load_librdkafka.ts", import.meta.url));

/** The advice closing every load error, for a library of at least `minimum`. */
const GET_ONE = (minimum: string) =>
  `Get librdkafka ${minimum} or newer: build the Confluent package from source with a shared librdkafka, ` +
  "`CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript npm install @confluentinc/kafka-javascript` " +
  `(its prebuilt binary links librdkafka statically; this builds ${PACKAGE_BUILD}, or librdkafka.dylib on macOS, which kshare finds), ` +
  `or install a system package of ${minimum} or newer (macOS: brew install librdkafka; Debian 12's librdkafka1 is 2.0.2, too old), ` +
  `or set ${LIBRARY_ENV} to the path of one.`;

const FFI_DENIED = "kshare needs FFI access on Deno to load librdkafka: run with --allow-ffi (and --allow-env --allow-read for library discovery), or -A";

/** The lines of a load error's "Tried:" list. */
function tried(error: Error): string[] {
  return error.message.split("\n").filter((line) => line.startsWith("  "));
}

/** The error `promise` rejects with; fails the test if it resolves. */
function rejection(promise: Promise<unknown>, what: string): Promise<Error> {
  return promise.then(
    () => assert.fail(what),
    (error: Error) => error,
  );
}

/** rd_kafka_version()'s integer for a release "M.m.r": 0xMMmmrrff. */
function versionNumber(version: string): number {
  const [major, minor, revision] = version.split(".").map(Number);
  return ((major! << 24) | (minor! << 16) | (revision! << 8) | 0xff) >>> 0;
}

/**
 * Build the stand-in librdkafka reporting `version` (default: Debian 12's
 * 2.0.2) at `<dir>/<PACKAGE_DEPS>/librdkafka.so.1` in a new temporary `dir`,
 * run `fn` with both, and remove the directory (a loaded copy stays mapped).
 */
async function withStandIn<T>(
  version: string | undefined,
  fn: (path: string, dir: string) => T | Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "kshare-librdkafka-"));
  try {
    mkdirSync(join(dir, PACKAGE_DEPS), { recursive: true });
    const path = join(dir, PACKAGE_BUILD);
    const defines = version === undefined ? [] : [`-DVERSION=0x${versionNumber(version).toString(16)}`, `-DVERSION_STR="${version}"`];
    execFileSync("cc", ["-shared", "-fPIC", ...defines, "-o", path, STAND_IN_SOURCE], { stdio: "pipe" });
    return await fn(path, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Run tests/fixtures/load_librdkafka.ts under `deno run` with `permissions`,
 * in `cwd`, without `$KSHARE_LIBRDKAFKA`: what each load attempt printed.
 */
function denoLoad(
  deno: string,
  permissions: string[],
  libraries: string[],
  cwd = root,
): ({ error: string } | { version: string; path: string })[] {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env[LIBRARY_ENV];
  const run = spawnSync(deno, ["run", ...permissions, LOAD_FIXTURE, ...libraries], { cwd, env, encoding: "utf8" });
  assert.equal(run.status, 0, `deno run failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout.trim().split("\n").map((line) => JSON.parse(line));
}

/** Run `fn` with `$KSHARE_LIBRDKAFKA` set to `value`, restoring it afterwards. */
test("the default search starts with the package's dynamic build here and ends with the system's names", async () => {
  const candidates = librdkafkaCandidates(await nativeRuntime());
  assert.equal(candidates[0], `${process.cwd()}/${PACKAGE_BUILD}`);
  assert.deepEqual(candidates.slice(-2), ["librdkafka.so.1", "librdkafka.dylib"]);
  assert.ok(candidates.includes(`/${PACKAGE_BUILD}`), "every parent directory up to the root is searched");
  assert.equal(new Set(candidates).size, candidates.length, "no path twice");

  const rdkafka = await withEnv(LIBRARY_ENV, "", () => loadLibrdkafka()); // empty counts as unset
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
  assert.equal(
    error.message.split("\n")[0],
    "kshare could not load librdkafka (the FFI driver and the embedded broker need its shared library). " +
      "Tried the library named by the library option:",
  );
  assert.deepEqual(tried(error).map((line) => line.trim().split(": ")[0]), [missing], "only the named path was tried");
  assert.equal(error.message.split("\n").at(-1), GET_ONE(MIN_LIBRDKAFKA_VERSION));
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
  const error = await withEnv(LIBRARY_ENV, missing, () =>
    loadLibrdkafka().then(
      () => assert.fail(`ignored ${LIBRARY_ENV}`),
      (error: Error) => error,
    ));
  assert.deepEqual(tried(error).map((line) => line.trim().split(": ")[0]), [missing]);
  assert.match(error.message.split("\n")[0]!, new RegExp(`Tried the library named by ${LIBRARY_ENV}:$`));
  // And the option wins over the variable.
  const path = `${process.cwd()}/${PACKAGE_BUILD}`;
  const loaded = await withEnv(LIBRARY_ENV, missing, () => loadLibrdkafka({ library: path }));
  assert.equal(loaded.path, path);
});

test(`a librdkafka older than ${MIN_LIBRDKAFKA_VERSION} is refused for its version, named by the option or ${LIBRARY_ENV}`, async () => {
  await withStandIn(undefined, async (path) => {
    const reason = `  ${path}: librdkafka 2.0.2 is too old: kshare needs ${MIN_LIBRDKAFKA_VERSION} or newer`;
    for (
      const [how, load] of [
        ["the library option", () => loadLibrdkafka({ library: path })],
        [LIBRARY_ENV, () => withEnv(LIBRARY_ENV, path, () => loadLibrdkafka())],
        ["the library option", () => ffiDriver({ library: path })],
      ] as const
    ) {
      const error = await rejection(load(), `loaded the 2.0.2 stand-in named by ${how}`);
      assert.deepEqual(error.message.split("\n"), [
        "kshare could not load librdkafka (the FFI driver and the embedded broker need its shared library). " +
        `Tried the library named by ${how}:`,
        reason,
        GET_ONE(MIN_LIBRDKAFKA_VERSION),
      ]);
    }
  });
});

test(`a librdkafka of ${MIN_LIBRDKAFKA_VERSION} loads, and one lacking part of the client API fails the FFI driver saying so`, async () => {
  await withStandIn(MIN_LIBRDKAFKA_VERSION, async (path) => {
    const rdkafka = await loadLibrdkafka({ library: path });
    assert.equal(rdkafka.version, MIN_LIBRDKAFKA_VERSION, "the minimum itself is new enough");
    const error = await rejection(ffiDriver({ library: path }), "made a driver over a library without the client API");
    const [first, advice] = error.message.split("\n");
    assert.ok(
      first!.startsWith(
        `librdkafka ${MIN_LIBRDKAFKA_VERSION} at ${path} lacks part of the client API kshare uses, ` +
          `which every librdkafka ${MIN_LIBRDKAFKA_VERSION} or newer has (a build with parts left out?): `,
      ),
      error.message,
    );
    assert.match(first!, /rd_kafka_\w+/, "the loader's reason names the missing symbol");
    assert.equal(advice, GET_ONE(MIN_LIBRDKAFKA_VERSION));

    // The embedded broker's mock cluster API needs a newer one, refused for its version before any symbol.
    const mock = (() => {
      try {
        rdkafka.mock();
      } catch (error) {
        return error as Error;
      }
      return assert.fail("bound the mock API of a library older than the embedded broker needs");
    })();
    assert.deepEqual(mock.message.split("\n"), [
      `librdkafka ${MIN_LIBRDKAFKA_VERSION} at ${path} is too old: ` +
      `kshare's embedded broker needs ${MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER} or newer`,
      GET_ONE(MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER),
    ]);
  });
});

test("a librdkafka new enough for the embedded broker but without the mock API fails saying so", async () => {
  await withStandIn(MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER, async (path) => {
    const rdkafka = await loadLibrdkafka({ library: path });
    assert.throws(() => rdkafka.mock(), (error: Error) => {
      assert.ok(
        error.message.startsWith(
          `librdkafka ${MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER} at ${path} lacks the mock cluster API ` +
            `kshare's embedded broker uses (rdkafka_mock.h), which every librdkafka ` +
            `${MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER} or newer has`,
        ),
        error.message,
      );
      return true;
    });
  });
});

const deno = denoBinary();

test("Deno without --allow-ffi, or with it for some paths only: one line naming the flag, whatever is searched", {
  skip: deno === undefined ? "no deno binary (node_modules/.bin/deno)" : false,
}, () => {
  const libraries = ["", join(root, PACKAGE_BUILD)]; // the default search, a named library
  assert.deepEqual(denoLoad(deno!, ["--allow-read", "--allow-env"], libraries), [
    { error: FFI_DENIED },
    { error: FFI_DENIED },
  ]);
  // A grant for the library's directory lets Deno open it but not read C memory, which kshare must.
  const dir = join(root, PACKAGE_DEPS);
  assert.deepEqual(denoLoad(deno!, ["--allow-read", "--allow-env", `--allow-ffi=${dir}`], libraries), [
    { error: FFI_DENIED },
    { error: FFI_DENIED },
  ]);
});

test("Deno with --allow-ffi alone loads librdkafka; and the search passes over a too-old one", {
  skip: deno === undefined ? "no deno binary (node_modules/.bin/deno)" : false,
}, async () => {
  const packageBuild = join(root, PACKAGE_BUILD);
  const [alone] = denoLoad(deno!, ["--allow-ffi"], [""]);
  assert.equal(alone && "path" in alone && alone.path, packageBuild, JSON.stringify(alone));
  await withStandIn(undefined, (standIn, dir) => {
    // In `dir`, the search starts with the 2.0.2 stand-in there (see the first test).
    const [result] = denoLoad(deno!, ["--allow-ffi", "--allow-read", "--allow-env"], [""], dir);
    assert.ok(result && "path" in result, JSON.stringify(result));
    assert.notEqual(result.path, standIn);
    assert.equal(result.path, packageBuild, "the next library found, beside kshare");
  });
});
