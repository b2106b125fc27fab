/**
 * Loading a Node package that kshare's users install themselves
 * (`@confluentinc/kafka-javascript` for the Node driver, `koffi` for the
 * embedded broker on Node). `require()` from kshare's own location finds them
 * as a regular import would, and it is a load JSR's module graph does not
 * follow, so neither is a dependency of the published package: Deno and Bun
 * users, who need neither, never download or build them.
 *
 * @module
 */
import { createRequire } from "node:module";
import { messageOf } from "../_util.ts";

/**
 * `require(name)`, or an Error in one sentence: what to install when the
 * package is missing, or, when it is installed but fails to load (e.g. its
 * addon did not build), that failure, kept as the cause.
 *
 * @param user What needs the package, for the message ("kshare's Confluent driver").
 * @param install The package with the version range to install ("koffi@^3").
 */
export function requireInstalled<T>(name: string, user: string, install: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (error) {
    // Only the package itself missing: a module it requires being missing (e.g. its addon) is a failed load.
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "MODULE_NOT_FOUND" && messageOf(error).includes(`'${name}'`)) {
      throw new Error(`${user} needs ${name}, which is not installed: npm install ${install}`);
    }
    throw new Error(`${user} could not load ${name}, which is installed: ${messageOf(error)}`, { cause: error });
  }
}
