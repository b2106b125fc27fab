// The gateway's REST Proxy v3 produce API under generated input (issue 15): arbitrary bytes and JSON, records
// with any field replaced by a wrong type, an extreme number, deep nesting, a prototype key, bad base64 or a
// long string, invalid UTF-8, many headers, streams mixing valid and broken records, batches. Whatever comes
// in, the answer is a 4xx REST Proxy error, or a correct 200 / 207; never a 5xx, never a dropped connection.
// Random each run: fast-check prints the seed and path of a failure (replay with `{ seed, path }` in fc.assert).
// In process through app.request() on a real registry and embedded broker, then fewer runs over HTTP to the
// gateway process; kcat reads back what was acknowledged.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as v from "valibot";
import { createRegistry } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { DEMO_USER } from "../gateway/config.ts";
import { EMBEDDED_PARTITIONS, topics } from "../gateway/topics.ts";
import { ProduceResponseSchema } from "../src/hono/responses.ts";
import { kcatRead, quietLogger } from "./_helpers.ts";
import { startGateway } from "./_gateway.ts";
import { anyCase, CLUSTER, type GatewayCase, type RecordExpectation, USER } from "./_rest_v3_requests.ts";

// Runs: about 20 s per runtime in process, 10 s over HTTP, on a busy 2-core machine.
const IN_PROCESS_RUNS = 1000;
const HTTP_RUNS = 300;

const broker = await startEmbeddedBroker({ brokers: 1 });
for (const topic of topics) broker.createTopic(topic.name, EMBEDDED_PARTITIONS);
const logger = quietLogger();
const registry = createRegistry({ logger });
after(async () => {
  await registry.close();
  await broker.stop();
});
assert.deepEqual(USER, DEMO_USER);
const app = createGatewayApp({
  registry,
  users: [DEMO_USER],
  contexts: new Map([[DEMO_USER.username, { bootstrapServers: broker.bootstrapServers, clientId: "gateway-properties" }]]),
  topics,
  clusterId: CLUSTER,
  logger,
});

/** A record the gateway acknowledged: where kcat must find it, and what. */
interface Ack {
  readonly partition: number;
  readonly offset: number;
  readonly payload: string;
}

const ErrorBody = v.object({ error_code: v.number(), message: v.string() });
const isServerError = (code: number) => (code >= 500 && code < 600) || (code >= 50000 && code < 60000);

/** A REST Proxy error body: numeric error_code (not a server error), string message, no stack trace. */
function assertErrorBody(body: unknown, where: string): void {
  assert.ok(v.is(ErrorBody, body), `${where}: not { error_code, message }: ${JSON.stringify(body)?.slice(0, 300)}`);
  assert.ok(!isServerError(body.error_code), `${where}: server error ${JSON.stringify(body)}`);
  assert.doesNotMatch(body.message, /\bat .+:\d+:\d+|node_modules|\.ts:\d+/, `${where}: stack trace in ${body.message}`);
}

/**
 * One answer line or body about one record: an error body, or a success that is right for this cluster and
 * topic; when the record was known valid, a success matching it (its partition, how key and value were sent,
 * the value's size), remembered for kcat.
 */
function checkRecordAnswer(answer: unknown, expect: RecordExpectation | undefined, acks: Ack[], where: string): void {
  if (v.is(ProduceResponseSchema, answer)) {
    assert.equal(answer.cluster_id, CLUSTER, where);
    assert.equal(answer.topic_name, "orders", where);
    assert.ok(Number.isInteger(answer.partition_id) && answer.partition_id >= 0 && answer.partition_id < EMBEDDED_PARTITIONS, where);
    assert.ok(Number.isInteger(answer.offset) && answer.offset >= 0, where);
    if (expect?.valid) {
      if (expect.partition !== undefined) assert.equal(answer.partition_id, expect.partition, where);
      assert.equal(answer.key?.type ?? null, expect.keyType, where);
      assert.deepEqual(answer.value, { type: expect.valueType, size: new TextEncoder().encode(expect.payload).length }, where);
      acks.push({ partition: answer.partition_id, offset: answer.offset, payload: expect.payload });
    }
    return;
  }
  assertErrorBody(answer, where);
  assert.ok(!expect?.valid, `${where}: a valid record was refused: ${JSON.stringify(answer)}`);
}

const parse = (text: string, where: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    assert.fail(`${where}: the answer is not JSON: ${text.slice(0, 300)}`);
  }
};

/** The property: what `status` and `text` must be for case `c`. */
function checkAnswer(c: GatewayCase, status: number, text: string, acks: Ack[]): void {
  const where = `${c.kind} ${c.path} → ${status}`;
  assert.ok(status < 500, `${where}: ${text.slice(0, 300)}`);
  if (status >= 400) {
    assertErrorBody(parse(text, where), where);
    if (c.envelopeOk && c.kind === "record") assert.ok(!c.records[0]!.valid, `${where}: a valid record was refused: ${text}`);
    if (c.envelopeOk && c.kind === "batch") assert.ok(!c.batchOk, `${where}: a valid batch was refused: ${text}`);
    return;
  }
  if (c.kind === "batch") {
    assert.equal(status, 207, where);
    const body = parse(text, where) as { successes: Array<{ id: string }>; failures: Array<{ id: string }> };
    assert.ok(Array.isArray(body.successes) && Array.isArray(body.failures), where);
    // Every entry answered once, by id (hostile ids that happen to be valid included).
    const answered = [...body.successes, ...body.failures].map((e) => e.id);
    assert.equal(answered.length, c.ids!.length, where);
    if (c.batchOk) assert.deepEqual(answered.sort(), [...c.ids!].sort(), where);
    else assert.ok(answered.every((id) => typeof id === "string"), where);
    for (const failure of body.failures) {
      const { id: _, ...rest } = failure;
      assertErrorBody(rest, `${where} ${failure.id}`);
    }
    // Entries with a generated valid id, sent to the right topic, are matched to their records; a hostile id
    // that happens to be valid is not.
    const known = (id: string) => (!c.envelopeOk || id === "" ? -1 : c.ids!.indexOf(id));
    for (const success of body.successes) {
      const { id, ...rest } = success;
      checkRecordAnswer({ error_code: 200, ...rest }, c.records[known(id)], acks, `${where} ${id}`);
    }
    const succeeded = new Set(body.successes.map((s) => s.id));
    c.ids!.forEach((id, i) => assert.ok(!c.envelopeOk || id === "" || succeeded.has(id) || !c.records[i]!.valid, `${where}: valid entry ${id} failed`));
    return;
  }
  assert.equal(status, 200, where);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (c.kind === "stream" && c.envelopeOk) {
    assert.equal(lines.length, c.records.length + (c.trailingGarbage ? 1 : 0), `${where}: one answer per record`);
  }
  lines.forEach((line, i) => {
    const expect = c.kind === "record" || c.kind === "stream" ? c.records[i] : undefined;
    checkRecordAnswer(parse(line, where), c.envelopeOk ? expect : undefined, acks, `${where} line ${i}`);
  });
}

/** The body as a stream of two chunks, without a length: counted against the limit as it is read. */
function chunkedBody(body: Uint8Array<ArrayBuffer>): { body: ReadableStream<Uint8Array>; duplex: "half" } {
  const half = body.length >> 1;
  const parts = [body.subarray(0, half), body.subarray(half)];
  return {
    body: new ReadableStream({
      pull(controller) {
        const part = parts.shift();
        if (part) controller.enqueue(part);
        else controller.close();
      },
    }),
    duplex: "half",
  };
}

/** Every acknowledged record is in the topic where the answer said, with the value sent. */
async function assertAcksInTopic(bootstrap: string, acks: readonly Ack[]): Promise<void> {
  const records = await kcatRead(bootstrap, "orders");
  const stored = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r.payload]));
  for (const ack of acks) assert.equal(stored.get(`${ack.partition}/${ack.offset}`), ack.payload, `orders ${ack.partition}/${ack.offset}`);
}

test("in process: every generated request is answered 4xx { error_code, message } or a correct 200 / 207, never 5xx; kcat reads what was acknowledged", async () => {
  const acks: Ack[] = [];
  let valid = 0;
  await fc.assert(
    fc.asyncProperty(anyCase, async (c) => {
      const headers = c.chunked ? c.headers : { ...c.headers, "content-length": String(c.body.length) };
      const res = await app.request(c.path, { method: "POST", headers, ...(c.chunked ? chunkedBody(c.body) : { body: c.body }) });
      checkAnswer(c, res.status, await res.text(), acks);
      if (c.envelopeOk && c.records.some((r) => r.valid)) valid++;
    }),
    { numRuns: IN_PROCESS_RUNS, includeErrorInReport: true },
  );
  // The generators are tuned to reach the valid paths too, or the property would only ever see refusals.
  assert.ok(valid > IN_PROCESS_RUNS / 10, `only ${valid} cases held a valid record`);
  assert.ok(acks.length > 0);
  await assertAcksInTopic(broker.bootstrapServers, acks);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, "Object.prototype polluted");
  assert.deepEqual(logger.lines.filter((l) => l.startsWith("error")), [], "errors logged");
});

test("a record that throws before its publish (a key nested too deeply to serialize) fails alone: the records before and after it in a stream or batch are published and answered", async () => {
  const auth = { authorization: `Basic ${btoa(`${USER.username}:${USER.password}`)}`, "content-type": "application/json" };
  const ok = (id: string) => `{"value":{"data":{"id":"${id}","customer":"c","total":1}}}`;
  // 400,000 levels of arrays (800 kB): JSON.parse takes it, JSON.stringify of the key runs out of stack on Node and Bun.
  const deepKey = `{"key":{"data":${"[".repeat(400_000)}${"]".repeat(400_000)}},"value":{"data":{"id":"d","customer":"c","total":1}}}`;
  const path = `/v3/clusters/${CLUSTER}/topics/orders`;
  const streamed = await app.request(`${path}/records`, { method: "POST", headers: auth, body: ok("s-1") + deepKey + ok("s-2") });
  assert.equal(streamed.status, 200);
  const lines = (await streamed.text()).trim().split("\n").map((l) => JSON.parse(l) as { error_code: number });
  assert.deepEqual([lines[0]!.error_code, lines[2]!.error_code], [200, 200]);
  assert.ok([200, 400].includes(lines[1]!.error_code), JSON.stringify(lines[1]));
  const body = `{"entries":[{"id":"a",${ok("b-1").slice(1)},{"id":"b",${deepKey.slice(1)},{"id":"c",${ok("b-2").slice(1)}]}`;
  const batched = await app.request(`${path}/records:batch`, { method: "POST", headers: auth, body });
  assert.equal(batched.status, 207);
  const { successes, failures } = (await batched.json()) as { successes: Array<{ id: string }>; failures: Array<{ id: string; error_code: number }> };
  assert.deepEqual(successes.map((s) => s.id).filter((id) => id !== "b"), ["a", "c"]);
  assert.ok(failures.every((f) => f.id === "b" && f.error_code === 400), JSON.stringify(failures));
});

test("over HTTP to the gateway process: the same property, and no request ever loses its connection", async () => {
  const gateway = startGateway();
  const url = await gateway.url();
  const bootstrap = (await gateway.line(/embedded broker at /)).match(/embedded broker at (\S+)/)![1]!;
  const acks: Ack[] = [];
  await fc.assert(
    fc.asyncProperty(anyCase, async (c) => {
      // fetch states the length itself; a rejected fetch (connection reset or closed) fails the property.
      // A bound on each answer: a request left hanging fails the property instead of the test's timeout.
      const signal = AbortSignal.timeout(30_000);
      const init = { method: "POST", headers: c.headers, signal, ...(c.chunked ? chunkedBody(c.body) : { body: c.body }) };
      const failed = (error: Error) => {
        throw new Error(`the request failed: ${error.message} (${(error.cause as Error | undefined)?.message ?? "no cause"})`);
      };
      const res = await fetch(url + c.path, init).catch(failed);
      checkAnswer(c, res.status, await res.text().catch(failed), acks);
    }),
    { numRuns: HTTP_RUNS, includeErrorInReport: true },
  );
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal(gateway.child.exitCode, null);
  await assertAcksInTopic(bootstrap, acks);
  assert.deepEqual(gateway.lines.filter((l) => /error|exception|unhandled/i.test(l)), [], "the gateway logged an error");
  gateway.signal("SIGTERM");
  assert.equal(await gateway.exited, 0);
});
