/**
 * Publish one message and await its delivery report: the shared producer
 * (`await registry.producer(ctx)`, baseline) versus creating, connecting,
 * publishing and closing a producer per message, with kshare's defaults
 * (acks=all, idempotence) and without idempotence (acks=1).
 *
 *   npx deno bench -A bench/publish.bench.ts
 *
 * One embedded broker (3 brokers) for the whole file, loopback, no emulated
 * RTT (`bench/run_all.ts` covers RTT 2 and 20 ms and the other runtimes).
 * The shared producer is connected before the first iteration; iteration
 * counts are fixed because a per-message producer takes milliseconds (FFI)
 * to half a second (Node's Confluent client, idempotent) per iteration.
 *
 * @module
 */
import { startEmbeddedBroker } from "../testing.ts";
import { benchDriver, countingLogger } from "./scenarios/_driver.ts";
import { bench, teardown } from "./scenarios/_deno_bench_api.ts";
import { publishContext, type Publisher, publisher } from "./scenarios/publish.ts";

const PARTITIONS = 3;
const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
broker.createTopic("publish-bench", PARTITIONS, 1);
const driver = await benchDriver();
const logger = countingLogger();

const settings = [
  { group: "publish + await report, kshare defaults (acks=all, idempotent)", idempotent: true },
  { group: "publish + await report, no idempotence (acks=1)", idempotent: false },
] as const;

const open: Publisher[] = [];
for (const { group, idempotent } of settings) {
  const ctx = publishContext({ bootstrapServers: broker.bootstrapServers, idempotent });
  const shared = publisher("shared", driver, ctx, "publish-bench", logger);
  const perMessage = publisher("recreated", driver, ctx, "publish-bench", logger);
  await shared.warmUp(1, PARTITIONS);
  await perMessage.warmUp(1, PARTITIONS);
  open.push(shared, perMessage);
  bench({ name: "shared producer", group, baseline: true, n: 2000, warmup: 50, fn: shared.publishOnce });
  bench({ name: "producer per message (create, connect, publish, close)", group, n: 20, warmup: 1, fn: perMessage.publishOnce });
}
{
  const group = "publish + await report, kshare defaults (acks=all, idempotent)";
  // librdkafka's own default, and kshare's until it set linger.ms=0: a lone awaited publish waits it out.
  const ctx = publishContext({ bootstrapServers: broker.bootstrapServers, idempotent: true, producer: { "linger.ms": 5 } });
  const lingering = publisher("shared", driver, ctx, "publish-bench", logger);
  await lingering.warmUp(1, PARTITIONS);
  open.push(lingering);
  bench({ name: "shared producer with linger.ms: 5", group, n: 200, warmup: 5, fn: lingering.publishOnce });
}

teardown(async () => {
  for (const way of open) await way.close();
  await broker.stop();
});
