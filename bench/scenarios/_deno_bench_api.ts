/**
 * `Deno.bench`, typed locally: the bench files are type-checked for Node
 * too (`tsc`), where the `Deno` namespace does not exist. Only `deno bench`
 * runs them (not part of kshare's API).
 *
 * @module
 */

/** The part of `Deno.BenchContext` the bench files use. */
export interface BenchContext {
  /** Start the measured part of this iteration (after its setup). */
  start(): void;
  /** End the measured part of this iteration (before its teardown). */
  end(): void;
}

/** The part of `Deno.BenchDefinition` the bench files use. */
export interface BenchDefinition {
  name: string;
  group?: string;
  baseline?: boolean;
  /** Iterations (default: as many as Deno needs for a stable figure). */
  n?: number;
  /** Warm-up iterations (at least one is always run). */
  warmup?: number;
  fn(b: BenchContext): void | Promise<void>;
}

/** `Deno.bench`; throws outside Deno. */
export function bench(definition: BenchDefinition): void {
  const deno = (globalThis as unknown as { Deno?: { bench(definition: BenchDefinition): void } }).Deno;
  if (!deno) throw new Error("the *.bench.ts files run under `deno bench` only");
  deno.bench(definition);
}

/**
 * Register, last, a bench that runs `fn` once (however often Deno calls it):
 * the file's clients and broker are closed before `deno bench` moves on to
 * the next file. Deno.bench has no after-all hook, and a process that exits
 * while librdkafka is being destroyed crashes.
 * Groups run in the order they were first registered, so this runs last.
 */
export function teardown(fn: () => Promise<void>): void {
  let done: Promise<void> | undefined;
  bench({
    name: "(close the clients and the broker)",
    group: "teardown",
    n: 1,
    warmup: 0,
    // Async on purpose: Deno.bench awaits only an async function's promise. A
    // plain function returning one is not awaited, and the process then exits
    // while librdkafka is still being destroyed (SIGSEGV at exit).
    fn: async () => await (done ??= fn()),
  });
}
