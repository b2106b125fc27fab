/**
 * Every public export (of `mod.ts`, `hono.ts` and `testing.ts`) has an `@example` in its
 * JSDoc: lists those without one and exits 1. The examples themselves are
 * type-checked by `deno check --doc-only` (see check.sh).
 *
 *   deno run --allow-run --allow-read scripts/check_examples.ts mod.ts hono.ts testing.ts
 *
 * @module
 */
interface DocTag {
  readonly kind: string;
}
interface DocSymbol {
  readonly name: string;
  readonly declarations: ReadonlyArray<{ readonly jsDoc?: { readonly tags?: readonly DocTag[] } }>;
}
interface DocJson {
  readonly nodes: Record<string, { readonly symbols: readonly DocSymbol[] }>;
}

const entries = Deno.args.length > 0 ? Deno.args : ["mod.ts", "hono.ts", "testing.ts"];
// deno doc warns on stderr about @types/node it cannot resolve: shown only when it fails.
const output = await new Deno.Command(Deno.execPath(), { args: ["doc", "--json", ...entries], stderr: "piped" }).output();
if (!output.success) {
  console.error(new TextDecoder().decode(output.stderr));
  Deno.exit(1);
}
const doc = JSON.parse(new TextDecoder().decode(output.stdout)) as DocJson;

const missing: string[] = [];
let count = 0;
for (const [file, node] of Object.entries(doc.nodes)) {
  for (const symbol of node.symbols) {
    count++;
    const hasExample = symbol.declarations.some((d) => d.jsDoc?.tags?.some((tag) => tag.kind === "example"));
    if (!hasExample) missing.push(`${file.replace(/^file:\/\/.*\//, "")}: ${symbol.name}`);
  }
}
if (missing.length > 0) {
  console.error(`${missing.length} of ${count} public exports have no @example:\n${missing.map((m) => `  ${m}`).join("\n")}`);
  Deno.exit(1);
}
console.log(`examples: all ${count} public exports have one`);
