/**
 * The registry's lookup on a warm registry: `registry.producer(ctx)` with
 * the same context object and with an equal new object per call, against
 * reading a module-level variable that already holds the producer — awaited
 * (as a caller of `registry.producer` awaits) and as a plain read.
 *
 *   npx deno bench -A bench/lookup.bench.ts
 *
 * @module
 */
import { createRegistry, type Producer, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { benchDriver } from "./scenarios/_driver.ts";
import { bench, teardown } from "./scenarios/_deno_bench_api.ts";

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
const registry = createRegistry({ driver: await benchDriver() });
const servers = broker.bootstrapServers;
/** The context a service builds per request: equal every time, never the same object. */
const contextOf = (): SecurityContext => ({ bootstrapServers: servers, clientId: "kshare-bench", producer: { "message.timeout.ms": 30_000 } });
const ctx = contextOf();

/** The module-level variable of the baseline. */
const held: Producer = await registry.producer(ctx);
await registry.producer(contextOf());
/** Written by the plain reads so they cannot be optimised away. */
let sink: unknown;

bench({ name: "await module variable", group: "lookup, awaited", baseline: true, fn: async () => void (sink = await held) });
bench({ name: "await registry.producer(ctx), same object", group: "lookup, awaited", fn: async () => void (sink = await registry.producer(ctx)) });
bench({
  name: "await registry.producer({...}), equal new object",
  group: "lookup, awaited",
  fn: async () => void (sink = await registry.producer(contextOf())),
});

bench({ name: "module variable", group: "lookup, not awaited", baseline: true, fn: () => void (sink = held) });
bench({ name: "registry.producer(ctx), same object (the promise)", group: "lookup, not awaited", fn: () => void (sink = registry.producer(ctx)) });
bench({
  name: "registry.producer({...}), equal new object (the promise)",
  group: "lookup, not awaited",
  fn: () => void (sink = registry.producer(contextOf())),
});

teardown(async () => {
  // `sink` is read so the lookups' results stay observable.
  if (sink === undefined) console.error("no lookup ran");
  await registry.close();
  await broker.stop();
});
