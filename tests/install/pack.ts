/**
 * Pack kshare as JSR would serve it, into a folder that `registry.ts` serves
 * in place of jsr.io and npm.jsr.io, so the install recipes of the README run
 * unchanged against this checkout's package, offline:
 *
 *   node --import tsx tests/install/pack.ts <out>
 *
 * - `<out>/jsr/@kshare/kshare/…`: JSR's native layout (what `deno add
 *   jsr:@kshare/kshare` fetches): `meta.json`, `<version>_meta.json` with a
 *   sha256 per file, and the files `deno publish` would upload (read from its
 *   dry run, so the set is exactly the published one).
 * - `<out>/npm/…`: JSR's npm compatibility layer (what `npx jsr add` and
 *   `bunx jsr add` install as `@jsr/kshare__kshare`): the same modules
 *   transpiled to JavaScript with declarations, relative `.ts` imports
 *   rewritten to `.js`, and as dependencies the npm packages of the module
 *   graph of the exports (`deno info`), as JSR computes them.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = resolve(process.argv[2] ?? join(root, ".pack"));
const bin = (name: string) => join(root, "node_modules/.bin", name);
const run = (command: string, args: string[], cwd = root) =>
  execFileSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });

interface DenoJson {
  name: string;
  version: string;
  exports: Record<string, string>;
}
const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as DenoJson;
const [scope, name] = denoJson.name.slice(1).split("/") as [string, string];
const version = denoJson.version;

// The published files: the dry run prints "   file:///…/mod.ts (2.99KB)" per file.
// It reports on stderr.
const publish = spawnSync(bin("deno"), ["publish", "--dry-run", "--allow-dirty"], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, NO_COLOR: "1" },
});
const dryRun = `${publish.stdout}${publish.stderr}`;
if (publish.status !== 0) throw new Error(`pack: deno publish --dry-run failed:\n${dryRun}`);
const files = [...dryRun.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) => relative(root, fileURLToPath(m[1]!)));
if (!files.includes("mod.ts")) throw new Error(`pack: no file list in deno publish's dry run:\n${dryRun}`);

// The module graph of the exports: each bare import (a type-only import
// counts, as JSR counts it) is an npm package that deno.json maps to a range.
// `deno publish` rewrites these imports to full `npm:` specifiers in the files
// it uploads, and JSR's npm layer lists those packages as dependencies.
const imports = (JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { imports: Record<string, string> }).imports;
interface Span {
  start: { line: number; character: number };
  end: { line: number; character: number };
}
interface GraphModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { span: Span }; type?: { span: Span } }[];
}
const npmDependencies: Record<string, string> = {};
const rewrites = new Map<string, Map<string, { span: Span; to: string }>>(); // file -> span key -> rewrite
for (const entry of Object.values(denoJson.exports)) {
  const graph = JSON.parse(run(bin("deno"), ["info", "--json", entry])) as { modules: GraphModule[] };
  for (const module of graph.modules) {
    if (!module.specifier.startsWith("file:")) continue;
    const file = relative(root, fileURLToPath(module.specifier));
    if (!files.includes(file)) continue;
    for (const dependency of module.dependencies ?? []) {
      const { specifier } = dependency;
      if (/^(\.|\/|node:|[a-z]+:)/.test(specifier)) continue;
      const pkg = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
      const key = imports[pkg] !== undefined ? pkg : `${pkg}/`;
      const target = imports[key];
      const range = target && /^npm:@?[^@]+@([^/]+)/.exec(target)?.[1];
      if (!target || !range) throw new Error(`pack: ${file} imports ${specifier}, which deno.json does not map to npm`);
      npmDependencies[pkg] = range;
      const to = target + specifier.slice(key.length);
      const spans = rewrites.get(file) ?? new Map();
      for (const span of [dependency.code?.span, dependency.type?.span]) {
        if (span) spans.set(`${span.start.line}:${span.start.character}`, { span, to });
      }
      rewrites.set(file, spans);
    }
  }
}

/** `text` with the import specifiers at `spans` (string literals, quotes included) replaced. */
function rewrite(text: string, spans: Iterable<{ span: Span; to: string }>): string {
  const lines = text.split("\n");
  const sorted = [...spans].sort((a, b) => b.span.start.line - a.span.start.line || b.span.start.character - a.span.start.character);
  for (const { span, to } of sorted) {
    if (span.start.line !== span.end.line) throw new Error("pack: an import specifier over several lines");
    const line = lines[span.start.line]!;
    const quote = line[span.start.character]!;
    lines[span.start.line] = line.slice(0, span.start.character) + quote + to + quote + line.slice(span.end.character);
  }
  return lines.join("\n");
}

rmSync(out, { recursive: true, force: true });

// JSR's native layout.
const jsrDir = join(out, "jsr", `@${scope}`, name);
const manifest: Record<string, { size: number; checksum: string }> = {};
for (const file of files) {
  const spans = rewrites.get(file);
  const original = readFileSync(join(root, file));
  const bytes = spans ? Buffer.from(rewrite(original.toString("utf8"), spans.values())) : original;
  mkdirSync(dirname(join(jsrDir, version, file)), { recursive: true });
  writeFileSync(join(jsrDir, version, file), bytes);
  manifest[`/${file}`] = { size: bytes.length, checksum: `sha256-${createHash("sha256").update(bytes).digest("hex")}` };
}
writeFileSync(join(jsrDir, "meta.json"), JSON.stringify({ scope, name, latest: version, versions: { [version]: {} } }));
writeFileSync(join(jsrDir, `${version}_meta.json`), JSON.stringify({ manifest, exports: denoJson.exports }));

const npmName = `@jsr/${scope}__${name}`;
const stage = join(out, "stage");
const packageDir = join(stage, "package");
// The project's compiler options, emitting; beside tsconfig.json, so types and packages resolve from its node_modules.
const tsconfig = join(root, ".pack-tsconfig.json");
writeFileSync(
  tsconfig,
  JSON.stringify({
    extends: "./tsconfig.json",
    compilerOptions: { noEmit: false, declaration: true, rewriteRelativeImportExtensions: true, rootDir: ".", outDir: packageDir },
    files: files.filter((file) => file.endsWith(".ts")),
    include: [],
  }),
);
try {
  run(bin("tsc"), ["-p", tsconfig]);
} catch (error) {
  throw new Error(`pack: tsc failed:\n${(error as { stdout?: string }).stdout ?? error}`);
} finally {
  rmSync(tsconfig, { force: true });
}
cpSync(join(root, "README.md"), join(packageDir, "README.md"));
const exports: Record<string, { types: string; default: string }> = {};
for (const [key, path] of Object.entries(denoJson.exports)) {
  exports[key] = { types: path.replace(/\.ts$/, ".d.ts"), default: path.replace(/\.ts$/, ".js") };
}
const packageJson = { name: npmName, version, type: "module", exports, dependencies: npmDependencies };
writeFileSync(join(packageDir, "package.json"), JSON.stringify(packageJson, null, 2));

const npmDir = join(out, "npm");
mkdirSync(npmDir, { recursive: true });
const tarball = run("npm", ["pack", "--silent", "--pack-destination", npmDir], packageDir).trim().split("\n").pop()!;
const tgz = readFileSync(join(npmDir, tarball));
const packument = {
  name: npmName,
  "dist-tags": { latest: version },
  versions: {
    [version]: {
      ...packageJson,
      dist: {
        // registry.ts rewrites this placeholder to its own address.
        tarball: `{{registry}}/${npmName}/-/${tarball}`,
        shasum: createHash("sha1").update(tgz).digest("hex"),
        integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
      },
    },
  },
};
writeFileSync(join(npmDir, "packument.json"), JSON.stringify(packument));
mkdirSync(join(npmDir, npmName, "-"), { recursive: true });
writeFileSync(join(npmDir, npmName, "-", tarball), tgz);
rmSync(join(npmDir, tarball));
rmSync(stage, { recursive: true, force: true });

console.log(`pack: ${denoJson.name}@${version}: ${files.length} files for JSR; ${npmName} depends on ${Object.keys(npmDependencies).join(", ")}`);
