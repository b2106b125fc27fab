/**
 * kshare against a cluster that names no controller (issue #12, point 5):
 * the embedded broker with `controller: false`, whose Metadata responses say
 * controller -1, as a Kafka cluster does between controller elections. A
 * client connects through any broker, and a client that never asks brokers to
 * create topics also pings through any broker; kcat is the independent
 * reader. And no ping creates a topic, even one made during an outage. The
 * registry uses the runtime's default driver (FFI on Deno and Bun, Confluent
 * on Node); the FFI driver is also driven directly (through koffi on Node).
 * Runs on the three runtimes:
 *
 *   npx deno test -A tests/no_controller.test.ts
 *   npx bun test tests/no_controller.test.ts
 *   node --import tsx --test tests/no_controller.test.ts
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Hono } from "hono";
import { createRegistry, defineTopic } from "../mod.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "../testing.ts";
import { opsRoutes } from "../hono.ts";
import type { ClientConfig } from "../src/driver.ts";
import { ffiDriver } from "../src/drivers/ffi/driver.ts";
import { kcat, kcatRead, quietLogger } from "./_helpers.ts";

const broker = await startEmbeddedBroker({ brokers: 3, controller: false, groupInitialRebalanceDelayMs: 0 });
const ctx = { bootstrapServers: broker.bootstrapServers };
/** A producer that never asks brokers to create topics (librdkafka's default for a producer is to ask). */
const noAutoCreate = { bootstrapServers: broker.bootstrapServers, producer: { "allow.auto.create.topics": false } };
const kafka = createRegistry({ logger: process.env.KSHARE_TEST_LOG ? console : quietLogger() });
after(async () => {
  await kafka.close();
  await broker.stop();
});

const Order = v.object({ id: v.string() });
const orders = defineTopic({ name: "orders", schema: Order, key: (o) => o.id });
broker.createTopic(orders.name, 3);

/** librdkafka's RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN. */
const ERR__ALL_BROKERS_DOWN = -187;

// Without a controller a request librdkafka sends to it waits for its whole
// timeout (the connect's 10 s), so a test that fails does so after it.
const TIMEOUT = { timeout: 30_000 };

/** The topics `kafka` lists, by kcat. */
async function topics(kafka: EmbeddedBroker): Promise<string[]> {
  const listing = await kcat(["-b", kafka.bootstrapServers, "-L", "-m", "5"]);
  return [...listing.matchAll(/^ {2}topic "([^"]+)"/gm)].map((m) => m[1]!);
}

test("the embedded broker lists its brokers and names none of them controller", async () => {
  const listing = await kcat(["-b", broker.bootstrapServers, "-L", "-m", "5"]);
  assert.match(listing, /^ 3 brokers:$/m);
  for (const id of broker.brokerIds) assert.match(listing, new RegExp(`^  broker ${id} at `, "m"));
  assert.doesNotMatch(listing, /controller/);
  // Taking a broker down and up elects none either.
  broker.brokerDown(1);
  broker.brokerUp(1);
  assert.doesNotMatch(await kcat(["-b", broker.bootstrapServers, "-L", "-m", "5"]), /controller/);
});

test("a registry producer connects and publishes, kcat reads the record, a consumer consumes it", TIMEOUT, async () => {
  const producer = await kafka.producer(ctx);
  const report = await producer.publish(orders, { id: "o-1" });
  assert.equal(report.topic, orders.name);
  const records = await kcatRead(broker.bootstrapServers, orders.name);
  assert.deepEqual(records.map((r) => [r.key, r.payload]), [["o-1", JSON.stringify({ id: "o-1" })]]);

  let received!: (id: string) => void;
  const consumed = new Promise<string>((resolve) => (received = resolve));
  const consumer = kafka.consumer(ctx, "no-controller").subscribe(orders, (m) => received(m.value.id));
  await consumer.start();
  assert.equal(await consumed, "o-1");
  await consumer.close();
});

test("the gateway's /readyz answers ready for a producer that publishes and never asks for topic creation", TIMEOUT, async () => {
  const producer = await kafka.producer(noAutoCreate);
  await producer.publish(orders, { id: "o-2" });
  const app = new Hono();
  app.route("/", opsRoutes({ registry: kafka, readinessContext: noAutoCreate, readinessTimeoutMs: 5_000 }));
  const ready = await app.request("/readyz");
  assert.deepEqual(await ready.json(), { status: "ready", context: producer.fingerprint });
  assert.equal(ready.status, 200);
});

test("the gateway's /readyz answers ready for a producer with librdkafka's defaults once it published", TIMEOUT, async () => {
  const defaults = { bootstrapServers: broker.bootstrapServers, clientId: "defaults" };
  const producer = await kafka.producer(defaults);
  await producer.publish(orders, { id: "o-3" });
  const app = new Hono();
  app.route("/", opsRoutes({ registry: kafka, readinessContext: defaults, readinessTimeoutMs: 5_000 }));
  const ready = await app.request("/readyz");
  assert.deepEqual(await ready.json(), { status: "ready", context: producer.fingerprint });
  assert.equal(ready.status, 200);
});

test("the FFI driver connects, and a producer that never asks for topic creation pings, on this runtime", TIMEOUT, async () => {
  const driver = await ffiDriver();
  const config: ClientConfig = {
    properties: { "bootstrap.servers": broker.bootstrapServers, "allow.auto.create.topics": "false" },
    label: "no-controller",
    secretProperties: [],
  };
  const producer = await driver.createProducer(config, { onFatal: (error) => assert.fail(error) });
  try {
    await producer.ping(5_000);
    await producer.ping(5_000);
  } finally {
    await producer.close(1_000);
  }
});

test("a ping during an outage creates no topic once the broker is back, whatever the producer's auto-creation", TIMEOUT, async () => {
  // One broker: the metadata refresh of a reconnecting client is answered
  // before the record published afterwards, so its delivery proves that any
  // topic that refresh would create exists.
  const single = await startEmbeddedBroker({ brokers: 1, controller: false });
  after(() => single.stop());
  single.createTopic(orders.name, 1);
  const driver = await ffiDriver();
  for (const autoCreate of ["true", "false"]) {
    const config: ClientConfig = {
      properties: { "bootstrap.servers": single.bootstrapServers, "allow.auto.create.topics": autoCreate },
      label: `auto-create=${autoCreate}`,
      secretProperties: [],
    };
    // The mock takes a broker down on its own thread, after brokerDown()
    // returned: the outage has begun once librdkafka reports every broker down.
    let allDown = () => {};
    const down = new Promise<void>((resolve) => (allDown = resolve));
    const producer = await driver.createProducer(config, {
      onFatal: (error) => assert.fail(error),
      onError: (error) => (error as Error & { code?: number }).code === ERR__ALL_BROKERS_DOWN && allDown(),
    });
    try {
      const value = new TextEncoder().encode(autoCreate);
      await producer.produce({ topic: orders.name, value });
      single.brokerDown(1);
      await down;
      await assert.rejects(producer.ping(500), /No broker answered/);
      single.brokerUp(1);
      await producer.produce({ topic: orders.name, value });
    } finally {
      await producer.close(1_000);
    }
    assert.deepEqual(await topics(single), [orders.name], `auto-create=${autoCreate}`);
  }
});
