/**
 * The runnable gateway as a test process: started as `npm start` / `deno task start` run it, on the
 * runtime running the test, its output lines and exit code observed; and a chunked request sent by hand.
 */
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
