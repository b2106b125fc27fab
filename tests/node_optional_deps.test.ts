/**
 * The Node-only packages stay out of the published package's dependencies,
 * and a Node user who lacks one hears what to install.
 *
 * - `@confluentinc/kafka-javascript` (a NAN addon that builds librdkafka from
 *   source) and `koffi` are loaded with `createRequire()`, which JSR's module
 *   graph does not follow: Deno and Bun users, and users of only
 *   `@kshare/kshare/hono`, must not pull them. Checked on `deno info`'s graph
 *   of each export, which is the graph `deno publish` turns into the
 *   package's dependencies.
 * - Without the package, Node's driver (or the koffi shim) fails with one
 *   sentence naming the `npm install` to run; a package that is installed but
 *   fails to load keeps its error as `cause`. Checked in a child Node process
 *   on a copy of `src/` in a temporary directory, where module resolution
 *   finds no `node_modules` (nothing is uninstalled).
 *
 * Runs unchanged on the three runtimes:
 *   node --import tsx --test tests/node_optional_deps.test.ts
 *   npx deno test -A tests/node_optional_deps.test.ts
 *   npx bun test tests/node_optional_deps.test.ts
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { denoBinary } from "./_helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const NODE_ONLY = ["@confluentinc/kafka-javascript", "koffi"];

/** The node binary: this one on Node, else the one on PATH. */
function nodeBinary(): string | undefined {
  if (!("Deno" in globalThis) && !("Bun" in globalThis)) return process.execPath;
  return spawnSync("node", ["--version"]).status === 0 ? "node" : undefined;
}

/** The npm package a specifier of `deno info`'s graph names, if any. */
function npmPackageOf(specifier: string): string | undefined {
  let rest: string;
  if (specifier.startsWith("npm:")) rest = specifier.slice(4).replace(/^\//, "");
  else if (specifier.includes("/node_modules/")) rest = specifier.slice(specifier.lastIndexOf("/node_modules/") + 14);
  else if (/^(\.|\/|[a-z]+:)/.test(specifier)) return undefined;
  else rest = specifier; // a bare specifier, as written in the importing module
  const parts = rest.split("/");
  const name = rest.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  return name.replace(/(.)@.*$/, "$1"); // drop a version (`koffi@3.3.4`), keep a scope's `@`
}

interface Resolved {
  specifier?: string;
}
interface GraphModule {
  specifier: string;
  dependencies?: Array<{ specifier: string; code?: Resolved; type?: Resolved }>;
  typesDependency?: { specifier: string; dependency?: Resolved };
}

/** Every npm package in the module graph of `entry`, static and dynamic imports, code and types. */
function npmPackagesOf(deno: string, entry: string): Set<string> {
  const run = spawnSync(deno, ["info", "--json", entry], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  assert.equal(run.status, 0, `deno info ${entry} failed: ${run.stderr}`);
  const graph = JSON.parse(run.stdout) as { modules: GraphModule[]; npmPackages?: Record<string, unknown> };
  const specifiers = [...Object.keys(graph.npmPackages ?? {}).map((id) => `npm:${id}`)];
  for (const m of graph.modules) {
    specifiers.push(m.specifier);
    for (const d of m.dependencies ?? []) specifiers.push(d.specifier, d.code?.specifier ?? "", d.type?.specifier ?? "");
    if (m.typesDependency) specifiers.push(m.typesDependency.specifier, m.typesDependency.dependency?.specifier ?? "");
  }
  return new Set(specifiers.filter((s) => s !== "").map(npmPackageOf).filter((p) => p !== undefined));
}

const deno = denoBinary();
for (const [entry, expected] of [["mod.ts", "valibot"], ["hono.ts", "hono"]] as const) {
  test(`${entry}'s module graph has no Node-only package`, { skip: deno ? false : "no deno binary" }, () => {
    const packages = npmPackagesOf(deno!, entry);
    // The graph's npm packages are seen at all, so the check below cannot pass vacuously.
    assert.ok(packages.has(expected), `expected ${expected} among ${[...packages].join(", ")}`);
    for (const name of NODE_ONLY) assert.ok(!packages.has(name), `${entry} depends on ${name}`);
  });
}

const node = nodeBinary();
const scratch = mkdtempSync(join(tmpdir(), "kshare-optional-deps-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Load `what` from a copy of `src/` in a fresh directory under `scratch`, in
 * a child Node process, and return what it threw. `installed` writes a
 * stand-in package there whose own loading fails, as the real one's does when
 * its native addon did not build.
 */
function loadFromCopy(what: "confluent" | "koffi" | "default", installed?: string): { message: string; cause?: string } {
  const dir = mkdtempSync(join(scratch, `${what}-`));
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" })); // as the project's: .ts files are ES modules
  if (installed) {
    const pkg = join(dir, "node_modules", ...installed.split("/"));
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: installed, main: "index.js" }));
    writeFileSync(join(pkg, "index.js"), `require("./build/Release/addon.node");\n`);
  }
  const probe = join(dir, "probe.ts");
  writeFileSync(
    probe,
    {
      confluent: `const { confluentDriver } = await import("./src/drivers/confluent.ts");\nawait confluentDriver();\n`,
      koffi: `const { nativeRuntime } = await import("./src/drivers/ffi/_native.ts");\nawait nativeRuntime();\n`,
      default: `const { loadDefaultDriver } = await import("./src/drivers/default.ts");\nawait loadDefaultDriver();\n`,
    }[what],
  );
  // `--import tsx` resolves from the project (cwd); the copy resolves its own imports from `dir`.
  const run = spawnSync(node!, ["--import", "tsx", probe], {
    cwd: root,
    encoding: "utf8",
    // Without KSHARE_DRIVER (npm test sets it for its second Node run): the probes are about the default.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "KSHARE_DRIVER")), NODE_PATH: "", NO_COLOR: "1" },
  });
  assert.notEqual(run.status, 0, `loading ${what} from ${dir} succeeded: is the package installed globally?`);
  const thrown = /^Error: (.*)$/m.exec(run.stderr);
  assert.ok(thrown, run.stderr);
  const cause = /\[cause\]: Error: (.*)$/m.exec(run.stderr);
  return { message: thrown[1]!, cause: cause?.[1] };
}

const needsNode = { skip: node ? false : "no node binary", timeout: 60_000 };

test("without @confluentinc/kafka-javascript, Node's Confluent driver names the npm install to run", needsNode, () => {
  const { message } = loadFromCopy("confluent");
  assert.equal(
    message,
    "kshare's Confluent driver needs @confluentinc/kafka-javascript, which is not installed: npm install @confluentinc/kafka-javascript@^1.10",
  );
});

test("an installed @confluentinc/kafka-javascript that fails to load keeps its error as the cause", needsNode, () => {
  const { message, cause } = loadFromCopy("confluent", "@confluentinc/kafka-javascript");
  assert.match(message, /^kshare's Confluent driver could not load @confluentinc\/kafka-javascript, which is installed/);
  assert.match(message, /Cannot find module '\.\/build\/Release\/addon\.node'/);
  assert.match(cause ?? "", /^Cannot find module '\.\/build\/Release\/addon\.node'/);
});

test("without koffi, Node's FFI driver and embedded broker name the npm install to run", needsNode, () => {
  const { message } = loadFromCopy("koffi");
  assert.equal(
    message,
    "kshare's FFI driver and embedded broker on Node needs koffi, which is not installed: npm install koffi@^3",
  );
});

test("an installed koffi that fails to load keeps its error as the cause", needsNode, () => {
  const { message, cause } = loadFromCopy("koffi", "koffi");
  assert.match(message, /^kshare's FFI driver and embedded broker on Node could not load koffi, which is installed/);
  assert.match(cause ?? "", /^Cannot find module '\.\/build\/Release\/addon\.node'/);
});

test("Node's default driver: the FFI driver, else the Confluent one; with neither installed, one error naming both installs", needsNode, () => {
  const { message } = loadFromCopy("default");
  assert.equal(
    message,
    "kshare could not load a Kafka driver on Node. " +
      "The FFI driver: kshare's FFI driver and embedded broker on Node needs koffi, which is not installed: npm install koffi@^3. " +
      "The Confluent driver: kshare's Confluent driver needs @confluentinc/kafka-javascript, which is not installed: npm install @confluentinc/kafka-javascript@^1.10.",
  );
});
