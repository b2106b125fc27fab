/**
 * Run one scenario in this process, for the cross-runtime runner:
 *
 *   <runtime> bench/scenarios/child.ts <scenario> '<options as JSON>'
 *
 * The broker lives in the runner's process; the scenario's marks go to it
 * over stdout/stdin (see `_probe.ts`), and the result is printed as one
 * `@result <JSON>` line. Runs unchanged on Deno, Bun and Node, each with its
 * default driver.
 *
 * @module
 */
import process from "node:process";
import { RESULT_PREFIX, stdioProbe } from "./_probe.ts";
import { measureConsume } from "./consume.ts";
import { measureLookup } from "./lookup.ts";
import { measurePublish } from "./publish.ts";
import { serveHttp } from "./http.ts";
import { runtimeName, runtimeVersion } from "../_child.ts";

const scenarios = {
  publish: measurePublish,
  lookup: measureLookup,
  consume: measureConsume,
  http: serveHttp,
} as const;

const [name, json] = process.argv.slice(2);
const scenario = scenarios[name as keyof typeof scenarios];
if (!scenario || json === undefined) {
  console.error(`usage: child.ts ${Object.keys(scenarios).join("|")} '<options JSON>'`);
  process.exit(2);
}
const probe = stdioProbe();
let code = 0;
try {
  // deno-lint-ignore no-explicit-any
  const result = await scenario(JSON.parse(json) as any, probe);
  const line = `${RESULT_PREFIX}${JSON.stringify({ runtime: runtimeName(), runtimeVersion: runtimeVersion(), ...result })}\n`;
  await new Promise<void>((resolve) => process.stdout.write(line, () => resolve()));
} catch (error) {
  console.error(error);
  code = 1;
} finally {
  probe.close();
}
// Every client is closed by now; exiting explicitly also ends a runtime's idle stdin reader.
process.exit(code);
