/**
 * Finding and loading librdkafka for the FFI layer, on Deno, Bun and Node.
 *
 * Lifetime: a loaded librdkafka stays loaded for the rest of the process and
 * is shared by every client and embedded broker that asks for the same path
 * (one `dlopen` per path and symbol table, cached here). It is never
 * `dlclose`d: librdkafka, its TLS and OpenSSL are not built to be unloaded,
 * and a loaded library holds no event-loop resource, so a process (or a
 * `deno test` run) still exits when its clients are closed. Nor can the
 * runtime unload it: Deno `dlclose`s what it opened when it tears down (after
 * an uncaught error, at the end of a test module), and clients left open
 * would crash in unmapped code, so each library is pinned
 * (`RTLD_NODELETE`, see `NativeRuntime.pin`). The one exception is a library
 * refused for its version: it is opened with two symbols only, no client ever
 * ran on it, and it is closed at once.
 *
 * @module
 */
import { nativeRuntime } from "./_native.ts";
import type { NativeLibrary, NativeRuntime, NativeSymbols, SymbolTable } from "./_native_types.ts";
import { CLIENT_SYMBOLS, CORE_SYMBOLS, MOCK_SYMBOLS, NONBLOCKING_SYMBOLS, VERSION_SYMBOLS } from "./_symbols.ts";

/** Where to load librdkafka from. */
export interface LibrdkafkaOptions {
  /**
   * Path of the librdkafka shared library. When set (here or in the
   * `KSHARE_LIBRDKAFKA` environment variable) only that library is tried.
   */
  readonly library?: string;
}

/** A loaded librdkafka, shared process-wide. */
export interface Librdkafka {
  /** The path it was loaded from, as given to `dlopen`. */
  readonly path: string;
  /** librdkafka's version string, e.g. `2.15.0`. */
  readonly version: string;
  /** The runtime's FFI. */
  readonly native: NativeRuntime;
  /** The core API ({@link CORE_SYMBOLS}). */
  readonly symbols: NativeSymbols<typeof CORE_SYMBOLS>;
  /**
   * The mock cluster API, bound on first use. Throws if the library is older
   * than {@link MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER} or lacks part of it.
   */
  mock(): NativeSymbols<typeof MOCK_SYMBOLS>;
  /** The client API of the FFI driver, bound on first use. Throws if this build lacks part of it. */
  client(): NativeSymbols<typeof CLIENT_SYMBOLS>;
  /**
   * Blocking calls bound to run on a worker thread, bound on first use;
   * `undefined` where the runtime cannot (`native.capabilities.nonblockingCalls`).
   */
  nonblocking(): NativeSymbols<typeof NONBLOCKING_SYMBOLS> | undefined;
  /** librdkafka's text for an error code (`rd_kafka_err2str`). */
  errorText(code: number): string;
}

/** Environment variable naming the librdkafka shared library to load. */
export const LIBRARY_ENV = "KSHARE_LIBRDKAFKA";

/**
 * The oldest librdkafka kshare loads: the first release with every function
 * of the core and client API it calls (`rd_kafka_DescribeTopics`,
 * `rd_kafka_TopicCollection_*` and `rd_kafka_ListOffsets` came in 2.3.0).
 * {@link loadLibrdkafka} refuses an older one for its version, before binding
 * any of that API.
 *
 * @example
 * ```ts
 * import { loadLibrdkafka, MIN_LIBRDKAFKA_VERSION } from "./src/drivers/ffi/library.ts";
 * const rdkafka = await loadLibrdkafka();
 * console.log(`librdkafka ${rdkafka.version} (kshare needs ${MIN_LIBRDKAFKA_VERSION} or newer)`);
 * ```
 */
export const MIN_LIBRDKAFKA_VERSION = "2.3.0";

/**
 * The oldest librdkafka the embedded broker runs on: the first release with
 * every mock cluster function it calls (`rd_kafka_mock_set_controller_id`
 * came in 2.15.1). `Librdkafka.mock()` refuses an older one for its version.
 *
 * @example
 * ```ts
 * import { loadLibrdkafka, MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER } from "./src/drivers/ffi/library.ts";
 * const rdkafka = await loadLibrdkafka();
 * console.log(`the embedded broker needs librdkafka ${MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER}; this is ${rdkafka.version}`);
 * ```
 */
export const MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER = "2.15.1";

const PACKAGE_DEPS = "node_modules/@confluentinc/kafka-javascript/build/deps";
const LIBRARY_NAMES = ["librdkafka.so.1", "librdkafka.dylib"];

const loaded = new Map<string, Librdkafka>();
let discovered: Promise<Librdkafka> | undefined;

/**
 * Load librdkafka, once per process and path.
 *
 * Search order: `options.library`, else `$KSHARE_LIBRDKAFKA` (an explicit
 * choice is the only candidate: falling back to another librdkafka would hide
 * a mistake), else the Confluent package's dynamic build
 * (`node_modules/@confluentinc/kafka-javascript/build/deps/librdkafka.so.1`)
 * in the current directory and each parent, then beside kshare itself, then
 * the system's `librdkafka.so.1` / `librdkafka.dylib`.
 *
 * A library older than {@link MIN_LIBRDKAFKA_VERSION} is refused for its
 * version; the search goes on to the next path. On Deno without
 * `--allow-ffi`, nothing is tried; without `--allow-env`,
 * `$KSHARE_LIBRDKAFKA` cannot be read and counts as unset.
 *
 * @throws Error listing every path tried and why it failed (not found, not a
 *   library, too old, …), and how to get a librdkafka; or, on Deno without
 *   FFI access, a one-line Error saying which flags to run with.
 *
 * @example
 * ```ts
 * import { loadLibrdkafka } from "./src/drivers/ffi/library.ts";
 * const rdkafka = await loadLibrdkafka();
 * console.log(rdkafka.version, rdkafka.path);
 * ```
 */
export async function loadLibrdkafka(options: LibrdkafkaOptions = {}): Promise<Librdkafka> {
  const native = await nativeRuntime();
  const explicit = options.library ?? native.env(LIBRARY_ENV);
  if (explicit !== undefined && explicit !== "") {
    const namedBy = options.library !== undefined ? "the library option" : LIBRARY_ENV;
    return openFirst(native, [explicit], `the library named by ${namedBy}`);
  }
  discovered ??= Promise.resolve().then(() => openFirst(native, librdkafkaCandidates(native)));
  // A failed search is not cached: the caller may install a library and retry.
  return discovered.catch((error) => {
    discovered = undefined;
    throw error;
  });
}

/**
 * The paths {@link loadLibrdkafka} tries when no library is named, in order.
 *
 * @example
 * ```ts
 * import { nativeRuntime } from "./src/drivers/ffi/_native.ts";
 * import { librdkafkaCandidates } from "./src/drivers/ffi/library.ts";
 * console.log(librdkafkaCandidates(await nativeRuntime()));
 * ```
 */
export function librdkafkaCandidates(native: NativeRuntime): string[] {
  const candidates: string[] = [];
  let dir: string | undefined;
  try {
    dir = native.cwd();
  } catch {
    dir = undefined; // no read permission (Deno): skip the package search
  }
  while (dir !== undefined) {
    for (const name of LIBRARY_NAMES) candidates.push(`${dir === "/" ? "" : dir}/${PACKAGE_DEPS}/${name}`);
    const parent = dir.replace(/\/[^/]*$/, "") || "/";
    dir = parent === dir ? undefined : parent;
  }
  // The package installed beside kshare (this file is src/drivers/ffi/library.ts).
  const here = new URL("../../../", import.meta.url);
  if (here.protocol === "file:") {
    for (const name of LIBRARY_NAMES) {
      const path = decodeURIComponent(new URL(`${PACKAGE_DEPS}/${name}`, here).pathname);
      if (!candidates.includes(path)) candidates.push(path);
    }
  }
  // Bare names: the dynamic linker searches the system's library paths.
  candidates.push(...LIBRARY_NAMES);
  return candidates;
}

/**
 * Load the first of `candidates` that opens as a librdkafka of at least
 * {@link MIN_LIBRDKAFKA_VERSION}. `what` names the candidates when they are
 * not the default search.
 */
function openFirst(native: NativeRuntime, candidates: readonly string[], what = ""): Librdkafka {
  // Without FFI access every candidate would fail with the same permission error: say it once.
  if (native.ffiAllowed?.() === false) {
    throw new Error(
      `kshare needs FFI access on Deno to load librdkafka: run with --allow-ffi ` +
        `(and --allow-env --allow-read for library discovery), or -A`,
    );
  }
  const failures: string[] = [];
  for (const path of candidates) {
    const cached = loaded.get(path);
    if (cached) return cached;
    let probe: NativeLibrary<typeof VERSION_SYMBOLS>;
    try {
      probe = native.open(path, VERSION_SYMBOLS);
    } catch (error) {
      failures.push(`  ${path}: ${firstLine(error)}`);
      continue;
    }
    // rd_kafka_version_str returns a static string: read (copied), never freed.
    const version = native.readCString(probe.symbols.rd_kafka_version_str()) ?? "unknown";
    const versionNumber = probe.symbols.rd_kafka_version();
    if (olderThan(versionNumber, MIN_LIBRDKAFKA_VERSION)) {
      probe.close(); // no client ran on it (see the module's note on lifetime)
      failures.push(`  ${path}: ${tooOld(version, MIN_LIBRDKAFKA_VERSION)}`);
      continue;
    }
    let lib: NativeLibrary<typeof CORE_SYMBOLS>;
    try {
      lib = native.open(path, CORE_SYMBOLS);
    } catch (error) {
      probe.close();
      failures.push(`  ${path}: librdkafka ${version} lacks part of the core API kshare uses: ${firstLine(error)}`);
      continue;
    }
    native.pin?.(path); // never unloaded while its threads may run (see NativeRuntime.pin)
    // The probe's handle is released only now: with `lib` open, the library stays mapped.
    probe.close();
    const rdkafka = wrap(native, lib, version, versionNumber);
    loaded.set(path, rdkafka);
    return rdkafka;
  }
  throw new Error(
    `kshare could not load librdkafka (the FFI driver and the embedded broker need its shared library). ` +
      `Tried${what === "" ? "" : ` ${what}`}:\n` +
      `${failures.join("\n")}\n${howToGet(MIN_LIBRDKAFKA_VERSION)}`,
  );
}

/** `rd_kafka_version()`'s 0xMMmmrrpp is older than `minimum` ("M.m.r"); the pre-release byte is not compared. */
function olderThan(version: number, minimum: string): boolean {
  const [major = 0, minor = 0, revision = 0] = minimum.split(".").map(Number);
  return version >>> 8 < ((major << 16) | (minor << 8) | revision);
}

/** Why a library is refused for its version; `at` names it where no list of paths does. */
function tooOld(version: string, minimum: string, user = "kshare", at = ""): string {
  return `librdkafka ${version}${at === "" ? "" : ` at ${at}`} is too old: ${user} needs ${minimum} or newer`;
}

/** How to get a librdkafka of at least `minimum`: the advice closing every load error. */
function howToGet(minimum: string): string {
  return `Get librdkafka ${minimum} or newer: build the Confluent package from source with a shared librdkafka, ` +
    "`CKJS_LINKING=dynamic npm_config_build_from_source=@confluentinc/kafka-javascript npm install @confluentinc/kafka-javascript` " +
    `(its prebuilt binary links librdkafka statically; this builds ${PACKAGE_DEPS}/librdkafka.so.1, ` +
    `or librdkafka.dylib on macOS, which kshare finds), ` +
    `or install a system package of ${minimum} or newer (macOS: brew install librdkafka; ` +
    `Debian 12's librdkafka1 is 2.0.2, too old), ` +
    `or set ${LIBRARY_ENV} to the path of one.`;
}

function wrap(
  native: NativeRuntime,
  lib: NativeLibrary<typeof CORE_SYMBOLS>,
  version: string,
  versionNumber: number,
): Librdkafka {
  const rd = lib.symbols;
  const tables = new Map<SymbolTable, unknown>();
  // Bind another table of the same file once; a second dlopen of a loaded
  // file shares its mapping (the loader refcounts it).
  const bind = <T extends SymbolTable>(table: T, what: string, minimum: string): NativeSymbols<T> => {
    let symbols = tables.get(table) as NativeSymbols<T> | undefined;
    if (symbols) return symbols;
    try {
      symbols = native.open(lib.path, table).symbols;
    } catch (error) {
      throw new Error(
        `librdkafka ${version} at ${lib.path} lacks ${what}, which every librdkafka ${minimum} or newer has ` +
          `(a build with parts left out?): ${firstLine(error)}\n${howToGet(minimum)}`,
      );
    }
    tables.set(table, symbols);
    return symbols;
  };
  const client = "part of the client API kshare uses";
  return {
    path: lib.path,
    version,
    native,
    symbols: rd,
    mock() {
      const minimum = MIN_LIBRDKAFKA_VERSION_EMBEDDED_BROKER;
      if (olderThan(versionNumber, minimum)) {
        throw new Error(
          `${tooOld(version, minimum, "kshare's embedded broker", lib.path)}\n${howToGet(minimum)}`,
        );
      }
      return bind(MOCK_SYMBOLS, "the mock cluster API kshare's embedded broker uses (rdkafka_mock.h)", minimum);
    },
    client: () => bind(CLIENT_SYMBOLS, client, MIN_LIBRDKAFKA_VERSION),
    nonblocking: () => native.capabilities.nonblockingCalls ? bind(NONBLOCKING_SYMBOLS, client, MIN_LIBRDKAFKA_VERSION) : undefined,
    // rd_kafka_err2str returns a static string: read, never freed.
    errorText: (code) => native.readCString(rd.rd_kafka_err2str(code)) ?? `error ${code}`,
  };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}
