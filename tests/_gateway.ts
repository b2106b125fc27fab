/**
 * The runnable gateway as a test process: started as `npm start` / `deno task start` run it, on the
 * runtime running the test, its output lines and exit code observed; and a chunked request sent by hand.
 */
import { Buffer } from "node:buffer";
import { after } from "node:test";
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The command that starts the gateway on the runtime running this test (what `npm start` / `deno task start` run). */
function gatewayCommand(): [string, string[]] {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno) {
    return [process.execPath, ["run", "--allow-net", "--allow-env", "--allow-ffi", "--allow-read", "gateway/main.ts"]];
  }
  if (runtime.Bun) return [process.execPath, ["gateway/main.ts"]];
  return [process.execPath, ["--import", "tsx", "gateway/main.ts"]];
}

/** A gateway process: its output lines as they come, its exit code once it exits. */
export class Gateway {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  #waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];

  constructor(env: Record<string, string>) {
    const [command, args] = gatewayCommand();
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|GATEWAY_|PORT$|HOST$)/.test(k)));
    this.child = spawn(command, args, {
      cwd: root,
      env: { ...base, NO_COLOR: "1", PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let rest = "";
    const onData = (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) this.#line(line);
    };
    this.child.stdout!.setEncoding("utf8").on("data", onData);
    this.child.stderr!.setEncoding("utf8").on("data", onData);
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.exited.then(() => {
      if (rest) this.#line(rest);
      for (const w of this.#waiters) w.resolve("");
      this.#waiters = [];
    });
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => (w.pattern.test(line) ? (w.resolve(line), false) : true));
  }

  /** The first line matching `pattern` (already printed or still to come); rejects if the process exits first. */
  async line(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen !== undefined) return seen;
    const line = await new Promise<string>((resolve) => this.#waiters.push({ pattern, resolve }));
    if (line === "") throw new Error(`gateway exited before printing ${pattern}:\n${this.lines.join("\n")}`);
    return line;
  }

  /**
   * Send `signal` to the process by its id. (Not `child.kill()`: Deno's node:child_process then reports
   * the signal as the cause of the exit even when the process handled it and exited 0.)
   */
  signal(signal: "SIGINT" | "SIGTERM"): void {
    process.kill(this.child.pid!, signal);
  }

  /** The gateway's base URL, once it listens. */
  async url(): Promise<string> {
    return (await this.line(/listening on http:/)).match(/listening on (http:\/\/\S+)/)![1]!;
  }
}

const started: Gateway[] = [];
/** Start a gateway with `env` (over a clean environment, PORT 0); killed after the file's tests if still running. */
export function startGateway(env: Record<string, string> = {}): Gateway {
  const gateway = new Gateway(env);
  started.push(gateway);
  return gateway;
}
const running = () => started.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
after(async () => {
  for (const g of running()) g.child.kill("SIGKILL");
  await Promise.all(started.map((g) => g.exited));
});
// Bun runs every test file in one process and this module once: its `after` belongs to the first file that
// imported it, so gateways started by later files outlived the run (two per `bun test tests/`). The
// process's exit kills whatever is still running.
process.once("exit", () => {
  for (const g of running()) g.child.kill("SIGKILL");
});

/** An HTTP Basic `Authorization` header. */
export const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

/**
 * Send a chunked POST by hand: the headers and `first` now, the rest when `finish` is called. `response`
 * resolves with status and body once the server closed the connection.
 */
export function slowRequest(url: string, path: string, headers: Record<string, string>, first: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunk = (data: string) => `${new TextEncoder().encode(data).byteLength.toString(16)}\r\n${data}\r\n`;
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nTransfer-Encoding: chunked\r\n` +
      Object.entries(headers).map(([k, val]) => `${k}: ${val}\r\n`).join("") + "\r\n" + chunk(first),
  );
  let received = "";
  let waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  socket.setEncoding("utf8").on("data", (data: string) => {
    received += data;
    waiters = waiters.filter((w) => (w.pattern.test(received) ? (w.resolve(), false) : true));
  });
  const response = new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", ...body] = received.split("\r\n\r\n");
      resolve({ status: Number(head.split(" ")[1]), headers: head, body: body.join("\r\n\r\n") });
    });
  });
  /** Resolves once what the server sent so far matches `pattern` (part of a response still being written). */
  const arrived = (pattern: RegExp) => pattern.test(received) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pattern, resolve }));
  return { response, arrived, finish: (rest: string) => socket.write(chunk(rest) + "0\r\n\r\n") };
}

/**
 * One keep-alive connection to `url`, requests sent on it one at a time by hand (no client pool that could
 * open another): `send` writes a request whose body goes in the given chunks (chunked) or whole (sized) and
 * resolves with the answer (sized or chunked); rejects if the server closes the connection first.
 */
export function keepAliveConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = Buffer.alloc(0);
  let waiter: (() => void) | undefined;
  let closed = false;
  socket.on("data", (data: Buffer) => {
    received = Buffer.concat([received, data]);
    waiter?.();
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    waiter?.();
  });
  /** The first complete answer in what was received, taken out of it. */
  function answer(): { status: number; headers: string; body: string } | undefined {
    const end = received.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const headers = received.subarray(0, end).toString("latin1");
    const status = Number(headers.split(" ")[1]);
    if (/transfer-encoding: *chunked/i.test(headers)) {
      const parts: Buffer[] = [];
      for (let at = end + 4;;) {
        const line = received.indexOf("\r\n", at);
        if (line < 0) return undefined;
        const size = parseInt(received.subarray(at, line).toString("latin1"), 16);
        if (received.length < line + 2 + size + 2) return undefined;
        if (size === 0) {
          received = received.subarray(line + 4);
          return { status, headers, body: Buffer.concat(parts).toString("utf8") };
        }
        parts.push(received.subarray(line + 2, line + 2 + size));
        at = line + 2 + size + 2;
      }
    }
    const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
    if (received.length < end + 4 + length) return undefined;
    const body = received.subarray(end + 4, end + 4 + length).toString("utf8");
    received = received.subarray(end + 4 + length);
    return { status, headers, body };
  }
  return {
    async send(path: string, headers: Record<string, string>, body: Uint8Array | Uint8Array[]) {
      if (closed) throw new Error("the server closed the connection before this request");
      const head = `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        Object.entries(headers).map(([k, val]) => `${k}: ${val}\r\n`).join("");
      if (Array.isArray(body)) {
        socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
        for (const part of body) socket.write(`${part.byteLength.toString(16)}\r\n`), socket.write(part), socket.write("\r\n");
        socket.write("0\r\n\r\n");
      } else {
        socket.write(`${head}Content-Length: ${body.byteLength}\r\n\r\n`);
        socket.write(body);
      }
      for (;;) {
        const got = answer();
        if (got) return got;
        if (closed) throw new Error("the server closed the connection before answering");
        await new Promise<void>((resolve) => (waiter = resolve));
        waiter = undefined;
      }
    },
    close: () => socket.destroy(),
  };
}
