/**
 * Scale: many live producers of distinct security contexts in one process,
 * as a gateway with many tenants holds them. Issue 12: time to connect them
 * all, threads, RSS per context, idle CPU, and what bounds it.
 *
 *   npx deno run -A bench/scale.ts [--contexts 1000]
 *   npx bun bench/scale.ts
 *   node --import tsx bench/scale.ts
 *   npm run bench:all -- --only scale                     # the three runtimes, one table (bench/run_all.ts)
 *
 * Each context differs by its `isolation` label only, so each gets a client of
 * its own against the same broker (the embedded broker, in a child process,
 * so its threads and memory are not counted here). The run:
 * 1. connects every producer, `--concurrency` at a time (`registry.producer`
 *    of a new context: client creation, broker connections, a reachability
 *    check);
 * 2. publishes one record through each and awaits every acknowledgement;
 * 3. idles `--idle-seconds` and measures the process's CPU over that time;
 * 4. closes the registry (every producer flushed and destroyed).
 * It prints one JSON line (with `--json`) or a Markdown row.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { cpuSeconds, int, mib, rssBytes, spawnBroker, threadCount } from "./_util.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    contexts: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "50" },
    "idle-seconds": { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});

interface Row {
  runtime: string;
  contexts: number;
  connectSeconds: number;
  publishSeconds: number;
  threads: number | null;
  threadsBefore: number | null;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerContextBytes: number;
  idleCpuPercent: number;
  closeSeconds: number;
}

const header =
  "| runtime | contexts | connect all (s) | publish one each (s) | threads (before → with all) | RSS (before → with all) | RSS per context | idle CPU (% of a core) | close all (s) |\n" +
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";

function markdownRow(r: Row): string {
  const perContext = r.rssPerContextBytes;
  return `| ${r.runtime} | ${int(r.contexts)} | ${r.connectSeconds.toFixed(1)} | ${r.publishSeconds.toFixed(1)} | ` +
    `${r.threadsBefore ?? "?"} → ${r.threads ?? "?"} | ${mib(r.rssBeforeBytes)} → ${mib(r.rssAfterBytes)} | ` +
    `${(perContext / 1024).toFixed(0)} KiB | ${r.idleCpuPercent.toFixed(1)} | ${r.closeSeconds.toFixed(1)} |`;
}

async function runOne(): Promise<Row> {
  const contexts = Number(values.contexts);
  const concurrency = Number(values.concurrency);
  const idleSeconds = Number(values["idle-seconds"]);
  const broker = await spawnBroker({ brokers: 1, topics: { scale: 1 } });
  const topic = defineTopic({ name: "scale", schema: v.string() });
  const registry = createRegistry({ maxContexts: contexts });
  const contextOf = (i: number) => ({ bootstrapServers: broker.bootstrapServers, isolation: `tenant-${i}` });
  try {
    const threadsBefore = threadCount() ?? null;
    const rssBefore = rssBytes();
    let started = performance.now();
    for (let i = 0; i < contexts; i += concurrency) {
      const batch = [];
      for (let j = i; j < Math.min(contexts, i + concurrency); j++) batch.push(registry.producer(contextOf(j)));
      await Promise.all(batch);
    }
    const connectSeconds = (performance.now() - started) / 1000;

    started = performance.now();
    await Promise.all(
      Array.from({ length: contexts }, async (_, i) => (await registry.producer(contextOf(i))).publish(topic, `from ${i}`)),
    );
    const publishSeconds = (performance.now() - started) / 1000;
    const live = Object.values(registry.stats().contexts).filter((c) => c.liveProducers > 0).length;
    if (live !== contexts) throw new Error(`scale: ${live} live producers, expected ${contexts}`);

    const threads = threadCount() ?? null;
    const rssAfter = rssBytes();
    const cpuBefore = cpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idleCpuPercent = ((cpuSeconds() - cpuBefore) / idleSeconds) * 100;

    started = performance.now();
    await registry.close();
    const closeSeconds = (performance.now() - started) / 1000;
    return {
      runtime: `${runtimeName()} ${runtimeVersion()}`,
      contexts,
      connectSeconds,
      publishSeconds,
      threads,
      threadsBefore,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssPerContextBytes: (rssAfter - rssBefore) / contexts,
      idleCpuPercent,
      closeSeconds,
    };
  } finally {
    await registry.close();
    await broker.stop();
  }
}

const row = await runOne();
console.log(values.json ? JSON.stringify(row) : `${header}\n${markdownRow(row)}`);
