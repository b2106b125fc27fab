/**
 * The runner's side of a scenario child (see `_probe.ts` and `child.ts`):
 * run the child on a runtime, answer its marks with the broker's counters,
 * and collect its result (not part of kshare's API).
 *
 * @module
 */
import type { EmbeddedBroker } from "../../testing.ts";
import { runChild, runtimeCommand, type RuntimeName } from "../_child.ts";
import { type BrokerCounters, MARK_PREFIX, readCounters, RESULT_PREFIX } from "./_probe.ts";

/** What a child left: its result line and the counters at each mark. */
export interface ScenarioRun<R> {
  readonly result: R & { readonly runtime: string; readonly runtimeVersion: string };
  /** Counters by mark: `start` (at spawn), then each label's first word (`warm`, `done`). */
  readonly marks: Readonly<Record<string, BrokerCounters>>;
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
  let result: ScenarioRun<R>["result"] | undefined;
  let failure: Error | undefined;
  // Marks are answered one at a time, in order.
  let answering = Promise.resolve();
  const [command, args] = runtimeCommand(runtime, "bench/scenarios/child.ts", [scenario, JSON.stringify(options)]);
  const child = await runChild(command, args, {
    timeoutMs: run.timeoutMs,
    onLine(line, process) {
      if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length));
      if (!line.startsWith(MARK_PREFIX)) return;
      const label = line.slice(MARK_PREFIX.length);
      answering = answering.then(async () => {
        marks[label.split(" ")[0]!] = readCounters(broker);
        try {
          await run.onMark?.(label);
        } catch (error) {
          failure ??= error as Error;
        }
        process.stdin!.write("ok\n");
      });
    },
  });
  await answering;
  const output = `${child.stderr.trim()}\n${child.stdout.split("\n").filter((l) => !l.startsWith("@")).join("\n").trim()}`.trim();
  if (failure) throw new Error(`${failure.message}\n${output}`);
  if (child.code !== 0 || !result) throw new Error(`${runtime} ${scenario} exited ${child.code ?? "(killed)"}:\n${output}`);
  return { result, marks };
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
