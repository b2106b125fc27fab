// The benchmark scenarios in smoke mode (tiny N), on whichever runtime runs this
// file with its default driver, so the benchmarks cannot rot: every scenario
// completes and its counters are consistent. No wall-clock threshold anywhere.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startEmbeddedBroker } from "../testing.ts";
import { between, brokerProbe, type Probe } from "../bench/scenarios/_probe.ts";
import { measureConsume } from "../bench/scenarios/consume.ts";
import { HTTP_BODY, HTTP_HEADERS, HTTP_PATH, HTTP_TOPIC, serveHttp } from "../bench/scenarios/http.ts";
import { measureLookup } from "../bench/scenarios/lookup.ts";
import { measurePublish, type PublishScenario } from "../bench/scenarios/publish.ts";
import { measureThroughput } from "../bench/_throughput.ts";
import { runtimeName } from "../bench/_child.ts";
import { publishRatio, renderChart, renderResults } from "../bench/_render.ts";
import { checkCounters } from "../bench/scenarios/_checks.ts";
import type { PublishRow, Results } from "../bench/scenarios/_results.ts";
import { kcat } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());
let sequence = 0;
/** A new topic whose 3 partitions are led by brokers 1, 2 and 3 (replication factor 1). */
function topic(prefix: string): string {
  const name = `${prefix}-${++sequence}`;
  broker.createTopic(name, 3, 1);
  return name;
}

function publish(options: Partial<PublishScenario> & Pick<PublishScenario, "mode" | "callers" | "maxOps">) {
  const probe = brokerProbe(broker);
  const scenario: PublishScenario = {
    bootstrapServers: broker.bootstrapServers,
    topic: topic("smoke-publish"),
    partitions: 3,
    idempotent: true,
    maxSeconds: 30,
    ...options,
  };
  return measurePublish(scenario, probe).then((result) => ({
    result,
    setup: between(probe.marks.start!, probe.marks.warm!),
    measured: between(probe.marks.warm!, probe.marks.done!),
  }));
}

test("publish, shared: no connection and no client after warm-up, the same connections for 1 and 4 callers", async () => {
  const one = await publish({ mode: "shared", callers: 1, maxOps: 20 });
  const four = await publish({ mode: "shared", callers: 4, maxOps: 20 });
  for (const run of [one, four]) {
    assert.equal(run.result.ops, 20);
    assert.equal(run.measured.connections, 0);
    assert.equal(run.result.clientsCreated, 0);
    assert.ok(run.measured.produceRequests >= 1);
    assert.ok(run.result.p50Ms <= run.result.p99Ms && run.result.p99Ms <= run.result.maxMs);
  }
  assert.ok(one.setup.connections > 0);
  assert.equal(four.setup.connections, one.setup.connections);
});

test("publish, per message: one client and at least one connection per publish, with and without idempotence", async () => {
  for (const idempotent of [true, false]) {
    const run = await publish({ mode: "recreated", callers: 3, maxOps: 3, idempotent });
    assert.equal(run.result.ops, 3);
    assert.equal(run.result.clientsCreated, 3);
    assert.ok(run.measured.connections >= 3, `${run.measured.connections} connections for 3 producers`);
    assert.ok(run.result.peakThreads >= run.result.threads);
  }
});

test("the runner's counter checks and tables on a shared and a per-message publish run", async () => {
  const runtime = runtimeName();
  const row = (mode: "shared" | "recreated", run: Awaited<ReturnType<typeof publish>>): PublishRow => ({
    runtime,
    rttMs: 0,
    callers: 1,
    mode,
    variant: "defaults",
    ...run,
  });
  const shared = row("shared", await publish({ mode: "shared", callers: 1, maxOps: 10 }));
  const recreated = row("recreated", await publish({ mode: "recreated", callers: 1, maxOps: 2 }));
  const results = {
    smoke: true,
    command: "bench_smoke",
    startedAt: new Date().toISOString(),
    seconds: 0,
    machine: { cpu: "cpu", cores: 2, memory: "1 GiB", os: "os" },
    loadBefore: [0, 0, 0],
    versions: {},
    plan: {
      runtimes: [runtime],
      publish: { rtts: [0], callers: [1], variantRtts: [], shared: { maxOps: 10, maxSeconds: 30 }, recreated: { maxOps: 2, maxSeconds: 30 } },
      consume: { topicCounts: [1], rtts: [] },
      http: { connections: [] },
      scripts: {},
    },
    publish: [shared, recreated],
    lookup: [],
    consume: [],
    http: [],
    httpLayers: [],
    throughput: [],
    scripts: [],
    failures: [],
  } as unknown as Results;
  const checks = checkCounters(results);
  assert.equal(checks.length, 2);
  assert.deepEqual(checks.filter((c) => !c.ok), []);
  // A shared row that opened a connection while measuring breaks a check.
  const leaky = { ...shared, measured: { ...shared.measured, connections: 1 } };
  assert.equal(checkCounters({ ...results, publish: [leaky, recreated] }).filter((c) => !c.ok).length, 1);

  const ratio = publishRatio(results, runtime, 0, 1)!;
  assert.equal(ratio, shared.result.opsPerSecond / recreated.result.opsPerSecond);
  const shown = ratio >= 10 ? `${Math.round(ratio).toLocaleString("en-US")}×` : `${ratio.toFixed(1)}×`;
  const markdown = renderResults(results, checks, "chart.svg");
  assert.ok(markdown.includes(`| defaults | ${shown} |`), markdown);
  assert.ok(markdown.includes("2 of 2 hold."));
  assert.ok(renderChart(results).includes(`${shown.replace(/[×,]/g, "")}</text>`));
});

test("lookup: every lookup returns the one shared handle", async () => {
  const result = await measureLookup({ bootstrapServers: broker.bootstrapServers, iterations: 200, batches: 2, idleSeconds: 0.05 }, brokerProbe(broker));
  assert.equal(result.sameHandle, true);
  for (const ns of [result.sameObjectNs, result.equalObjectNs, result.moduleVariableAwaitNs, result.moduleVariableReadNs]) {
    assert.ok(Number.isFinite(ns) && ns >= 0);
  }
});

test("consume: one shared consumer for 1 or 3 topics opens the same connections; 2 separate consumers rebalance", async () => {
  // A short session: the embedded coordinator holds a rebalance for the session timeout minus 1 s.
  const consumer = { "session.timeout.ms": 2000, "heartbeat.interval.ms": 200, "log_level": 3 };
  const run = async (count: number, mode: "shared" | "separate") => {
    const probe = brokerProbe(broker);
    const topics = Array.from({ length: count }, () => topic("smoke-consume"));
    const result = await measureConsume({
      bootstrapServers: broker.bootstrapServers,
      topics,
      mode,
      groupId: `smoke-${++sequence}`,
      timeoutMs: 30_000,
      consumer,
    }, probe);
    assert.equal(result.topicsReached, count);
    assert.notEqual(result.firstMessagesSeconds, null);
    assert.equal(result.consumers, mode === "shared" ? 1 : count);
    // Connections counted up to close: at `done` (first messages) some may still be setting up.
    return { result, measured: between(probe.marks.warm!, probe.marks.closed!) };
  };
  const one = await run(1, "shared");
  const three = await run(3, "shared");
  assert.equal(three.measured.connections, one.measured.connections);
  assert.equal(three.measured.joinGroups, 1);
  assert.equal(three.result.assignments, 1);
  const separate = await run(2, "separate");
  assert.ok(separate.measured.connections > one.measured.connections);
  assert.ok(separate.result.assignments >= 2);
});

test("http: the gateway and the bare handler open nothing under load; the naive one a producer per request", async () => {
  broker.createTopic(HTTP_TOPIC, 3, 1);
  for (const app of ["bare", "bare-auth", "gateway", "naive"] as const) {
    let answered = 0;
    const inner = brokerProbe(broker);
    // The runner puts wrk's load between the marks; here, a few requests.
    const probe: Probe = {
      async mark(label) {
        await inner.mark(label.split(" ")[0]!);
        if (!label.startsWith("warm ")) return;
        await Promise.all(Array.from({ length: 4 }, async () => {
          const response = await fetch(label.slice("warm ".length) + HTTP_PATH, { method: "POST", headers: HTTP_HEADERS, body: HTTP_BODY });
          await response.arrayBuffer();
          assert.ok(response.status < 300, `${app} answered ${response.status}`);
          answered++;
        }));
      },
    };
    const result = await serveHttp({ bootstrapServers: broker.bootstrapServers, app, warmupRequests: 2 }, probe);
    assert.equal(answered, 4);
    assert.deepEqual(Object.keys(result.statuses), [app.startsWith("bare") ? "202" : "200"]);
    const measured = between(inner.marks.warm!, inner.marks.done!);
    if (app === "naive") {
      assert.equal(result.clientsCreated, 4);
      assert.ok(measured.connections >= 4);
    } else {
      assert.equal(result.clientsCreated, 0);
      assert.equal(measured.connections, 0);
    }
  }
});

test("throughput: every record published (and one warm-up per partition) is on the broker, with both linger settings, awaited or forgotten", async () => {
  for (const [linger, forget] of [[undefined, false], ["5", false], ["5", true]] as const) {
    const name = topic("smoke-throughput");
    const result = await measureThroughput({
      bootstrapServers: broker.bootstrapServers,
      topic: name,
      partitions: 3,
      messages: 2_000,
      inFlight: 500,
      forget,
      driver: "default",
      producer: linger === undefined ? {} : { "linger.ms": linger },
    });
    assert.equal(result.messages, 2_000);
    assert.equal(result.forget, forget);
    assert.ok(result.messagesPerSecond > 0);
    // The broker's end offsets, read by kcat: what it holds, whoever wrote it.
    const offsets = await kcat(["-b", broker.bootstrapServers, "-Q", ...[0, 1, 2].flatMap((p) => ["-t", `${name}:${p}:-1`])]);
    const stored = [...offsets.matchAll(/offset (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(stored, 2_000 + result.warmup);
  }
});
