/**
 * HTTP load on loopback with `wrk` (Debian: `apt-get install wrk`): a fixed
 * number of keep-alive connections, each sending the same POST as soon as
 * its previous answer arrived, for a fixed time. Used by `run_all.ts` for
 * the HTTP scenario (not part of kshare's API).
 *
 * @module
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

/** One request, as every connection sends it. */
export interface LoadRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Options of {@link wrkLoad}. */
export interface LoadOptions {
  /** Concurrent keep-alive connections. */
  readonly connections: number;
  /** Duration of the load. */
  readonly seconds: number;
  /** A request still unanswered after this long counts as a timeout (default 10 s). */
  readonly timeoutSeconds?: number;
}

/** What wrk measured. */
export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers with a status of 400 or more. */
  readonly non2xx: number;
  /** Connect, read and write errors and timeouts. */
  readonly socketErrors: number;
  readonly timeouts: number;
  /** wrk's version line. */
  readonly generator: string;
}

/** A Lua string literal of `text`. */
const lua = (text: string) => JSON.stringify(text);

/** Milliseconds of a wrk duration such as `812.00us`, `1.25ms` or `2.01s`. */
function millis(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n;
}

/** Run wrk against `request.url`; rejects when wrk is missing or fails. */
export async function wrkLoad(request: LoadRequest, options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(os.tmpdir(), "kshare-wrk-"));
  const script = join(dir, "post.lua");
  writeFileSync(
    script,
    [
      `wrk.method = "POST"`,
      `wrk.body = ${lua(request.body)}`,
      ...Object.entries(request.headers).map(([name, value]) => `wrk.headers[${lua(name)}] = ${lua(value)}`),
      "",
    ].join("\n"),
  );
  try {
    const args = [
      "-t1",
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      `--timeout`,
      `${options.timeoutSeconds ?? 10}s`,
      "--latency",
      "-s",
      script,
      request.url,
    ];
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        "wrk",
        args,
        { timeout: (options.seconds + 60) * 1000 },
        (error, stdout, stderr) => error ? reject(new Error(`wrk ${args.join(" ")}: ${error.message}\n${stderr}`)) : resolve(stdout),
      )
    );
    const num = (re: RegExp) => Number(out.match(re)?.[1] ?? 0);
    const latency = (q: string) => {
      const m = out.match(new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
      return m ? millis(m[1]!, m[2]!) : NaN;
    };
    const total = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
    const errors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    return {
      requests: Number(total?.[1] ?? 0),
      seconds: total ? millis(total[2]!, total[3]!) / 1000 : options.seconds,
      requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
      p50Ms: latency("50"),
      p99Ms: latency("99"),
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      socketErrors: errors ? errors.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0,
      timeouts: Number(errors?.[4] ?? 0),
      generator: await wrkVersion(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let version: Promise<string> | undefined;
/** wrk's version line, e.g. `wrk 4.1.0 [epoll] ...`. */
export function wrkVersion(): Promise<string> {
  version ??= new Promise((resolve) =>
    // `wrk -v` prints its version and usage, and exits 1.
    execFile("wrk", ["-v"], (_error, stdout, stderr) => resolve(`${stdout}${stderr}`.split("\n")[0]!.trim() || "wrk"))
  );
  return version;
}
