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
 * (`RTLD_NODELETE`, see `NativeRuntime.pin`).
 *
 * @module
 */
import { type NativeLibrary, type NativeRuntime, type NativeSymbols, nativeRuntime, type SymbolTable } from "./_native.ts";
import { CLIENT_SYMBOLS, CORE_SYMBOLS, MOCK_SYMBOLS, NONBLOCKING_SYMBOLS } from "./_symbols.ts";

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
  /** The mock cluster API, bound on first use. Throws if this build lacks it. */
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
 * @throws Error listing every path tried and why it failed, and how to get a librdkafka.
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
  if (explicit !== undefined && explicit !== "") return openFirst(native, [explicit]);
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

function openFirst(native: NativeRuntime, candidates: readonly string[]): Librdkafka {
  const failures: string[] = [];
  for (const path of candidates) {
    const cached = loaded.get(path);
    if (cached) return cached;
    let lib: NativeLibrary<typeof CORE_SYMBOLS>;
    try {
      lib = native.open(path, CORE_SYMBOLS);
    } catch (error) {
      failures.push(`  ${path}: ${firstLine(error)}`);
      continue;
    }
    native.pin?.(path); // never unloaded while its threads may run (see NativeRuntime.pin)
    const rdkafka = wrap(native, lib);
    loaded.set(path, rdkafka);
    return rdkafka;
  }
  throw new Error(
    `kshare could not load librdkafka (the FFI driver and the embedded broker need its shared library). Tried:\n` +
      `${failures.join("\n")}\n` +
      `Get one with \`CKJS_LINKING=dynamic npm install @confluentinc/kafka-javascript\` ` +
      `(builds ${PACKAGE_DEPS}/librdkafka.so.1), or install the OS package ` +
      `(Debian/Ubuntu: librdkafka1; macOS: brew install librdkafka), ` +
      `or set ${LIBRARY_ENV} to the library's path.`,
  );
}

function wrap(native: NativeRuntime, lib: NativeLibrary<typeof CORE_SYMBOLS>): Librdkafka {
  const rd = lib.symbols;
  // rd_kafka_version_str returns a static string: read, never freed.
  const version = native.readCString(rd.rd_kafka_version_str()) ?? "unknown";
  const tables = new Map<SymbolTable, unknown>();
  // Bind another table of the same file once; a second dlopen of a loaded
  // file shares its mapping (the loader refcounts it).
  const bind = <T extends SymbolTable>(table: T, what: string): NativeSymbols<T> => {
    let symbols = tables.get(table) as NativeSymbols<T> | undefined;
    if (symbols) return symbols;
    try {
      symbols = native.open(lib.path, table).symbols;
    } catch (error) {
      throw new Error(
        `librdkafka ${version} at ${lib.path} lacks ${what} (the Confluent package's build has it): ${firstLine(error)}`,
      );
    }
    tables.set(table, symbols);
    return symbols;
  };
  return {
    path: lib.path,
    version,
    native,
    symbols: rd,
    mock: () => bind(MOCK_SYMBOLS, "the mock cluster API kshare uses (rdkafka_mock.h)"),
    client: () => bind(CLIENT_SYMBOLS, "part of the client API kshare uses"),
    nonblocking: () =>
      native.capabilities.nonblockingCalls ? bind(NONBLOCKING_SYMBOLS, "part of the client API kshare uses") : undefined,
    // rd_kafka_err2str returns a static string: read, never freed.
    errorText: (code) => native.readCString(rd.rd_kafka_err2str(code)) ?? `error ${code}`,
  };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}
