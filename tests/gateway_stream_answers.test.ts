// A streaming produce request (REST Proxy v3: concatenated records) is answered with one JSON line per record,
// in order, whatever the records are: valid, unparseable, refused by the schema, throwing before or after their
// publish. A bound ends the stream with one last line saying how many records it refused. The fixed inputs below
// are what the property test (gateway_properties.test.ts) found when streams were first published in slices:
// a record whose answer threw after its publish (a timestamp past the latest Date) ended the stream, and the
// records after it were never answered.
// In process through app.request() against the embedded broker; kcat reads back what was published.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { kafka, publishRoutes, type PublishRoutesOptions, restProxyErrorHandler, verifyUsers } from "../hono.ts";
import { kcatRead, quietLogger } from "./_helpers.ts";
import { basic } from "./_gateway.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
const logger = quietLogger();
const registry = createRegistry({ logger });
after(async () => {
  await registry.close();
  await broker.stop();
});

const headers = { Authorization: basic("alice", "pw-alice"), "Content-Type": "application/json" };
const Order = v.object({ id: v.string(), total: v.number() });
let seq = 0;
function topic(key: (o: { id: string; total: number }) => string = (o) => o.id) {
  const name = `stream-answers-${++seq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Order, key });
}

function buildApp(options: PublishRoutesOptions) {
  const app = new Hono<{ Variables: { user: string } }>();
  app.onError(restProxyErrorHandler({ logger }));
  app.use("/v3/*", basicAuth({ verifyUser: verifyUsers([{ username: "alice", password: "pw-alice" }]) }));
  app.use("/v3/*", kafka({ registry, logger, resolveContext: () => ({ bootstrapServers: broker.bootstrapServers, clientId: "stream-answers" }) }));
  app.route("/", publishRoutes({ logger, ...options }));
  return app;
}

async function post(app: Hono<{ Variables: { user: string } }>, name: string, body: string) {
  const res = await app.request(`/v3/clusters/kshare/topics/${name}/records`, { method: "POST", headers, body });
  assert.equal(res.status, 200);
  return (await res.text()).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { error_code: number; message?: string });
}
const published = async (name: string) => (await kcatRead(broker.bootstrapServers, name)).map((r) => (JSON.parse(r.payload!) as { id: string }).id);

const ok = (id: string) => `{"key":null,"value":{"data":{"id":"${id}","total":0}}}`;
/** The property test's counterexample: a timestamp past what a Date holds (1e308 is an integer). */
const farFuture = (id: string) => `{"key":null,"value":{"data":{"id":"${id}","total":0}},"headers":[],"timestamp":1e308}`;

test("a record timestamped past the latest Date (the property test's counterexample) is refused alone, before its publish: every record has its line", async () => {
  const t = topic();
  const app = buildApp({ topics: [t] });
  assert.deepEqual((await post(app, t.name, farFuture("f-1") + ok("a") + ok("b"))).map((a) => a.error_code), [400, 200, 200]);
  const answers = await post(app, t.name, ok("c") + farFuture("f-2") + ok("d"));
  assert.deepEqual(answers.map((a) => a.error_code), [200, 400, 200]);
  assert.match(answers[1]!.message!, /timestamp: expected at most 8640000000000000 ms/);
  assert.deepEqual(await published(t.name), ["a", "b", "c", "d"]);
});

test("a record whose key function throws, the first time or only when called again by the producer, is answered alone; the records after it are still answered", async () => {
  // The answer is built before the publish (the key's size), and the producer derives the key again.
  for (const throwFrom of [1, 2]) {
    let flakyCalls = 0;
    const t = topic((o) => {
      if (o.id === "flaky" && ++flakyCalls >= throwFrom) throw new RangeError("the key cannot be derived");
      return o.id;
    });
    const app = buildApp({ topics: [t] });
    const unkeyed = (id: string) => `{"value":{"data":{"id":"${id}","total":0}}}`; // the key is derived
    const answers = await post(app, t.name, unkeyed("a") + unkeyed("flaky") + unkeyed("b") + unkeyed("c"));
    assert.deepEqual(answers.map((a) => a.error_code), [200, 400, 200, 200], JSON.stringify(answers));
    assert.equal(flakyCalls, throwFrom, "the producer never derived the key of a record whose answer could not be built");
    assert.deepEqual(await published(t.name), ["a", "b", "c"]);
  }
});

test("a long stream mixing every kind of record, over many slices, ends at the cap: one line per record in order, the 413 last, counting the refused", {
  timeout: 120_000,
}, async () => {
  const t = topic();
  const cap = 3_000;
  const app = buildApp({ topics: [t], maxRecordsPerRequest: cap, maxRecordsInFlightPerTenant: 100_000 });
  // Kinds in a cycle of 7: valid, unparseable, refused by the schema, past the latest Date, valid, valid, valid;
  // one key nested too deeply to serialize (throws before its publish) in the middle.
  const kinds = ["ok", "broken", "schema", "far", "ok", "ok", "ok"] as const;
  const parts: string[] = [];
  const expected: number[] = [];
  const valid: string[] = [];
  for (let i = 0; i < cap + 40; i++) {
    const id = `r-${i}`;
    if (i === 1_500) {
      parts.push(`{"key":{"data":${"[".repeat(200_000)}${"]".repeat(200_000)}},"value":{"data":{"id":"${id}","total":1}}}`);
      expected.push(-1); // 400 on Node and Bun (the key cannot be serialized), 200 where the runtime manages
      continue;
    }
    const kind = kinds[i % kinds.length]!;
    parts.push(
      kind === "ok" ? ok(id) : kind === "broken" ? '{"value":}' : kind === "schema" ? `{"value":{"data":{"id":"${id}"}}}` : farFuture(id),
    );
    expected.push(kind === "ok" ? 200 : 400);
    if (kind === "ok" && i < cap) valid.push(id);
  }
  const answers = await post(app, t.name, parts.join("\n") + "\nx");
  assert.equal(answers.length, cap + 1, "one line per record up to the cap, then the cap's line");
  answers.slice(0, cap).forEach((a, i) => {
    if (expected[i] === -1) assert.ok([200, 400].includes(a.error_code), JSON.stringify(a).slice(0, 200));
    else assert.equal(a.error_code, expected[i], `line ${i}: ${JSON.stringify(a)}`);
  });
  const last = answers[cap]!;
  assert.equal(last.error_code, 413);
  // The record at the cap, the 39 after it and the trailing "x" that cannot be framed.
  assert.match(last.message!, /At most 3000 records per request: 41 records were refused \(this one and the 40 after it\), none of them published/);
  const stored = await published(t.name);
  assert.deepEqual(stored.filter((id) => id !== "r-1500"), valid);
});
