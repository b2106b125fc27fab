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

/** One round of one throughput row (`bench/throughput.ts` in a child, or `kcat -P`). */
export interface ThroughputSample {
  /** The row: `deno`, `node-confluent-forget`, `kcat`, … */
  readonly id: string;
  readonly runtime: RuntimeName | "C";
  /** The driver's name (`ffi-deno`, `confluent-node`) or which kcat. */
  readonly driver: string;
  readonly lingerMs: number;
  readonly mode: "awaited" | "forget" | "kcat";
  readonly round: number;
  readonly messagesPerSecond: number;
  /** kshare rows: from the first publish to the last delivery report; kcat: from its first Produce request to its exit. */
  readonly seconds: number;
  /** CPU of the whole client process while publishing (kshare rows only). */
  readonly cpuSeconds?: number;
  readonly peakRssBytes: number;
  readonly librdkafkaVersion: string;
  /** kcat only: wall time of the whole process. */
  readonly kcatWallSeconds?: number;
}

/** What a script step (`soak.ts`, `scale.ts`, …) printed as its JSON result on one runtime. */
export interface ScriptRow {
  readonly step: string;
  readonly runtime: RuntimeName;
  /** The script's exit code: 0 when it met what it checks. */
  readonly code: number | null;
  readonly result?: Readonly<Record<string, unknown>>;
}

/** Everything one run of `run_all.ts` produced: what `_render.ts` renders and `_checks.ts` checks. */
export interface Results {
  readonly smoke: boolean;
  readonly command: string;
  readonly startedAt: string;
  seconds: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memory: string; readonly os: string };
  /** `/proc/loadavg`'s 1, 5 and 15 minute averages before the first step and after the last. */
  readonly loadBefore: readonly number[];
  loadAfter?: readonly number[];
  /** Versions of everything involved, by name. */
  readonly versions: Record<string, string>;
  readonly plan: Plan;
  readonly publish: PublishRow[];
  readonly lookup: LookupRow[];
  readonly consume: ConsumeRow[];
  readonly http: HttpRow[];
  /** In-process requests/s per layer of the gateway (`bench/http_layers.ts`), per runtime. */
  readonly httpLayers: Array<{ readonly runtime: RuntimeName; readonly layers: ReadonlyArray<{ readonly layer: string; readonly requestsPerSecond: number }> }>;
  readonly throughput: ThroughputSample[];
  readonly scripts: ScriptRow[];
  /** Children that failed, with their error. */
  readonly failures: string[];
}

/** What a run measures and how much. */
export interface Plan {
  readonly runtimes: readonly RuntimeName[];
  readonly steps: readonly string[];
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
  readonly throughput: { readonly messages: number; readonly repeat: number; readonly inFlight: number; readonly rows: readonly string[] };
  /** Arguments of each script step, by step name. */
  readonly scripts: Readonly<Record<string, readonly string[]>>;
}
