/**
 * Trace context across Kafka: W3C `traceparent`/`tracestate` in the record
 * headers, with spans per OpenTelemetry's messaging conventions, through the
 * OpenTelemetry API object the application passes in (`RegistryOptions.tracing`).
 *
 * kshare never imports `@opentelemetry/api`: {@link TracingApi} is the part of
 * it kshare calls, written out structurally, so the package has no
 * dependency on it and a registry without `tracing` does none of this.
 *
 * @module
 */
import type { DeliveryReport, IncomingMessage, OutgoingRecord } from "./driver.ts";

/**
 * An OpenTelemetry `Context`, as kshare passes it along without looking inside.
 *
 * @example The active context, as `@opentelemetry/api` gives it
 * ```ts
 * import * as otel from "@opentelemetry/api";
 * import type { TraceContext } from "@kshare/kshare";
 * const active: TraceContext = otel.context.active();
 * ```
 */
export interface TraceContext {
  /** The value stored under `key` (a span, baggage), if any. */
  getValue(key: symbol): unknown;
}

/**
 * An OpenTelemetry `Span`, as far as kshare uses it.
 *
 * @example The span a handler runs in (with a context manager registered)
 * ```ts
 * import * as otel from "@opentelemetry/api";
 * import type { TraceSpan } from "@kshare/kshare";
 * const span: TraceSpan | undefined = otel.trace.getActiveSpan();
 * span?.setAttribute("app.order_id", "o-1");
 * ```
 */
export interface TraceSpan {
  /** Set one attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** Set the status (kshare sets `{ code: 2 }`, ERROR, for a failure). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Record an exception as a span event. */
  recordException(exception: Error | string): void;
  /** End the span. */
  end(): void;
}

/**
 * What kshare calls of `@opentelemetry/api`: pass the module itself
 * (`import * as otel from "@opentelemetry/api"`) as `RegistryOptions.tracing`.
 * kshare uses the tracer provider, context manager and propagator the
 * application registered with it (for W3C trace context:
 * `W3CTraceContextPropagator`, which the Node and Web SDKs register by
 * default).
 *
 * With it, each record published (`publish`, each record of `publishBatch`,
 * `publishAndForget`, the gateway's produce routes) gets a PRODUCER span
 * `send <topic>`, child of the active context (the gateway: of the caller's
 * HTTP trace), whose context goes into the record's headers through the
 * propagator (`traceparent`, `tracestate`); the span ends with the
 * delivery report (partition, offset) or the failure (a forgotten record's
 * with its outcome, which names no offset). A record that already
 * carries one of the propagator's headers (set in `PublishOptions.headers`
 * or by the topic) keeps it: kshare adds none, and its span is not the
 * record's parent. Each handler attempt runs in a CONSUMER span `process
 * <topic>`, child of the context extracted from the record's headers, made
 * active for the handler (`context.with`), ended with an error status when
 * the handler throws, rejects or times out. kshare itself sets no key as an
 * attribute (keys are often user ids); a handler can add what it wants to
 * `otel.trace.getActiveSpan()`.
 *
 * The active context across `await` needs a context manager
 * (`AsyncLocalStorageContextManager` of `@opentelemetry/context-async-hooks`,
 * which works on Node, Deno and Bun). Without one, `context.with` does
 * nothing: records still carry the context of their send spans, and
 * handlers' spans are its children, but a send span has no parent (but in
 * the gateway, which hands the caller's over explicitly), and the handler's
 * span is not active in the handler.
 *
 * @example Trace context from publish to handler
 * ```ts
 * import * as otel from "@opentelemetry/api";
 * import * as v from "valibot";
 * import { createRegistry, defineTopic, type TracingApi } from "@kshare/kshare";
 *
 * const tracing: TracingApi = otel; // the application registers its SDK with the same module
 * const kafka = createRegistry({ tracing });
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const ctx = { bootstrapServers: "localhost:9092" };
 * kafka.consumer(ctx, "billing")
 *   .subscribe(orders, (message) => {
 *     otel.trace.getActiveSpan()?.setAttribute("app.order_id", message.value.id); // the "process orders" span
 *   })
 *   .start();
 * await otel.trace.getTracer("shop").startActiveSpan("checkout", async (span) => {
 *   const producer = await kafka.producer(ctx);
 *   await producer.publish(orders, { id: "o-1" }); // "send orders", child of "checkout"; traceparent on the record
 *   span.end();
 * });
 * ```
 */
export interface TracingApi {
  /** `otel.ROOT_CONTEXT`: what a handler's span is extracted onto, so that it descends from its record only. */
  readonly ROOT_CONTEXT: TraceContext;
  /** `otel.trace`. */
  readonly trace: {
    getTracer(name: string, version?: string): {
      startSpan(
        name: string,
        options?: { kind?: number; attributes?: Record<string, string | number | boolean> },
        context?: TraceContext,
      ): TraceSpan;
    };
    setSpan(context: TraceContext, span: TraceSpan): TraceContext;
    getSpan(context: TraceContext): TraceSpan | undefined;
  };
  /** `otel.context`. */
  readonly context: {
    active(): TraceContext;
    with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
      context: TraceContext,
      fn: F,
      thisArg?: ThisParameterType<F>,
      ...args: A
    ): ReturnType<F>;
  };
  /** `otel.propagation`. */
  readonly propagation: {
    inject<C>(context: TraceContext, carrier: C, setter?: { set(carrier: C, key: string, value: string): void }): void;
    extract<C>(
      context: TraceContext,
      carrier: C,
      getter?: { keys(carrier: C): string[]; get(carrier: C, key: string): undefined | string | string[] },
    ): TraceContext;
    fields(): string[];
  };
}

/**
 * The parent context of a publish, when the caller is not the active
 * context: the gateway's incoming HTTP trace. A symbol-keyed property of
 * `PublishOptions`, internal to kshare (not exported by `mod.ts`).
 */
export const TRACE_PARENT: unique symbol = Symbol("kshare.traceParent");

/** Options that may carry {@link TRACE_PARENT}. */
export interface TraceParent {
  readonly [TRACE_PARENT]?: TraceContext;
}

// OpenTelemetry's enum values (SpanKind, SpanStatusCode), fixed by its protocol: kshare has no import to take them from.
const PRODUCER = 3;
const CONSUMER = 4;
const ERROR = 2;

const KIND = "messaging.system";
const DESTINATION = "messaging.destination.name";
const OPERATION_TYPE = "messaging.operation.type";
const OPERATION_NAME = "messaging.operation.name";
const PARTITION = "messaging.destination.partition.id";
const OFFSET = "messaging.kafka.offset";
const GROUP = "messaging.consumer.group.name";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Writes a propagator's fields as Kafka headers. */
const headerSetter = {
  set(carrier: Array<readonly [string, Uint8Array]>, key: string, value: string): void {
    carrier.push([key, utf8.encode(value)]);
  },
};

/** Reads a propagator's fields from Kafka headers: of a repeated name, the last (as the consumer's text headers). */
const headerGetter = {
  keys: (carrier: IncomingMessage["headers"]): string[] => carrier.map(([name]) => name),
  get(carrier: IncomingMessage["headers"], key: string): string | undefined {
    for (let i = carrier.length - 1; i >= 0; i--) if (carrier[i]![0] === key) return fromUtf8.decode(carrier[i]![1]);
    return undefined;
  },
};

/** Reads a propagator's fields from HTTP request headers. */
const httpGetter = {
  keys(carrier: Headers): string[] {
    const names: string[] = [];
    carrier.forEach((_, name) => names.push(name));
    return names;
  },
  get: (carrier: Headers, key: string): string | undefined => carrier.get(key) ?? undefined,
};

/**
 * A registry's tracing: its spans and propagation, over the application's
 * OpenTelemetry API. Internal (not exported by `mod.ts`); the registry
 * creates one when `tracing` is given, and its producers, consumers and
 * gateway requests share it.
 */
export class Tracing {
  readonly #api: TracingApi;
  readonly #tracer: ReturnType<TracingApi["trace"]["getTracer"]>;

  constructor(api: TracingApi) {
    const ok = typeof api === "object" && api !== null && typeof api.ROOT_CONTEXT?.getValue === "function" &&
      typeof api.trace?.getTracer === "function" && typeof api.trace.setSpan === "function" && typeof api.trace.getSpan === "function" &&
      typeof api.context?.active === "function" && typeof api.context.with === "function" &&
      typeof api.propagation?.inject === "function" && typeof api.propagation.extract === "function" &&
      typeof api.propagation.fields === "function";
    if (!ok) {
      throw new TypeError(
        'createRegistry: tracing must be the OpenTelemetry API module (import * as otel from "@opentelemetry/api"; createRegistry({ tracing: otel })), with its trace, context and propagation',
      );
    }
    this.#api = api;
    // A tracer of the API's proxy provider: it follows a provider the application registers later.
    this.#tracer = api.trace.getTracer("kshare");
  }

  /**
   * Start the PRODUCER span of `record`, child of `parent` (default: the
   * active context), and answer the record carrying the span's context in
   * its headers; one that carries a field of the propagator already is
   * answered as it is.
   */
  send(record: OutgoingRecord, parent: TraceContext | undefined): [OutgoingRecord, TraceSpan] {
    const api = this.#api;
    const context = parent ?? api.context.active();
    const span = this.#tracer.startSpan(`send ${record.topic}`, {
      kind: PRODUCER,
      attributes: { [KIND]: "kafka", [DESTINATION]: record.topic, [OPERATION_TYPE]: "send", [OPERATION_NAME]: "send" },
    }, context);
    if (record.partition !== undefined) span.setAttribute(PARTITION, String(record.partition));
    const own = record.headers;
    if (own !== undefined && own.length > 0) {
      const fields = api.propagation.fields();
      if (own.some(([name]) => fields.includes(name.toLowerCase()))) return [record, span];
    }
    const injected: Array<readonly [string, Uint8Array]> = [];
    api.propagation.inject(api.trace.setSpan(context, span), injected, headerSetter);
    if (injected.length === 0) return [record, span];
    return [{ ...record, headers: own === undefined ? injected : [...own, ...injected] }, span];
  }

  /** `sent`'s outcome, ending `span` with it: the delivery report's partition and offset, or the failure. */
  sent(sent: Promise<DeliveryReport>, span: TraceSpan): Promise<DeliveryReport> {
    return sent.then((report) => {
      this.end(span, report);
      return report;
    }, (error: unknown) => {
      this.fail(span, error);
      throw error;
    });
  }

  /**
   * Start the CONSUMER span of one handler attempt on `message`, child of
   * the context in its headers (a root span without one); answers the span
   * and the context the handler runs in (see {@link run}). Extracted onto the
   * root context, not the active one: the poll loop runs in the context its
   * `start()` was called in, which is no parent of the records it fetches.
   */
  process(groupId: string, message: IncomingMessage): [TraceSpan, TraceContext] {
    const api = this.#api;
    const parent = api.propagation.extract(api.ROOT_CONTEXT, message.headers, headerGetter);
    const span = this.#tracer.startSpan(`process ${message.topic}`, {
      kind: CONSUMER,
      attributes: {
        [KIND]: "kafka",
        [DESTINATION]: message.topic,
        [OPERATION_TYPE]: "process",
        [OPERATION_NAME]: "process",
        [PARTITION]: String(message.partition),
        [OFFSET]: message.offset,
        [GROUP]: groupId,
      },
    }, parent);
    return [span, api.trace.setSpan(parent, span)];
  }

  /** `fn(arg)` with `context` active. */
  run<T, R>(context: TraceContext, fn: (arg: T) => R, arg: T): R {
    return this.#api.context.with(context, fn, undefined, arg);
  }

  /**
   * End `span` (its status left unset: OK), with the partition and offset of
   * `report` when there is one. Never throws: it runs where a throw would
   * lose a delivery report or stall a partition, and `span` is the
   * application's SDK's.
   */
  end(span: TraceSpan, report?: DeliveryReport): void {
    try {
      if (report !== undefined) {
        span.setAttribute(PARTITION, String(report.partition));
        span.setAttribute(OFFSET, report.offset);
      }
      span.end();
    } catch {
      // See above: the span is lost, the record is not.
    }
  }

  /** End `span` as failed by `failure`: an exception event, ERROR status and `error.type`. Never throws, as {@link end}. */
  fail(span: TraceSpan, failure: unknown): void {
    const error = failure instanceof Error ? failure : new Error(String(failure));
    try {
      span.recordException(error);
      span.setAttribute("error.type", error.name);
      span.setStatus({ code: ERROR, message: error.message });
      span.end();
    } catch {
      // See end().
    }
  }

  /**
   * The parent of a gateway request's publishes: the active context when it
   * holds a span (an HTTP instrumentation's server span, itself the caller's
   * child), else the caller's trace context from the request's headers.
   */
  incoming(headers: Headers): TraceContext {
    const api = this.#api;
    const active = api.context.active();
    if (api.trace.getSpan(active) !== undefined) return active;
    return api.propagation.extract(active, headers, httpGetter);
  }
}

/** Each registry's {@link Tracing}, for the gateway's `kafka()`, which holds the registry only. */
const registries = new WeakMap<object, Tracing>();

/** Remember `registry`'s tracing (the registry calls it once, when created with `tracing`). */
export function setTracingOf(registry: object, tracing: Tracing): void {
  registries.set(registry, tracing);
}

/** `registry`'s tracing; undefined without `RegistryOptions.tracing`. */
export function tracingOf(registry: object): Tracing | undefined {
  return registries.get(registry);
}
