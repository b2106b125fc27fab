/** Test helpers: kcat as an independent Kafka client, event-driven waiting, the deno binary. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The deno binary: this one on Deno, else the project's devDependency (`undefined` if not installed). */
export function denoBinary(): string | undefined {
  if ("Deno" in globalThis) return process.execPath;
  const local = fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url));
  return existsSync(local) ? local : undefined;
}

/** What a finished kcat run left. */
export interface KcatRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run kcat to completion, feeding `input` on stdin; never rejects for a non-zero exit. */
export function runKcat(args: readonly string[], input: string | Uint8Array = ""): Promise<KcatRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("kcat", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Run kcat with `args`, feeding it `input` on stdin; resolves with stdout, rejects on a non-zero exit. */
export async function kcat(args: readonly string[], input?: string | Uint8Array): Promise<string> {
  const run = await runKcat(args, input);
  if (run.code !== 0) throw new Error(`kcat ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** A record as `kcat -J` prints it. */
export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

/**
 * Read a whole topic from the beginning with kcat (exits at the end of every
 * partition). `isolation` sets kcat's `isolation.level` (librdkafka's
 * default: `read_committed`); `read_uncommitted` also reads the records of
 * transactions not committed.
 */
export async function kcatRead(
  bootstrap: string,
  topic: string,
  options: { isolation?: "read_committed" | "read_uncommitted" } = {},
): Promise<KcatRecord[]> {
  const isolation = options.isolation === undefined ? [] : ["-X", `isolation.level=${options.isolation}`];
  const out = await kcat(["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q", ...isolation]);
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as KcatRecord);
}

/** Write `key:value` lines to a topic with kcat. */
export async function kcatWrite(bootstrap: string, topic: string, lines: readonly string[]): Promise<void> {
  await kcat(["-b", bootstrap, "-P", "-t", topic, "-K", ":"], lines.join("\n") + "\n");
}

/** A counter whose `reached(n)` resolves once `n` increments happened: waiting on an event, never a sleep. */
export class Countdown {
  count = 0;
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  increment(): void {
    this.count++;
    this.#waiters = this.#waiters.filter((w) => (w.n <= this.count ? (w.resolve(), false) : true));
  }
  reached(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

/** A gate handlers can wait on until the test opens it. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A logger that records instead of printing. */
export function quietLogger(): { warn(m: string, f?: unknown): void; error(m: string, f?: unknown): void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn: (m, f) => lines.push(`warn ${m} ${JSON.stringify(f)}`),
    error: (m, f) => lines.push(`error ${m} ${JSON.stringify(f)}`),
  };
}

/**
 * Run `body` with the environment variable `name` set to `value` (deleted for
 * undefined), then put back what was there before, whatever `body` did.
 */
export async function withEnv<T>(name: string, value: string | undefined, body: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}
