/**
 * The README's install sections are what `npm run test:install` runs: every
 * command of a runtime's section appears, verbatim and in the same order, in
 * that runtime's recipe in tests/install/run.sh. (The recipes themselves
 * install and run in scratch projects; that takes minutes, so CI runs them
 * apart from this suite.)
 *
 *   node --import tsx --test tests/readme_install.test.ts
 *   npx deno test -A tests/readme_install.test.ts
 *   npx bun test tests/readme_install.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const recipes = readFileSync(new URL("./install/run.sh", import.meta.url), "utf8");

/** The commands of the ```sh blocks of `### heading` under `## Install`. */
function readmeCommands(heading: string): string[] {
  const install = readme.slice(readme.indexOf("\n## Install\n"));
  const start = install.indexOf(`\n### ${heading}\n`);
  assert.notEqual(start, -1, `README: no "### ${heading}" under "## Install"`);
  const rest = install.slice(start + 1);
  const end = rest.search(/\n##+ /);
  const section = end === -1 ? rest : rest.slice(0, end);
  const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n"));
  return commands.map((line) => line.trim()).filter((line) => line !== "");
}

/** The lines of `recipe_<name>() { … }` in run.sh. */
function recipeLines(name: string): string[] {
  const match = new RegExp(`\\nrecipe_${name}\\(\\) \\{\\n([\\s\\S]*?)\\n\\}\\n`).exec(recipes);
  assert.ok(match, `run.sh: no recipe_${name}`);
  return match[1]!.split("\n").map((line) => line.trim());
}

for (const [heading, name] of [["Deno", "deno"], ["Bun", "bun"], ["Node", "node"]] as const) {
  test(`the README's ${heading} install commands are run.sh's recipe_${name}, in order`, () => {
    const commands = readmeCommands(heading);
    assert.ok(commands.length >= 2, `README's ${heading} section has ${commands.length} commands`);
    const lines = recipeLines(name);
    let at = 0;
    for (const command of commands) {
      const found = lines.findIndex((line, i) => i >= at && (line === command || line.startsWith(`${command} |`)));
      assert.notEqual(found, -1, `recipe_${name} does not run the README's \`${command}\` (after line ${at} of it)`);
      at = found + 1;
    }
  });
}
