/**
 * How a scenario tells the process hosting the broker where it is, so the
 * host can read the broker's counters at that moment (not part of kshare's
 * API).
 *
 * A scenario calls `await probe.mark("warm")` once its clients are set up and
 * `await probe.mark("done")` when its measured phase ended (clients still
 * open). In one process ({@link brokerProbe}, the smoke test and the bench
 * files) the mark reads the broker directly; in a child process
 * ({@link stdioProbe}, the cross-runtime runner) it writes `@mark <label>` on
 * stdout and waits for the host's `ok` on stdin, so the counters are read
 * while the child is paused between the two phases.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import type { EmbeddedBroker } from "../../testing.ts";

/** Kafka protocol ApiKeys counted besides connections. */
const API_KEY_PRODUCE = 0;
const API_KEY_JOIN_GROUP = 11;

/** The broker's counters at one mark, cumulative since tracking (re)started. */
export interface BrokerCounters {
  /** Connections opened (`broker.connectionsOpened()`). */
  readonly connections: number;
  /** JoinGroup requests: each member sends one per rebalance it takes part in. */
  readonly joinGroups: number;
  /** Produce requests (batches of records). */
  readonly produceRequests: number;
}

/** Where a scenario is; see the module doc. */
export interface Probe {
  /** Record the broker's counters at `label`; resolves once they are recorded. */
  mark(label: string): Promise<void>;
}

/** Read the counters of a broker whose request tracking is on. */
export function readCounters(broker: EmbeddedBroker): BrokerCounters {
  let joinGroups = 0;
  let produceRequests = 0;
  for (const { apiKey } of broker.requests()) {
    if (apiKey === API_KEY_JOIN_GROUP) joinGroups++;
    else if (apiKey === API_KEY_PRODUCE) produceRequests++;
  }
  return { connections: broker.connectionsOpened(), joinGroups, produceRequests };
}

/** Counters between two marks. */
export function between(from: BrokerCounters, to: BrokerCounters): BrokerCounters {
  return {
    connections: to.connections - from.connections,
    joinGroups: to.joinGroups - from.joinGroups,
    produceRequests: to.produceRequests - from.produceRequests,
  };
}

/**
 * A probe for a scenario running in the broker's own process: tracking is
 * (re)started now, so `marks.start` is all zeros.
 */
export function brokerProbe(broker: EmbeddedBroker): Probe & { readonly marks: Record<string, BrokerCounters> } {
  broker.startRequestTracking();
  broker.clearRequests();
  const marks: Record<string, BrokerCounters> = { start: readCounters(broker) };
  return {
    marks,
    mark(label) {
      marks[label] = readCounters(broker);
      return Promise.resolve();
    },
  };
}

/** Prefix of a line a child writes to mark a phase. */
export const MARK_PREFIX = "@mark ";
/** Prefix of the line carrying a child's JSON result. */
export const RESULT_PREFIX = "@result ";

/**
 * The child side: marks go to the host over stdout/stdin. `close()` releases
 * stdin so the process can exit.
 */
export function stdioProbe(): Probe & { close(): void } {
  const lines = createInterface({ input: process.stdin });
  const waiting: Array<() => void> = [];
  lines.on("line", (line) => {
    if (line.trim() === "ok") waiting.shift()?.();
  });
  return {
    mark(label) {
      const acknowledged = new Promise<void>((resolve) => waiting.push(resolve));
      process.stdout.write(`${MARK_PREFIX}${label}\n`);
      return acknowledged;
    },
    close() {
      lines.close();
      process.stdin.destroy?.();
    },
  };
}
