// Issue #12: the registry's bound on live security contexts against the embedded broker, on the
// runtime's own driver (Confluent on Node, FFI on Deno and Bun): contexts varied per call stay within
// maxContexts at every observation, evicted ones reconnect on their next use, and kcat reads back every
// record kshare acknowledged. Then the gateway, as a process, bounds its users' contexts from its environment.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { createRegistry, defineTopic, type KafkaDriver, type Producer, type ProducerClient, resolveSecurityContext, type SecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { loadDefaultDriver } from "../src/drivers/default.ts";
import { kcatRead, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
after(() => broker.stop());

/**
 * The runtime's driver, counting the producer clients it has open (created and not yet closed), those
 * created per `client.id`, and produces handed to a client already closing: what the bound is for, seen
 * from below the registry.
 */
function countingDriver() {
  const counts = { open: 0, maxOpen: 0, created: new Map<string, number>(), producedAfterClose: 0 };
  const load = async (): Promise<KafkaDriver> => {
    const inner = await loadDefaultDriver();
    return {
      name: inner.name,
      librdkafkaVersion: inner.librdkafkaVersion,
      async createProducer(config, events): Promise<ProducerClient> {
        // Open from the start: librdkafka starts a client's threads before it connects.
        counts.maxOpen = Math.max(counts.maxOpen, ++counts.open);
        let client: ProducerClient;
        try {
          client = await inner.createProducer(config, events);
        } catch (error) {
          counts.open--;
          throw error;
        }
        const id = config.properties["client.id"]!;
        counts.created.set(id, (counts.created.get(id) ?? 0) + 1);
        let closing = false;
        return {
          produce: (record) => {
            if (closing) counts.producedAfterClose++;
            return client.produce(record);
          },
          flush: (timeoutMs) => client.flush(timeoutMs),
          ping: (timeoutMs) => client.ping(timeoutMs),
          close: (timeoutMs) => {
            closing = true;
            return client.close(timeoutMs).finally(() => counts.open--);
          },
        };
      },
      createConsumer: (config, events) => inner.createConsumer(config, events),
    };
  };
  return { counts, load };
}

test(
  "10,000 publishes, the context varied per call over 50 contexts: at most 8 live at every observation, evicted ones reconnect, kcat reads every acknowledged record",
  {
    timeout: 300_000,
  },
  async () => {
    const MAX_CONTEXTS = 8;
    const CONTEXTS = 50;
    const PUBLISHES = 10_000;
    const RUN = 40; // publishes per visit of a context, all in flight at once
    const WORKERS = MAX_CONTEXTS; // at most one context per worker busy: the bound holds without going over
    const topicName = "bounds";
    broker.createTopic(topicName, 3);
    const Record = v.object({ id: v.string(), context: v.number(), seq: v.number() });
    const t = defineTopic({ name: topicName, schema: Record, key: (r) => r.id });

    const driver = countingDriver();
    const kafka = createRegistry({ driver: driver.load, maxContexts: MAX_CONTEXTS, logger: quietLogger() });
    // A new object on every call, as a caller building it from a request's credentials does.
    const contextOf = (k: number): SecurityContext => ({ bootstrapServers: broker.bootstrapServers, clientId: `bounds-${k}` });
    const fingerprintOf = (k: number) => resolveSecurityContext(contextOf(k)).fingerprint;
    let observations = 0;
    const observe = () => {
      const live = kafka.stats().liveContexts;
      assert.ok(live <= MAX_CONTEXTS, `${live} live contexts`);
      assert.ok(driver.counts.open <= MAX_CONTEXTS, `${driver.counts.open} producer clients open`);
      observations++;
    };
    const published = new Map<string, v.InferOutput<typeof Record>>();
    const publish = async (producer: Producer, value: v.InferOutput<typeof Record>) => {
      await producer.publish(t, value);
      published.set(value.id, value); // acknowledged
      observe();
    };

    // Closed however the test ends: a failed assertion must not leave clients running (the process would not exit).
    try {
      // A handle kept across the whole run, of a context used only before it: the first to be evicted.
      const kept = await kafka.producer({ bootstrapServers: broker.bootstrapServers, clientId: "bounds-kept" });
      await publish(kept, { id: "kept-before", context: -1, seq: -1 });
      let nextVisit = 0;
      const worker = async () => {
        for (let visit = nextVisit++; visit * RUN < PUBLISHES; visit = nextVisit++) {
          const k = visit % CONTEXTS;
          await Promise.all(Array.from({ length: RUN }, async (_, i) => {
            const producer = await kafka.producer(contextOf(k));
            observe();
            const seq = visit * RUN + i;
            await publish(producer, { id: `r-${seq}`, context: k, seq });
          }));
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      assert.equal(published.size, PUBLISHES + 1);
      assert.ok(observations >= 2 * PUBLISHES);

      // Evicted contexts reconnected on their next use: no publish went to a client being closed, and contexts
      // came back with a new client. (How many visits overlap, and so share a client, depends on the runtime's speed.)
      assert.equal(driver.counts.producedAfterClose, 0);
      const stats = kafka.stats();
      assert.ok(stats.evictions.bound > 0);
      assert.ok([...driver.counts.created.values()].reduce((a, b) => a + b) > CONTEXTS, "no context was connected twice");
      assert.ok(Object.keys(stats.contexts).length <= MAX_CONTEXTS);
      const evicted = Array.from({ length: CONTEXTS }, (_, k) => k).find((k) => !(kafka.stats().contexts[fingerprintOf(k)]))!;
      const connects = driver.counts.created.get(`bounds-${evicted}`)!;
      await publish(await kafka.producer(contextOf(evicted)), { id: "evicted-after", context: evicted, seq: PUBLISHES });
      assert.equal(driver.counts.created.get(`bounds-${evicted}`), connects + 1);
      // The kept handle was retired by an eviction and still publishes, through a new client of its context.
      assert.equal(kept.retired, true);
      await publish(kept, { id: "kept-after", context: -1, seq: PUBLISHES + 1 });
      assert.equal(driver.counts.created.get("bounds-kept"), 2);
    } finally {
      await kafka.close();
    }
    assert.equal(driver.counts.open, 0, "every producer client was closed");
    assert.ok(driver.counts.maxOpen <= MAX_CONTEXTS);

    const records = await kcatRead(broker.bootstrapServers, topicName);
    assert.equal(records.length, published.size, "kcat reads exactly the acknowledged records");
    const read = new Map(records.map((r) => [r.key, JSON.parse(r.payload!) as unknown]));
    assert.equal(read.size, published.size, "no record twice");
    for (const [id, value] of published) assert.deepEqual(read.get(id), value, id);
  },
);

/** The gateway on this runtime, as `npm start` runs it, with `env`: its output lines, and the first line matching a pattern. */
function startGateway(env: Record<string, string>) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  const args = runtime.Deno
    ? ["run", "--allow-net", "--allow-env", "--allow-ffi", "--allow-read", "gateway/main.ts"]
    : runtime.Bun
    ? ["gateway/main.ts"]
    : ["--import", "tsx", "gateway/main.ts"];
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|GATEWAY_|PORT$|HOST$)/.test(k)));
  const child = spawn(process.execPath, args, { cwd: root, env: { ...base, NO_COLOR: "1", PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let waiters: Array<{ pattern: RegExp; resolve: (line: string | undefined) => void }> = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  exited.then(() => waiters.forEach((w) => w.resolve(undefined)));
  const onData = (chunk: string) => {
    for (const line of chunk.split("\n").filter((l) => l !== "")) {
      lines.push(line);
      waiters = waiters.filter((w) => (w.pattern.test(line) ? (w.resolve(line), false) : true));
    }
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  /** The first line matching `pattern`, printed or to come; rejects if the gateway exits first. */
  const line = async (pattern: RegExp): Promise<string> => {
    const found = lines.find((l) => pattern.test(l)) ??
      await new Promise<string | undefined>((resolve) => waiters.push({ pattern, resolve }));
    if (found === undefined) throw new Error(`gateway exited before printing ${pattern}:\n${lines.join("\n")}`);
    return found;
  };
  return { child, line, exited };
}

test("the gateway bounds its users' contexts from GATEWAY_MAX_CONTEXTS: one live at a time, the others reconnect, /metrics shows only it", {
  timeout: 60_000,
}, async () => {
  broker.createTopic("orders", 3);
  const gateway = startGateway({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
    GATEWAY_USERS: "alice:alice-secret,bob:bob-secret",
    GATEWAY_MAX_CONTEXTS: "1",
    GATEWAY_CONTEXT_IDLE_TIMEOUT_MS: "120000",
  });
  try {
    const url = (await gateway.line(/listening on http:/)).match(/listening on (http:\/\/\S+)/)![1]!;
    assert.equal(
      await gateway.line(/Kafka contexts:/),
      "kshare-gateway: Kafka contexts: at most 1 connected at once; one idle for 120 s is closed (GATEWAY_MAX_CONTEXTS, GATEWAY_CONTEXT_IDLE_TIMEOUT_MS)",
    );
    const produce = async (user: string, id: string) => {
      const res = await fetch(`${url}/v3/clusters/kshare/topics/orders/records`, {
        method: "POST",
        headers: { Authorization: `Basic ${btoa(`${user}:${user}-secret`)}`, "Content-Type": "application/json" },
        body: JSON.stringify({ value: { data: { id, customer: user, total: 1 } } }),
      });
      const body = await res.text();
      assert.equal(res.status, 200, body);
    };
    for (const [user, id] of [["alice", "g-1"], ["bob", "g-2"], ["alice", "g-3"]] as const) await produce(user, id);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^kshare_live_contexts 1$/m);
    assert.match(metrics, /^kshare_context_evictions_total\{reason="bound"\} 2$/m);
    assert.equal(metrics.match(/^kshare_live_producers\{/gm)?.length, 1, metrics);
    for (const leak of ["alice", "bob", "secret"]) assert.ok(!metrics.includes(leak), `metrics mention ${leak}`);
    const records = await kcatRead(broker.bootstrapServers, "orders");
    assert.deepEqual(records.map((r) => JSON.parse(r.payload!).id).sort(), ["g-1", "g-2", "g-3"]);
  } finally {
    if (gateway.child.exitCode === null) process.kill(gateway.child.pid!, "SIGTERM");
    assert.equal(await gateway.exited, 0);
  }
});
