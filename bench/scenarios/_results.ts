/**
 * The cross-runtime runner's results, as rows (not part of kshare's API).
 * `run_all.ts` fills them, `_report.ts` renders them, `_checks.ts` checks
 * their counters.
 *
 * @module
 */
import type { RuntimeName } from "../_child.ts";
import type { LoadResult } from "../http_load.ts";
import type { BrokerCounters } from "./_probe.ts";
import type { ConsumeResult } from "./consume.ts";
import type { HttpApp, HttpServerResult } from "./http.ts";
import type { LookupResult } from "./lookup.ts";
import type { PublishResult } from "./publish.ts";

/** Producer settings of a publish row. */
export type PublishVariant = "defaults" | "no-idempotence" | "linger5";

/** One publish child. */
export interface PublishRow {
  readonly runtime: RuntimeName;
  readonly rttMs: number;
  readonly callers: number;
  readonly mode: "shared" | "recreated";
  readonly variant: PublishVariant;
  readonly result: PublishResult;
  /** Broker counters from the child's start to its `warm` mark (connect and warm-up). */
  readonly setup: BrokerCounters;
  /** Broker counters of the measured phase (`warm` to `done`). */
  readonly measured: BrokerCounters;
}

/** One lookup child. */
export interface LookupRow {
  readonly runtime: RuntimeName;
  readonly result: LookupResult;
}

/** One consume child. */
export interface ConsumeRow {
  readonly runtime: RuntimeName;
  readonly rttMs: number;
  readonly topics: number;
  readonly mode: "shared" | "separate";
  readonly result: ConsumeResult;
  readonly measured: BrokerCounters;
}

/** One HTTP child under one load. */
export interface HttpRow {
  readonly runtime: RuntimeName;
  readonly rttMs: number;
  readonly app: HttpApp;
  readonly connections: number;
  readonly load: LoadResult;
  readonly server: HttpServerResult;
  /** Broker counters while the load ran. */
  readonly measured: BrokerCounters;
}

/** Everything one run of `run_all.ts` produced. */
export interface Results {
  readonly smoke: boolean;
  readonly command: string;
  readonly startedAt: string;
  seconds: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memory: string; readonly os: string };
  /** `/proc/loadavg`'s 1, 5 and 15 minute averages just before the first scenario. */
  readonly loadBefore: readonly number[];
  /** How the run waited for other benchmarks on the machine. */
  readonly quiet: string;
  /** Whether other benchmarks used the CPU while this run measured. */
  quietDuring?: string;
  /** Versions of everything involved, by name. */
  readonly versions: Record<string, string>;
  /** Settings of the run, for the report. */
  readonly plan: Plan;
  readonly publish: PublishRow[];
  readonly lookup: LookupRow[];
  readonly consume: ConsumeRow[];
  readonly http: HttpRow[];
  /** In-process requests/s per layer of the gateway (`bench/http_layers.ts`), per runtime. */
  readonly httpLayers: Array<{ readonly runtime: RuntimeName; readonly layers: ReadonlyArray<{ readonly layer: string; readonly requestsPerSecond: number }> }>;
  /** The throughput runner's markdown report, or why there is none. */
  throughput?: { readonly markdown?: string; readonly error?: string; readonly command: string };
  /** Children that failed, with their error. */
  readonly failures: string[];
}

/** What a run measures and how much. */
export interface Plan {
  readonly runtimes: readonly RuntimeName[];
  readonly brokers: number;
  readonly partitions: number;
  readonly publish: {
    readonly rtts: readonly number[];
    readonly callers: readonly number[];
    /** RTTs at which the variants without idempotence also run. */
    readonly variantRtts: readonly number[];
    readonly shared: { readonly maxOps: number; readonly maxSeconds: number };
    readonly recreated: { readonly maxOps: number; readonly maxSeconds: number };
  };
  readonly lookup: { readonly iterations: number; readonly batches: number; readonly idleSeconds: number };
  readonly consume: {
    readonly rtts: readonly number[];
    readonly topicCounts: readonly number[];
    readonly timeoutMs: number;
    readonly consumer: Readonly<Record<string, string | number>>;
  };
  readonly http: {
    readonly rtts: readonly number[];
    readonly connections: readonly number[];
    readonly seconds: number;
    /** Seconds per layer of `bench/http_layers.ts` (0: not run). */
    readonly layerSeconds: number;
  };
  readonly throughput: { readonly messages: number; readonly repeat: number } | null;
}
