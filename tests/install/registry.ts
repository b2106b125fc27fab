/**
 * A local stand-in for jsr.io and npm.jsr.io, serving what `pack.ts` packed,
 * so the README's install commands run unchanged, offline:
 *
 *   node --import tsx tests/install/registry.ts <packed> <port file>
 *
 * Deno reaches it through `JSR_URL=http://127.0.0.1:<port>` (Deno's own
 * setting for another JSR), npm and Bun through `@jsr:registry=` in the
 * project's `.npmrc` (which `jsr add` keeps when it is there). Every other
 * package comes from the npm registry as usual. Writes the port it listens on
 * to the port file, then serves until killed.
 *
 * @module
 */
import { createServer } from "node:http";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join, normalize } from "node:path";
import process from "node:process";

const [packed, portFile] = process.argv.slice(2);
if (!packed || !portFile) throw new Error("usage: registry.ts <packed folder> <port file>");

const server = createServer((request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
  const send = (status: number, body: string | Uint8Array, type: string) => {
    response.writeHead(status, { "content-type": type });
    response.end(body);
  };
  try {
    if (path.startsWith("/@jsr/")) {
      const npm = join(packed, "npm");
      if (path.includes("/-/")) return send(200, readFileSync(join(npm, path)), "application/octet-stream");
      const registry = `http://${request.headers.host}`;
      return send(200, readFileSync(join(npm, "packument.json"), "utf8").replaceAll("{{registry}}", registry), "application/json");
    }
    const file = join(packed, "jsr", path);
    if (statSync(file).isFile()) {
      return send(200, readFileSync(file), path.endsWith(".json") ? "application/json" : "text/plain");
    }
  } catch {
    // not found
  }
  send(404, "not found", "text/plain");
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("registry: no port");
  writeFileSync(portFile, `${address.port}\n`);
});
