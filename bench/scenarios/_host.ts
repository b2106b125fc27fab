/**
 * The runner's side of a scenario child (see `_probe.ts` and `child.ts`):
 * spawn the child on a runtime, answer its marks with the broker's counters,
 * and collect its result (not part of kshare's API).
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import type { EmbeddedBroker } from "../../testing.ts";
import { ROOT, runtimeCommand, type RuntimeName } from "../_util.ts";
import { type BrokerCounters, MARK_PREFIX, readCounters, RESULT_PREFIX } from "./_probe.ts";

/** What a child left: its result line, the counters at each mark, its stderr. */
export interface ScenarioRun<R> {
  readonly result: R & { readonly runtime: string; readonly runtimeVersion: string };
  /** Counters by mark: `start` (at spawn), then each label's first word (`warm`, `done`). */
  readonly marks: Readonly<Record<string, BrokerCounters>>;
  readonly stderr: string;
  /** Wall-clock seconds of the whole child, start-up included. */
  readonly seconds: number;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Kill the child (SIGKILL) and fail after this long. */
  readonly timeoutMs: number;
  /** Called at each mark after the counters are read, before the child may go on (the HTTP load runs here). */
  readonly onMark?: (label: string) => Promise<void> | void;
}

/**
 * Run `bench/scenarios/child.ts <scenario> <options>` on `runtime` against
 * `broker`, whose request tracking must be on; its recorded requests are
 * cleared first, so the counters are this child's alone.
 */
export async function runScenario<R>(
  runtime: RuntimeName,
  scenario: string,
  options: object,
  broker: EmbeddedBroker,
  run: RunOptions,
): Promise<ScenarioRun<R>> {
  await settle(broker);
  broker.clearRequests();
  const marks: Record<string, BrokerCounters> = { start: readCounters(broker) };
  const [command, args] = runtimeCommand(runtime, "bench/scenarios/child.ts", [scenario, JSON.stringify(options)]);
  const started = performance.now();
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    let result: ScenarioRun<R>["result"] | undefined;
    let failure: Error | undefined;
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      failure = new Error(`${runtime} ${scenario}: no result after ${run.timeoutMs} ms, killed`);
      child.kill("SIGKILL");
    }, run.timeoutMs);
    // Marks are answered one at a time, in order.
    let answering = Promise.resolve();
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith(MARK_PREFIX)) {
        const label = line.slice(MARK_PREFIX.length);
        answering = answering.then(async () => {
          marks[label.split(" ")[0]!] = readCounters(broker);
          try {
            await run.onMark?.(label);
          } catch (error) {
            failure ??= error as Error;
          }
          child.stdin!.write("ok\n");
        });
      } else if (line.startsWith(RESULT_PREFIX)) {
        result = JSON.parse(line.slice(RESULT_PREFIX.length));
      } else if (line.trim() !== "") {
        stderr += `[stdout] ${line}\n`;
      }
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      await answering;
      const seconds = (performance.now() - started) / 1000;
      if (failure) reject(new Error(`${failure.message}\n${stderr.trim()}`));
      else if (code !== 0 || !result) reject(new Error(`${runtime} ${scenario} exited ${code ?? signal}:\n${stderr.trim()}`));
      else resolve({ result, marks, stderr, seconds });
    });
    // A child that exits before reading every answer must not crash the runner.
    child.stdin!.on("error", () => {});
  });
}

/**
 * Wait (at most 5 s) until the broker has recorded no new request for 300 ms:
 * after a child that opened hundreds of connections, the mock brokers may
 * still be working through requests that arrived before it exited, and those
 * must not be counted for the next child.
 */
async function settle(broker: EmbeddedBroker): Promise<void> {
  const deadline = performance.now() + 5_000;
  let count = broker.requests().length;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = broker.requests().length;
    if (now === count) return;
    count = now;
  }
}
