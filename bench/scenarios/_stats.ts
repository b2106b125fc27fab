/**
 * Latency summaries and process samples for the benchmark scenarios (not
 * part of kshare's API). `node:*` only, so it runs on Deno, Bun and Node.
 *
 * @module
 */
import { peakRssBytes, threadCount } from "../_util.ts";

/** Latencies of a measured phase, in milliseconds. */
export interface LatencySummary {
  /** Operations completed. */
  readonly ops: number;
  /** Wall-clock seconds from the first operation's start to the last one's end. */
  readonly seconds: number;
  /** `ops / seconds`. */
  readonly opsPerSecond: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile `q` (0..1) of an ascending array. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarise `latencies` (ms, any order) of `ops` operations that took `seconds` altogether. */
export function summarize(latencies: Float64Array, seconds: number): LatencySummary {
  const sorted = latencies.slice().sort();
  let sum = 0;
  for (const l of sorted) sum += l;
  const ops = sorted.length;
  return {
    ops,
    seconds,
    opsPerSecond: seconds > 0 ? ops / seconds : NaN,
    meanMs: ops > 0 ? sum / ops : NaN,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: ops > 0 ? sorted[ops - 1]! : NaN,
  };
}

/** What a scenario reports about its own process. */
export interface ProcessSample {
  /** Threads at the end of the measured phase, clients still open. */
  readonly threads: number;
  /** Most threads seen while measuring (sampled every 20 ms). */
  readonly peakThreads: number;
  /** Peak resident set size of the process so far (VmHWM), in bytes. */
  readonly peakRssBytes: number;
}

/**
 * Sample the thread count every 20 ms until `stop()`, which returns the
 * sample. The timer is unref'ed where the runtime allows it.
 */
export function sampleProcess(): { stop(): ProcessSample } {
  let peak = threadCount() ?? NaN;
  const timer = setInterval(() => (peak = Math.max(peak, threadCount() ?? NaN)), 20);
  (timer as { unref?: () => void }).unref?.();
  return {
    stop() {
      clearInterval(timer);
      const threads = threadCount() ?? NaN;
      return { threads, peakThreads: Math.max(peak, threads), peakRssBytes: peakRssBytes() };
    },
  };
}
