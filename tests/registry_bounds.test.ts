// The registry's bounds on live security contexts (maxContexts, idleTimeoutMs) against an in-memory
// driver: which context goes, when, what is never closed, and what a caller holding a handle sees.
// Time is node:test's mock clock (Node, Deno and Bun run it); the broker-level proof is
// registry_bounds_kafka.test.ts.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { createRegistry, defineTopic, resolveSecurityContext, type SecurityContext } from "../mod.ts";
import { createMetrics } from "../hono.ts";
import type { ClientConfig, ClientEvents, DeliveryReport, ProducerClient } from "../src/driver.ts";
import { gatewayConfig, GatewayConfigError } from "../gateway/config.ts";
import { FakeDriver, type FakeProducer } from "./_fake_driver.ts";
import { gate, quietLogger } from "./_helpers.ts";

const silent = { warn() {}, error() {} };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
/** A distinct context per name (its client id), as a caller builds it anew per call. */
const ctx = (name: string): SecurityContext => ({ bootstrapServers: "fake:9092", clientId: name });
const fingerprintOf = (name: string) => resolveSecurityContext(ctx(name)).fingerprint;
/** One turn of the event loop: a connect's callers get that long before its context may be evicted. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A fake driver that can hold producers' acknowledgements (work in flight) and their closes, and
 * records what happened in order: `connect <client.id>`, `close <client.id>`.
 */
class BoundsDriver extends FakeDriver {
  readonly log: string[] = [];
  /** While set, every produce waits until the test calls the function it pushed to `held`. */
  holdAcks = false;
  readonly held: Array<() => void> = [];
  /** While set, closes wait for it. */
  closeGate: Promise<void> | undefined;

  override async createProducer(config: ClientConfig, events: ClientEvents): Promise<ProducerClient> {
    // A connect takes a turn of the event loop, as a real one does: a registry that kept reconnecting
    // would let timers run, and a test's timeout end it.
    await turn();
    const producer = await super.createProducer(config, events) as FakeProducer;
    const name = config.properties["client.id"];
    this.log.push(`connect ${name}`);
    const { produce, close } = producer;
    producer.produce = (record) => {
      if (!this.holdAcks) return produce(record);
      return new Promise<DeliveryReport>((resolve, reject) => this.held.push(() => produce(record).then(resolve, reject)));
    };
    producer.close = (timeoutMs) => {
      this.log.push(`close ${name}`);
      return this.closeGate ? this.closeGate.then(() => close(timeoutMs)) : close(timeoutMs);
    };
    return producer;
  }

  /** The producer clients of `name`, in creation order. */
  clientsOf(name: string): FakeProducer[] {
    return this.producers.filter((p) => p.config.properties["client.id"] === name);
  }
}

test("past maxContexts the least recently used idle context is closed, and only then does the new one connect", async () => {
  const driver = new BoundsDriver();
  const kafka = createRegistry({ driver, logger: silent, maxContexts: 3 });
  for (const name of ["a", "b", "c"]) {
    await (await kafka.producer(ctx(name))).publish(orders, { id: name });
    await turn();
  }
  await (await kafka.producer(ctx("a"))).publish(orders, { id: "a again" }); // a is now the most recently used
  await turn();
  const d = await kafka.producer(ctx("d"));
  assert.deepEqual(driver.log.slice(-2), ["close b", "connect d"]);
  assert.equal(driver.clientsOf("b")[0]!.closed, true);
  assert.deepEqual(["a", "c"].map((name) => driver.clientsOf(name)[0]!.closed), [false, false]);
  const stats = kafka.stats();
  assert.deepEqual(Object.keys(stats.contexts).sort(), ["a", "c", "d"].map(fingerprintOf).sort());
  assert.equal(stats.liveContexts, 3);
  assert.deepEqual(stats.evictions, { bound: 1, idle: 0 });
  await d.publish(orders, { id: "d" });
  await kafka.close();
});

test("a new context's connect waits until the evicted context's producer is closed: clients never exceed the bound", async () => {
  const driver = new BoundsDriver();
  const kafka = createRegistry({ driver, logger: silent, maxContexts: 1 });
  await (await kafka.producer(ctx("a"))).publish(orders, { id: "a" });
  await turn();
  const closing = gate();
  driver.closeGate = closing.wait;
  const b = kafka.producer(ctx("b"));
  await turn();
  assert.deepEqual(driver.log, ["connect a", "close a"]);
  assert.equal(kafka.stats().liveContexts, 1, "the context being closed still counts");
  closing.open();
  await b;
  assert.deepEqual(driver.log, ["connect a", "close a", "connect b"]);
  assert.equal(kafka.stats().liveContexts, 1);
  await kafka.close();
});

test("an evicted context reconnects on its next use; a Producer kept from before forwards its publishes to the new client", async () => {
  const driver = new BoundsDriver();
  const kafka = createRegistry({ driver, logger: silent, maxContexts: 1 });
  const kept = await kafka.producer(ctx("a"));
  await kept.publish(orders, { id: "1" });
  await turn();
  await (await kafka.producer(ctx("b"))).publish(orders, { id: "2" });
  await turn();
  assert.equal(kept.retired, true);
  assert.equal(driver.clientsOf("a")[0]!.closed, true);
  // The kept handle works: its publish goes to a new client of its context (which evicts b).
  const report = await kept.publish(orders, { id: "3" });
  assert.equal(report.topic, "orders");
  const [first, second] = driver.clientsOf("a");
  assert.deepEqual([first!.records.length, second!.records.length, second!.closed], [1, 1, false]);
  const fresh = await kafka.producer(ctx("a"));
  assert.notEqual(fresh, kept);
  assert.equal(fresh.retired, false);
  assert.equal(driver.clientsOf("b")[0]!.closed, true);
  assert.deepEqual(kafka.stats().evictions, { bound: 2, idle: 0 });
  await kafka.close();
});

test("work in flight is never evicted: all busy, a new context goes over the bound, the excess goes once idle, nothing is lost", {
  timeout: 10_000,
}, async () => {
  const driver = new BoundsDriver();
  const logger = quietLogger();
  const kafka = createRegistry({ driver, logger, maxContexts: 1 });
  const a = await kafka.producer(ctx("a"));
  driver.holdAcks = true;
  const inFlight = [a.publish(orders, { id: "a-1" }), a.publish(orders, { id: "a-2" })];
  await turn();
  // A connect in progress is busy too: b is held at the driver, c arrives meanwhile.
  let openConnects!: () => void;
  driver.gate = new Promise((resolve) => (openConnects = resolve));
  const b = kafka.producer(ctx("b"));
  await turn();
  driver.gate = Promise.resolve();
  driver.holdAcks = false;
  const c = await kafka.producer(ctx("c"));
  await c.publish(orders, { id: "c-1" });
  assert.equal(kafka.stats().liveContexts, 3, "a (publishing), b (connecting) and c: over the bound of 1");
  assert.equal(driver.clientsOf("a")[0]!.closed, false);
  assert.equal(logger.lines.filter((l) => /more security contexts are busy at once than maxContexts/.test(l)).length, 1);
  openConnects();
  const bProducer = await b;
  assert.equal(bProducer.retired, false, "b was not evicted while connecting");
  await bProducer.publish(orders, { id: "b-1" });
  for (const release of driver.held.splice(0)) release();
  const reports = await Promise.all(inFlight);
  assert.deepEqual(reports.map((r) => r.offset), [0, 1]);
  assert.deepEqual(driver.clientsOf("a")[0]!.records.map((r) => r.value), ['{"id":"a-1"}', '{"id":"a-2"}']);
  await turn();
  // Every one is idle now: back within the bound.
  assert.equal(kafka.stats().liveContexts, 1);
  assert.equal(Object.keys(kafka.stats().contexts).length, 1);
  assert.equal(logger.lines.filter((l) => /maxContexts/.test(l)).length, 1, "the over-bound warning is given once");
  await kafka.close();
});

test("a context with a consumer not closed is never evicted; once its consumer is closed it goes like any idle one", async () => {
  const driver = new BoundsDriver();
  const kafka = createRegistry({ driver, logger: silent, maxContexts: 2 });
  await (await kafka.producer(ctx("a"))).publish(orders, { id: "a" });
  const consumer = kafka.consumer(ctx("a"), "billing").subscribe(orders, () => {});
  await consumer.start();
  for (const name of ["b", "c", "d"]) {
    await (await kafka.producer(ctx(name))).publish(orders, { id: name });
    await turn();
  }
  // b went for c, c for d: never a, whose consumer runs.
  assert.deepEqual(driver.log.filter((l) => l.startsWith("close")), ["close b", "close c"]);
  assert.equal(driver.consumerClients[0]!.closed, false);
  await consumer.close(); // commits and leaves the group; a is idle from now, the most recently used
  await (await kafka.producer(ctx("e"))).publish(orders, { id: "e" });
  await turn();
  await (await kafka.producer(ctx("f"))).publish(orders, { id: "f" });
  assert.deepEqual(driver.log.filter((l) => l.startsWith("close")), ["close b", "close c", "close d", "close a"]);
  assert.equal(driver.consumerClients[0]!.closed, true);
  assert.equal(kafka.stats().contexts[fingerprintOf("a")], undefined);
  await kafka.close();
});

test("an idle context is closed after idleTimeoutMs (mock clock), a busy one not however long; the next use reconnects", async () => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  try {
    const driver = new BoundsDriver();
    const kafka = createRegistry({ driver, logger: silent, idleTimeoutMs: 60_000 });
    await (await kafka.producer(ctx("a"))).publish(orders, { id: "a" });
    const b = await kafka.producer(ctx("b"));
    driver.holdAcks = true;
    const pending = b.publish(orders, { id: "b" });
    await turn();
    mock.timers.tick(59_999);
    assert.equal(driver.clientsOf("a")[0]!.closed, false);
    mock.timers.tick(1);
    assert.equal(driver.clientsOf("a")[0]!.closed, true);
    assert.deepEqual(Object.keys(kafka.stats().contexts), [fingerprintOf("b")]);
    assert.deepEqual(kafka.stats().evictions, { bound: 0, idle: 1 });
    mock.timers.tick(10 * 60_000);
    assert.equal(driver.clientsOf("b")[0]!.closed, false, "a publish in flight keeps its context however long");
    for (const release of driver.held.splice(0)) release();
    await pending;
    // b is idle from its acknowledgement on.
    mock.timers.tick(59_999);
    assert.equal(driver.clientsOf("b")[0]!.closed, false);
    mock.timers.tick(1);
    assert.equal(driver.clientsOf("b")[0]!.closed, true);
    driver.holdAcks = false;
    const again = await kafka.producer(ctx("a"));
    await again.publish(orders, { id: "a again" });
    assert.equal(driver.clientsOf("a").length, 2);
    assert.equal(kafka.stats().liveContexts, 1);
    await kafka.close();
  } finally {
    mock.timers.reset();
  }
});

test("stats and metrics keep only live contexts, however many passed; no secret in stats, metrics or logs", async () => {
  const driver = new BoundsDriver();
  const logger = quietLogger();
  const kafka = createRegistry({ driver, logger, maxContexts: 2 });
  const secretOf = (i: number) => `hunter2-${i}-secret`;
  const withPassword = (i: number): SecurityContext => ({
    bootstrapServers: "fake:9092",
    securityProtocol: "SASL_SSL",
    sasl: { mechanism: "PLAIN", username: "mallory", password: secretOf(i) },
  });
  const fingerprints: string[] = [];
  for (let i = 0; i < 10; i++) {
    const producer = await kafka.producer(withPassword(i));
    fingerprints.push(producer.fingerprint);
    await producer.publish(orders, { id: String(i) });
    await turn();
  }
  const stats = kafka.stats();
  assert.deepEqual(Object.keys(stats.contexts).sort(), fingerprints.slice(-2).sort());
  assert.equal(stats.liveContexts, 2);
  assert.deepEqual(stats.evictions, { bound: 8, idle: 0 });
  const text = createMetrics().render(stats);
  assert.equal(text.match(/^kshare_live_producers\{/gm)?.length, 2);
  assert.match(text, /^kshare_live_contexts 2$/m);
  assert.match(text, /^kshare_context_evictions_total\{reason="bound"\} 8$/m);
  assert.match(text, /^kshare_context_evictions_total\{reason="idle"\} 0$/m);
  for (const evicted of fingerprints.slice(0, -2)) assert.ok(!text.includes(evicted), `metrics still show ${evicted}`);
  const everything = JSON.stringify(stats) + text + logger.lines.join("\n");
  for (let i = 0; i < 10; i++) assert.ok(!everything.includes(secretOf(i)), `secret ${i} shown`);
  await kafka.close();
});

test("maxContexts and idleTimeoutMs refuse values that would silently mean something else", () => {
  for (const maxContexts of [0, -1, 1.5, Number.NaN, "8" as unknown as number]) {
    assert.throws(() => createRegistry({ maxContexts }), (e: Error) => e instanceof TypeError && /maxContexts must be a whole number > 0/.test(e.message));
  }
  for (const idleTimeoutMs of [0, -5, Number.NaN]) {
    assert.throws(() => createRegistry({ idleTimeoutMs }), (e: Error) => e instanceof TypeError && /idleTimeoutMs must be a number > 0/.test(e.message));
  }
  createRegistry({ maxContexts: Infinity, idleTimeoutMs: Infinity });
  createRegistry({ maxContexts: 1, idleTimeoutMs: 0.5 });
});

test("gateway config: GATEWAY_MAX_CONTEXTS and GATEWAY_CONTEXT_IDLE_TIMEOUT_MS, with their defaults; a bad value is named", () => {
  const defaults = gatewayConfig({});
  assert.equal(defaults.maxContexts, 64);
  assert.equal(defaults.contextIdleTimeoutMs, 600_000);
  const set = gatewayConfig({ GATEWAY_MAX_CONTEXTS: "8", GATEWAY_CONTEXT_IDLE_TIMEOUT_MS: "30000" });
  assert.equal(set.maxContexts, 8);
  assert.equal(set.contextIdleTimeoutMs, 30_000);
  assert.throws(
    () => gatewayConfig({ GATEWAY_MAX_CONTEXTS: "0", GATEWAY_CONTEXT_IDLE_TIMEOUT_MS: "soon" }),
    (e: unknown) =>
      e instanceof GatewayConfigError &&
      e.problems.some((p) => p.startsWith("GATEWAY_MAX_CONTEXTS:")) &&
      e.problems.some((p) => p.startsWith("GATEWAY_CONTEXT_IDLE_TIMEOUT_MS:")),
  );
});
