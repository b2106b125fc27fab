/**
 * Everything the gateway needs from its runtime, and the only file that
 * branches per runtime: environment, signals, exit, and starting the HTTP
 * server (`Deno.serve`, `Bun.serve`, `@hono/node-server`, the latter loaded
 * by dynamic import so Deno and Bun never load it).
 *
 * @module
 */
import { KAFKA_RETRIABLE } from "../hono.ts";

/** A request handler, e.g. `app.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /**
   * Stop accepting connections and wait until the requests in flight are
   * answered, at most `timeoutMs`; then close whatever is left.
   */
  close(timeoutMs: number): Promise<void>;
}

interface DenoServer {
  readonly addr: { readonly hostname: string; readonly port: number };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
interface DenoRuntime {
  readonly version: { readonly deno: string };
  readonly env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: unknown) => void },
    handler: (request: Request, info: { readonly completed?: Promise<void> }) => Response | Promise<Response>,
  ): DenoServer;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
}
interface BunServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunRuntime {
  readonly version: string;
  serve(options: { port: number; hostname: string; fetch: FetchHandler }): BunServer;
}
interface ProcessRuntime {
  readonly env: Record<string, string | undefined>;
  readonly versions: { readonly node?: string };
  on(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
}

const global = globalThis as unknown as { Deno?: DenoRuntime; Bun?: BunRuntime; process?: ProcessRuntime };

/** The runtime and its version, e.g. `node 20.19.0`. */
export function runtimeName(): string {
  if (global.Deno) return `deno ${global.Deno.version.deno}`;
  if (global.Bun) return `bun ${global.Bun.version}`;
  return `node ${global.process?.versions.node ?? "?"}`;
}

/** The environment variables. */
export function environment(): Record<string, string | undefined> {
  if (global.Deno) return global.Deno.env.toObject();
  return { ...global.process?.env };
}

/** Call `handler` on SIGINT and SIGTERM (every time: the handler decides what a second signal means). */
export function onShutdownSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    if (global.Deno) global.Deno.addSignalListener(signal, () => handler(signal));
    else global.process?.on(signal, () => handler(signal));
  }
}

/** End the process with `code`. */
export function exit(code: number): never {
  if (global.Deno) global.Deno.exit(code);
  if (global.process) global.process.exit(code);
  throw new Error(`exit(${code}): no process to end`);
}

/** The answer to a request that arrives while the server is draining (only where connections cannot be refused). */
function shuttingDown(): Response {
  return Response.json(
    { error_code: KAFKA_RETRIABLE, message: "The gateway is shutting down" },
    { status: 503, headers: { "Connection": "close", "Retry-After": "5" } },
  );
}

/** Start serving `fetch` on `hostname:port` (port 0: any free port); resolves once listening. */
export async function serve(fetch: FetchHandler, options: { hostname: string; port: number }): Promise<RunningServer> {
  const { hostname, port } = options;
  const bounded = async (graceful: Promise<unknown>, timeoutMs: number, force: () => void) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
    const outcome = await Promise.race([graceful, late]).finally(() => clearTimeout(timer));
    if (outcome === "late") force();
  };

  if (global.Deno) {
    // Deno's shutdown() also cuts the request bodies still arriving (deno 2.9: "Cannot read request body
    // as underlying resource unavailable"), so the requests in flight are finished first, then the server
    // shuts down. Meanwhile new requests are answered 503 and their connections closed.
    let inFlight = 0;
    let draining = false;
    let idle: () => void = () => {};
    const drained = new Promise<void>((resolve) => (idle = resolve));
    // A request is in flight until its response is sent, body included (`completed`, which rejects when the
    // client went away first): a streamed response goes on after the handler returned it. A Deno without
    // `completed` counts until the handler returned.
    const done = () => {
      if (--inFlight === 0 && draining) idle();
    };
    const server = global.Deno.serve({ hostname, port, onListen: () => {} }, (request, info) => {
      if (draining) return shuttingDown();
      inFlight++;
      if (info.completed) {
        info.completed.then(done, done);
        return fetch(request);
      }
      return Promise.resolve(fetch(request)).finally(done);
    });
    return {
      url: `http://${hostname}:${server.addr.port}`,
      close: async (timeoutMs) => {
        draining = true;
        if (inFlight === 0) idle();
        await bounded(drained, timeoutMs, () => {});
        await bounded(server.shutdown(), timeoutMs, () => {});
      },
    };
  }

  if (global.Bun) {
    const server = global.Bun.serve({ hostname, port, fetch });
    return {
      url: `http://${hostname}:${server.port}`,
      // stop(false) stops accepting and lets the requests in flight finish; stop(true) drops them.
      close: (timeoutMs) => bounded(Promise.resolve(server.stop(false)), timeoutMs, () => void server.stop(true)),
    };
  }

  const { serve: nodeServe } = await import("@hono/node-server");
  type NodeServer = import("node:http").Server;
  let server!: NodeServer;
  const boundPort = await new Promise<number>((resolve, reject) => {
    server = nodeServe({ fetch, hostname, port }, (info) => resolve(info.port)) as NodeServer;
    server.once("error", reject);
  });
  return {
    url: `http://${hostname}:${boundPort}`,
    // close() stops accepting, closes idle keep-alive connections and calls back once the busy ones are done.
    close: (timeoutMs) => bounded(new Promise<void>((resolve) => server.close(() => resolve())), timeoutMs, () => server.closeAllConnections()),
  };
}
