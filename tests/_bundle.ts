/**
 * Bundling kshare as an application's bundler would: `@kshare/kshare` and its
 * subpaths resolve to the package's exports (deno.json), everything else as
 * esbuild resolves it from this checkout.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

/** The checkout's root. */
export const root = new URL("../", import.meta.url);
const packageExports = (JSON.parse(readFileSync(new URL("deno.json", root), "utf8")) as { exports: Record<string, string> }).exports;

/** `@kshare/kshare` and its subpaths, resolved as the package's exports (deno.json) map them. */
export const kshareExports: esbuild.Plugin = {
  name: "kshare-exports",
  setup(build) {
    build.onResolve({ filter: /^@kshare\/kshare(\/.*)?$/ }, ({ path }) => {
      const target = packageExports[`.${path.slice("@kshare/kshare".length)}`];
      return target ? { path: fileURLToPath(new URL(target, root)) } : { errors: [{ text: `${path} is not an export of kshare` }] };
    });
  },
};

/** What wrangler gives esbuild for a Worker: platform and conditions. */
export const WORKER_TARGET = { platform: "browser", conditions: ["workerd", "worker", "browser"] } as const;
