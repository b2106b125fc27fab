// Trace context across Kafka with OpenTelemetry, against a real Kafka-protocol broker (librdkafka's
// mock cluster, in-process): the SDK's in-memory exporter collects the spans, kcat reads the
// records' headers as they are on the broker. The active context is carried across awaits by
// AsyncLocalStorageContextManager, which works on Node, Deno and Bun alike.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import * as otel from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { kafka, type KafkaEnv, publishRoutes } from "../hono.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { Countdown, kcatRead, kcatWrite, quietLogger } from "./_helpers.ts";

const exporter = new InMemorySpanExporter();
otel.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
otel.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = otel.trace.getTracer("kshare-test");

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
after(() => broker.stop());
const ctx = { bootstrapServers: broker.bootstrapServers, consumer: { "session.timeout.ms": 2000, "heartbeat.interval.ms": 500 } };
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();

const Order = v.object({ id: v.string() });
let topicSeq = 0;
/** A fresh topic of one partition. */
function topic(prefix: string) {
  const name = `trace-${prefix}-${++topicSeq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Order });
}

/** The finished spans of `name`. */
function spans(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

/** The parent span id of `span` (SDK 2: `parentSpanContext`). */
function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Each record's header values of `name`, as kcat reads the topic. */
async function headerOf(topicName: string, name: string): Promise<string[][]> {
  const records = await kcatRead(broker.bootstrapServers, topicName);
  return records.map((r) => {
    const pairs = r.headers ?? [];
    const values: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) values.push(pairs[i + 1]!);
    return values;
  });
}

const traceparent = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

test("a trace started before a publish is the parent of the handler's span; the record carries traceparent as kcat shows it", { timeout: 60_000 }, async () => {
  const t = topic("publish");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    let active: otel.SpanContext | undefined;
    const handled = new Countdown();
    await registry.consumer(ctx, "trace-publish").subscribe(t, async (message) => {
      await Promise.resolve(); // the handler's span stays active across its awaits
      active = otel.trace.getActiveSpan()?.spanContext();
      assert.equal(message.value.id, "o-1");
      handled.increment();
    }).start();
    const checkout = await tracer.startActiveSpan("checkout", async (span) => {
      const producer = await registry.producer(ctx);
      await producer.publish(t, { id: "o-1" });
      span.end();
      return span.spanContext();
    });
    await handled.reached(1);
    await registry.close();

    const [send] = spans(`send ${t.name}`);
    const [processed] = spans(`process ${t.name}`);
    assert.ok(send && processed, "a send and a process span");
    assert.equal(send.kind, otel.SpanKind.PRODUCER);
    assert.equal(processed.kind, otel.SpanKind.CONSUMER);
    assert.equal(send.spanContext().traceId, checkout.traceId);
    assert.equal(parentOf(send), checkout.spanId);
    assert.equal(processed.spanContext().traceId, checkout.traceId);
    assert.equal(parentOf(processed), send.spanContext().spanId);
    assert.deepEqual(active, processed.spanContext());
    assert.deepEqual(send.attributes, {
      "messaging.system": "kafka",
      "messaging.destination.name": t.name,
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.destination.partition.id": "0",
      "messaging.kafka.offset": 0,
    });
    assert.deepEqual(processed.attributes, {
      "messaging.system": "kafka",
      "messaging.destination.name": t.name,
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.partition.id": "0",
      "messaging.kafka.offset": 0,
      "messaging.consumer.group.name": "trace-publish",
    });
    assert.equal(processed.status.code, otel.SpanStatusCode.UNSET);
    assert.deepEqual(await headerOf(t.name, "traceparent"), [[traceparent(send)]]);
  } finally {
    await registry.close();
  }
});

test(
  "publishBatch and publishAndForget: each record has a send span of its own, ended with its delivery, and its traceparent",
  { timeout: 60_000 },
  async () => {
    const t = topic("batch");
    const registry = createRegistry({ logger, tracing: otel });
    try {
      const producer = await registry.producer(ctx);
      const root = await tracer.startActiveSpan("import", async (span) => {
        await producer.publishBatch(t, [{ value: { id: "a" } }, { value: { id: "b" }, headers: { source: "import" } }]);
        producer.publishAndForget(t, { id: "c" });
        await producer.flush();
        span.end();
        return span.spanContext();
      });
      // A forgotten record's span ends with its outcome, which tells no offset: it is the one without.
      const byOffset = (s: ReadableSpan) => Number(s.attributes["messaging.kafka.offset"] ?? Infinity);
      const sent = spans(`send ${t.name}`).sort((a, b) => byOffset(a) - byOffset(b));
      assert.deepEqual(sent.map((s) => s.attributes["messaging.kafka.offset"]), [0, 1, undefined]);
      for (const span of sent) {
        assert.equal(span.status.code, otel.SpanStatusCode.UNSET);
        assert.equal(span.spanContext().traceId, root.traceId);
        assert.equal(parentOf(span), root.spanId);
      }
      assert.deepEqual(await headerOf(t.name, "traceparent"), sent.map((s) => [traceparent(s)]));
      assert.deepEqual(await headerOf(t.name, "source"), [[], ["import"], []]);
    } finally {
      await registry.close();
    }
  },
);

test("a traceparent the caller set is kept, not replaced: the handler's span continues the caller's trace", { timeout: 60_000 }, async () => {
  const t = topic("own");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const handled = new Countdown();
    await registry.consumer(ctx, "trace-own").subscribe(t, () => handled.increment()).start();
    const producer = await registry.producer(ctx);
    await producer.publish(t, { id: "o-1" }, { headers: { traceparent: own } });
    await handled.reached(1);
    await registry.close();
    assert.deepEqual(await headerOf(t.name, "traceparent"), [[own]]);
    const [processed] = spans(`process ${t.name}`);
    assert.equal(processed?.spanContext().traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(parentOf(processed!), "b7ad6b7169203331");
    assert.equal(spans(`send ${t.name}`).length, 1, "the publish still has its span");
  } finally {
    await registry.close();
  }
});

test("a handler that throws or rejects: each attempt's span ends with ERROR status and the exception", { timeout: 60_000 }, async () => {
  const t = topic("error");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    const gaveUp = new Countdown();
    let attempt = 0;
    await registry.consumer(ctx, "trace-error").subscribe(t, (): void | Promise<void> => {
      if (++attempt === 1) throw new TypeError("first attempt throws");
      return Promise.reject(new RangeError("retry rejects"));
    }, { retries: 1, retryBackoffMs: 1, onError: () => gaveUp.increment() }).start();
    const producer = await registry.producer(ctx);
    await producer.publish(t, { id: "o-1" });
    await gaveUp.reached(1);
    await registry.close();
    const processed = spans(`process ${t.name}`);
    assert.equal(processed.length, 2);
    const [send] = spans(`send ${t.name}`);
    assert.deepEqual(processed.map((s) => [s.status.code, s.status.message, s.attributes["error.type"], s.events.map((e) => e.name)]), [
      [otel.SpanStatusCode.ERROR, "first attempt throws", "TypeError", ["exception"]],
      [otel.SpanStatusCode.ERROR, "retry rejects", "RangeError", ["exception"]],
    ]);
    for (const span of processed) assert.equal(parentOf(span), send!.spanContext().spanId);
  } finally {
    await registry.close();
  }
});

test("the gateway continues the caller's HTTP trace: its traceparent is the parent of the record's send span", { timeout: 60_000 }, async () => {
  const t = topic("gateway");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    const app = new Hono<KafkaEnv>();
    app.use("*", kafka({ registry, resolveContext: () => ctx }));
    app.route("/", publishRoutes({ topics: [t], logger }));
    // An application's own route publishing a batch through c.var.kafka.
    app.post("/bulk", (c) => c.var.kafka.publishBatch(t, [{ value: { id: "o-3" } }]).then(() => c.text("ok")));
    const caller = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" };
    const headers = { "Content-Type": "application/json", traceparent: `00-${caller.traceId}-${caller.spanId}-01` };
    const single = await app.request(`/v3/clusters/kshare/topics/${t.name}/records`, {
      method: "POST",
      headers,
      body: JSON.stringify({ value: { type: "JSON", data: { id: "o-1" } } }),
    });
    assert.equal(single.status, 200);
    const batch = await app.request(`/v3/clusters/kshare/topics/${t.name}/records:batch`, {
      method: "POST",
      headers,
      body: JSON.stringify({ entries: [{ id: "1", value: { type: "JSON", data: { id: "o-2" } } }] }),
    });
    assert.equal(batch.status, 207);
    const bulk = await app.request("/bulk", { method: "POST", headers });
    assert.equal(bulk.status, 200);
    const sent = spans(`send ${t.name}`).sort((a, b) => Number(a.attributes["messaging.kafka.offset"]) - Number(b.attributes["messaging.kafka.offset"]));
    assert.equal(sent.length, 3);
    for (const span of sent) {
      assert.equal(span.spanContext().traceId, caller.traceId);
      assert.equal(parentOf(span), caller.spanId);
    }
    assert.deepEqual(await headerOf(t.name, "traceparent"), sent.map((s) => [traceparent(s)]));
  } finally {
    await registry.close();
  }
});

test("the gateway behind an HTTP instrumentation: the active server span is the parent of the record's send span", { timeout: 60_000 }, async () => {
  const t = topic("server-span");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    const app = new Hono();
    let server: otel.SpanContext | undefined;
    // What an HTTP instrumentation does: a server span, child of the caller's traceparent, active for the request.
    app.use("*", (c, next) => {
      const caller = otel.propagation.extract(otel.context.active(), { traceparent: c.req.header("traceparent") });
      return tracer.startActiveSpan("POST records", { kind: otel.SpanKind.SERVER }, caller, async (span) => {
        server = span.spanContext();
        try {
          await next();
        } finally {
          span.end();
        }
      });
    });
    app.use("/v3/*", kafka({ registry, resolveContext: () => ctx }));
    app.route("/", publishRoutes({ topics: [t], logger }));
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await app.request(`/v3/clusters/kshare/topics/${t.name}/records`, {
      method: "POST",
      headers: { "Content-Type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ value: { type: "JSON", data: { id: "o-1" } } }),
    });
    assert.equal(res.status, 200);
    const [send] = spans(`send ${t.name}`);
    assert.equal(server?.traceId, traceId);
    assert.equal(send?.spanContext().traceId, traceId);
    assert.equal(parentOf(send!), server!.spanId);
  } finally {
    await registry.close();
  }
});

test("a record without trace context gets a root span, not a child of the context the consumer was started in", { timeout: 60_000 }, async () => {
  const t = topic("untraced");
  const registry = createRegistry({ logger, tracing: otel });
  try {
    const handled = new Countdown();
    await tracer.startActiveSpan("startup", async (span) => {
      // The poll loop started here runs in this context for good.
      await registry.consumer(ctx, "trace-untraced").subscribe(t, () => handled.increment()).start();
      span.end();
    });
    await kcatWrite(broker.bootstrapServers, t.name, [`k:${JSON.stringify({ id: "o-1" })}`]);
    await handled.reached(1);
    await registry.close();
    const [processed] = spans(`process ${t.name}`);
    assert.ok(processed);
    assert.equal(parentOf(processed), undefined);
    assert.notEqual(processed.spanContext().traceId, spans("startup")[0]?.spanContext().traceId);
  } finally {
    await registry.close();
  }
});

test(
  "without a context manager: the record still carries its send span's context and the handler's span is its child, not active",
  { timeout: 60_000 },
  async () => {
    const t = topic("no-manager");
    const registry = createRegistry({ logger, tracing: otel });
    otel.context.disable(); // back to the API's no-op context manager
    try {
      let active: otel.Span | undefined = undefined;
      const handled = new Countdown();
      await registry.consumer(ctx, "trace-no-manager").subscribe(t, () => {
        active = otel.trace.getActiveSpan();
        handled.increment();
      }).start();
      await tracer.startActiveSpan("checkout", async (span) => {
        const producer = await registry.producer(ctx);
        await producer.publish(t, { id: "o-1" });
        span.end();
      });
      await handled.reached(1);
      await registry.close();
      const [send] = spans(`send ${t.name}`);
      const [processed] = spans(`process ${t.name}`);
      assert.equal(parentOf(send!), undefined, "nothing was active: the send span has no parent");
      assert.equal(parentOf(processed!), send!.spanContext().spanId);
      assert.equal(processed!.spanContext().traceId, send!.spanContext().traceId);
      assert.equal(active, undefined);
      assert.deepEqual(await headerOf(t.name, "traceparent"), [[traceparent(send!)]]);

      // The gateway hands the caller's context over explicitly: it needs no context manager.
      const g = topic("no-manager-gateway");
      const gateway = createRegistry({ logger, tracing: otel });
      try {
        const app = new Hono().use("/v3/*", kafka({ registry: gateway, resolveContext: () => ctx })).route("/", publishRoutes({ topics: [g], logger }));
        const res = await app.request(`/v3/clusters/kshare/topics/${g.name}/records`, {
          method: "POST",
          headers: { "Content-Type": "application/json", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
          body: JSON.stringify({ value: { type: "JSON", data: { id: "o-1" } } }),
        });
        assert.equal(res.status, 200);
        const [viaGateway] = spans(`send ${g.name}`);
        assert.equal(viaGateway?.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert.equal(parentOf(viaGateway!), "00f067aa0ba902b7");
      } finally {
        await gateway.close();
      }
    } finally {
      otel.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      await registry.close();
    }
  },
);

test("without tracing nothing changes: no header is added and no span is made, even with an SDK registered", { timeout: 60_000 }, async () => {
  const t = topic("off");
  const registry = createRegistry({ logger });
  try {
    let active: otel.Span | undefined = undefined;
    const handled = new Countdown();
    await registry.consumer(ctx, "trace-off").subscribe(t, () => {
      active = otel.trace.getActiveSpan();
      handled.increment();
    }).start();
    await tracer.startActiveSpan("checkout", async (span) => {
      const producer = await registry.producer(ctx);
      await producer.publish(t, { id: "o-1" });
      producer.publishAndForget(t, { id: "o-2" });
      await producer.flush();
      span.end();
    });
    await handled.reached(2);
    assert.equal(active, undefined);
    const records = await kcatRead(broker.bootstrapServers, t.name);
    assert.deepEqual(records.map((r) => r.headers ?? []), [[], []]);
    assert.deepEqual(exporter.getFinishedSpans().filter((s) => s.name.endsWith(t.name)), []);
  } finally {
    await registry.close();
  }
});

test("tracing that is not the OpenTelemetry API is refused, naming what to pass", () => {
  assert.throws(
    () => createRegistry({ tracing: {} as unknown as typeof otel }),
    (error: unknown) => error instanceof TypeError && /tracing must be the OpenTelemetry API module/.test(error.message),
  );
});
