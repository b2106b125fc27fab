/**
 * The registry's lookup cost on a warm registry: `await registry.producer(ctx)`
 * with the same context object and with an equal new object, beside reading
 * a module-level variable that already holds the producer (awaited, and a
 * plain read). No publishing: only the lookup.
 *
 * The variants first run in turn for `warmupMs` each (default 250 ms: one
 * batch is a few ms, less than an optimising compiler that runs in the
 * background, as JavaScriptCore's does, may take on a busy machine). Then
 * each runs `batches` batches of `iterations` lookups, the variants taking
 * turns batch by batch, so a neighbour's burst slows them alike; the result
 * is the median batch in nanoseconds per lookup (the median, so a GC pause
 * in one batch does not move it). Then the process stays
 * idle for `idleSeconds` with the producer connected, and its CPU time over
 * that window is reported: an idle shared producer should cost next to none.
 *
 * @module
 */
import { createRegistry, type Producer, type SecurityContext } from "../../mod.ts";
import { cpuSeconds } from "../_util.ts";
import { benchDriver } from "./_driver.ts";
import type { Probe } from "./_probe.ts";
import { type ProcessSample, sampleProcess } from "./_stats.ts";

/** Options of {@link measureLookup}. */
export interface LookupScenario {
  readonly bootstrapServers: string;
  /** Lookups per batch. */
  readonly iterations: number;
  /** Batches per variant. */
  readonly batches: number;
  /** Run each variant this long before its measured batches (default 250). */
  readonly warmupMs?: number;
  /** Then stay idle this long with the producer connected, measuring the process's CPU. */
  readonly idleSeconds: number;
}

/** Nanoseconds per lookup, median of the batches. */
export interface LookupResult extends ProcessSample {
  readonly scenario: "lookup";
  readonly driver: string;
  readonly librdkafkaVersion: string;
  /** `await registry.producer(ctx)`, the same `ctx` object every time. */
  readonly sameObjectNs: number;
  /** `await registry.producer({ ...equal })`: a new, equal object built per lookup. */
  readonly equalObjectNs: number;
  /** `await producer` where `producer` is a module-level variable. */
  readonly moduleVariableAwaitNs: number;
  /** `producer`, a plain read of the module-level variable (mostly loop overhead). */
  readonly moduleVariableReadNs: number;
  /** The same handle was returned for every lookup. */
  readonly sameHandle: boolean;
  /** CPU of the whole process (all threads) while idle with a connected producer, in % of one core. */
  readonly idleCpuPercent: number;
}

/** The module-level variable of the baseline. */
let held: Producer | undefined;
/** Written by the plain-read loop so the read cannot be optimised away. */
let sink: unknown;

/** The context a service would build per request: equal, never the same object. */
function contextOf(bootstrapServers: string): SecurityContext {
  return { bootstrapServers, clientId: "kshare-bench", producer: { "message.timeout.ms": 30_000 } };
}

/** Run the lookup scenario; see the module doc. */
export async function measureLookup(options: LookupScenario, probe: Probe): Promise<LookupResult> {
  const driver = await benchDriver();
  const registry = createRegistry({ driver });
  try {
    const ctx = contextOf(options.bootstrapServers);
    held = await registry.producer(ctx);
    await registry.producer(contextOf(options.bootstrapServers));
    await probe.mark("warm");
    const sampler = sampleProcess();
    let sameHandle = true;
    const { iterations, batches } = options;
    const servers = options.bootstrapServers;

    const variants = {
      sameObject: async () => {
        for (let i = 0; i < iterations; i++) if ((await registry.producer(ctx)) !== held) sameHandle = false;
      },
      equalObject: async () => {
        for (let i = 0; i < iterations; i++) if ((await registry.producer(contextOf(servers))) !== held) sameHandle = false;
      },
      moduleVariableAwait: async () => {
        for (let i = 0; i < iterations; i++) if ((await held) === undefined) sameHandle = false;
      },
      moduleVariableRead: () => {
        for (let i = 0; i < iterations; i++) sink = held;
      },
    };
    const runs = Object.values(variants);
    const warmUntil = performance.now() + (options.warmupMs ?? 250) * runs.length;
    do for (const batch of runs) await batch(); while (performance.now() < warmUntil);
    // Round robin, so a neighbour's burst slows every variant alike and the ratios stay fair.
    const perOp: number[][] = runs.map(() => []);
    for (let b = 0; b < batches; b++) {
      for (let v = 0; v < runs.length; v++) {
        const t0 = performance.now();
        await runs[v]!();
        perOp[v]!.push(((performance.now() - t0) * 1e6) / iterations);
      }
    }
    const [sameObjectNs, equalObjectNs, moduleVariableAwaitNs, moduleVariableReadNs] = perOp.map((ns) => {
      ns.sort((a, b) => a - b);
      return ns[Math.floor(ns.length / 2)]!;
    }) as [number, number, number, number];
    if (sink !== held) sameHandle = false;
    await probe.mark("done");
    const sample = sampler.stop();
    // Idle: a connected producer with nothing to deliver should cost (next to) no CPU.
    const cpuBefore = cpuSeconds();
    const idleStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
    const idleCpuPercent = ((cpuSeconds() - cpuBefore) / ((performance.now() - idleStart) / 1000)) * 100;
    return {
      scenario: "lookup",
      driver: driver.name,
      librdkafkaVersion: driver.librdkafkaVersion,
      sameObjectNs,
      equalObjectNs,
      moduleVariableAwaitNs,
      moduleVariableReadNs,
      sameHandle,
      idleCpuPercent,
      ...sample,
    };
  } finally {
    held = undefined;
    await registry.close();
  }
}
