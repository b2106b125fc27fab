/**
 * Child processes of the benchmarks, in one place (not part of kshare's
 * API): how to start a bench script on a runtime, run a command to its end
 * (output, exit code, peak RSS, a timeout, a line protocol), and keep a
 * server process (broker, gateway) until it is stopped. `node:*` only, so it
 * runs on Deno, Bun and Node.
 *
 * @module
 */
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root (this file is bench/_child.ts). */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** The runtime executing this script. */
export type RuntimeName = "deno" | "bun" | "node";

/** Which runtime this is, by its global. */
export function runtimeName(): RuntimeName {
  if ("Deno" in globalThis) return "deno";
  if ("Bun" in globalThis) return "bun";
  return "node";
}

/** The runtime's version, e.g. `2.9.6`. */
export function runtimeVersion(): string {
  const versions = process.versions as Record<string, string | undefined>;
  return versions[runtimeName()] ?? process.version;
}

/** How to run a script on `runtime` from the repository root: command and arguments. */
export function runtimeCommand(runtime: RuntimeName, script: string, args: readonly string[]): [string, string[]] {
  const bin = (name: string) => `${ROOT}node_modules/.bin/${name}`;
  switch (runtime) {
    case "deno":
      return [bin("deno"), ["run", "-A", script, ...args]];
    case "bun":
      return [bin("bun"), [script, ...args]];
    case "node":
      // This process's own Node when it is Node, else `node` on PATH.
      return [runtimeName() === "node" ? process.execPath : "node", ["--import", "tsx", script, ...args]];
  }
}

/** A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`, `RssAnon`, `RssFile`), or undefined off Linux or once the process is gone. */
export function statusBytes(field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile", pid: number | "self" = "self"): number | undefined {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** What a finished child process left. */
export interface ChildRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time from spawn to exit, in seconds. */
  readonly seconds: number;
  /** `performance.now()` when the child exited. */
  readonly endedAt: number;
  /** Peak RSS of the child, sampled from `/proc/<pid>/status` while it ran (0 where unknown). */
  readonly peakRssBytes: number;
}

/** Options of {@link runChild}. */
export interface RunOptions extends Pick<SpawnOptions, "env"> {
  /** Written to the child's standard input, which is then closed (unless `onLine` is given: it stays open for answers). */
  readonly input?: string;
  /** A child still running after this long is killed (SIGKILL) and reported with a null code. */
  readonly timeoutMs?: number;
  /** Each line of standard output as it comes, with the child (to answer on its stdin); the lines are kept in `stdout` too. */
  readonly onLine?: (line: string, child: ChildProcess) => void;
}

/**
 * Run a command from the repository root to completion and capture its
 * output. Its peak RSS is the last high-water mark read before it exited
 * (sampled every 20 ms: the mark only grows, so a late sample is as good as
 * the last).
 */
export function runChild(command: string, args: readonly string[], options: RunOptions = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    const { onLine } = options;
    if (onLine) {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        stdout += `${line}\n`;
        onLine(line, child);
      });
    } else {
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    }
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const sampler = setInterval(() => (peak = Math.max(peak, child.pid ? statusBytes("VmHWM", child.pid) ?? 0 : 0)), 20);
    const killer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    const end = () => {
      clearInterval(sampler);
      clearTimeout(killer);
    };
    child.on("error", (error) => {
      end();
      reject(error);
    });
    child.on("close", (code) => {
      end();
      const endedAt = performance.now();
      resolve({ code, stdout, stderr, seconds: (endedAt - started) / 1000, endedAt, peakRssBytes: peak });
    });
    // A child that exits without reading its input (e.g. `--version`) must not fail the run with EPIPE.
    child.stdin!.on("error", () => {});
    if (options.input !== undefined || !onLine) child.stdin!.end(options.input ?? "");
  });
}

/**
 * Run a bench script with `--json` on `runtime` and return the JSON object
 * of its last `{` line; rejects, with its stderr, when it fails.
 */
export async function runJson<T>(runtime: RuntimeName, script: string, args: readonly string[], timeoutMs: number): Promise<T & { peakRssBytes?: number }> {
  const [command, commandArgs] = runtimeCommand(runtime, script, ["--json", ...args]);
  const run = await runChild(command, commandArgs, { timeoutMs });
  const line = run.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (run.code !== 0 || !line) {
    throw new Error(`${runtime} ${script} exited ${run.code}${line ? "" : " without a result"}: ${(run.stderr.trim() || run.stdout.trim()).slice(-800)}`);
  }
  return JSON.parse(line);
}

/** A server process started by {@link startServer}. */
export interface ServerProcess {
  readonly pid: number;
  /** The standard output line that said it was ready. */
  readonly ready: string;
  /** End it (SIGTERM, and its standard input closed) and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start a long-lived process (a broker, the gateway) and resolve once a line
 * of its standard output matches `ready`. Its standard input stays open: a
 * child that ends when it closes never outlives us. Its stderr goes to ours.
 */
export function startServer(command: string, args: readonly string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: env ?? { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    let out = "";
    let started = false;
    child.stdin!.on("error", () => {});
    // Keeps draining after the ready line, so the child never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (started) return;
      out += `${line}\n`;
      if (!ready.test(line)) return;
      started = true;
      resolve({
        pid: child.pid!,
        ready: line,
        async stop() {
          child.kill("SIGTERM");
          child.stdin!.end();
          await exited;
        },
      });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited (${code}) before it was ready: ${out.trim()}`)));
  });
}
