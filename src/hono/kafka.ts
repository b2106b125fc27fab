/**
 * The `kafka()` middleware: resolves each request's security context and
 * hands the request the shared producer of that context as `c.var.kafka`.
 *
 * @module
 */
import type { Context, Env, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type * as v from "valibot";
import { registry as defaultRegistry } from "../default_registry.ts";
import { PublishTimeoutError } from "../errors.ts";
import type { Registry } from "../registry.ts";
import type { DeliveryReport, Producer } from "../producer.ts";
import type { PublishOptions, PublishRecord } from "../publish_options.ts";
import type { SecurityContext } from "../security_context.ts";
import { resolveSecurityContext } from "../resolve_security_context.ts";
import type { Topic } from "../topic.ts";
import { TRACE_PARENT, type TraceContext, type Tracing, tracingOf } from "../tracing.ts";
import type { Logger } from "../_util.ts";
import { timeouts } from "../_timeouts.ts";
import { validValue, validValues } from "../_validate.ts";
import { KAFKA_AUTHORIZATION } from "./error_codes.ts";
import { publishFailure, restProxyError } from "./errors.ts";
import type { Metrics } from "./metrics.ts";

/**
 * The shared producer of one request's security context, as `c.var.kafka`.
 * Nothing about the request (path, headers, body) can point it at another
 * context: it is bound when the middleware resolved the context.
 *
 * @example A handler publishing a batch through `c.var.kafka`
 * ```ts
 * import { Hono } from "hono";
 * import * as v from "valibot";
 * import { defineTopic } from "@kshare/kshare";
 * import { kafka, type KafkaEnv } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * const app = new Hono<KafkaEnv>();
 * app.use("/orders/*", kafka({ resolveContext: () => ({ bootstrapServers: "localhost:9092" }) }));
 * app.post("/orders/batch", async (c) => {
 *   const ids: string[] = await c.req.json();
 *   const reports = await c.var.kafka.publishBatch(orders, ids.map((id) => ({ value: { id } })));
 *   console.log(`published ${reports.length} orders with context ${c.var.kafka.fingerprint}`);
 *   return c.json({ offsets: reports.map((report) => report.offset) });
 * });
 * ```
 */
export interface BoundProducer {
  /** Fingerprint of the request's security context (safe to log). */
  readonly fingerprint: string;
  /** The shared producer of the context: connects on first use, the same handle for every request of the context. */
  producer(): Promise<Producer>;
  /**
   * `Producer.publish` on the context's shared producer, counted in the
   * metrics. `options.timeoutMs` counts from this call: waiting for the
   * producer (a first connect) takes from it. A value the topic's schema
   * refuses rejects with `ValidationError` before any producer is asked for.
   */
  publish<S extends v.GenericSchema>(topic: Topic<S>, value: v.InferInput<S>, options?: PublishOptions): Promise<DeliveryReport>;
  /**
   * `Producer.publishBatch` on the context's shared producer, counted in the
   * metrics. Records the topic's schema refuses reject with one
   * `ValidationError` before any producer is asked for.
   */
  publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]>;
  /** `Producer.ping`: resolves when a broker answered a metadata request within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>;
}

/**
 * The context variables the `kafka()` middleware sets: `c.var.kafka`.
 *
 * @example Typing an app whose handlers use `c.var.kafka` next to their own variables
 * ```ts
 * import { Hono } from "hono";
 * import { kafka, type KafkaEnv } from "@kshare/kshare/hono";
 *
 * type AppEnv = { Variables: { user: string } }; // `user`: set by an auth middleware in front
 * const app = new Hono<AppEnv & KafkaEnv>();
 * app.use("/v3/*", kafka<AppEnv>({ resolveContext: () => ({ bootstrapServers: "localhost:9092" }) }));
 * app.get("/v3/whoami", (c) => c.json({ user: c.var.user, context: c.var.kafka.fingerprint }));
 * ```
 */
export type KafkaEnv = { Variables: { kafka: BoundProducer } };

/**
 * What a `resolveContext` may answer: a context, or nothing for "this caller may not publish".
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import type { Context } from "hono";
 * import type { SecurityContext } from "@kshare/kshare";
 * import { kafka, type ResolvedContext } from "@kshare/kshare/hono";
 *
 * type UserEnv = { Variables: { user: string } };
 * const contexts = new Map<string, SecurityContext>([
 *   ["alice", {
 *     bootstrapServers: "broker:9093",
 *     sasl: { mechanism: "SCRAM-SHA-512", username: "alice", password: process.env.ALICE_KAFKA_PASSWORD! },
 *   }],
 * ]);
 * // null: this user may not publish, and is answered 403
 * const contextOf = (c: Context<UserEnv>): ResolvedContext => contexts.get(c.var.user) ?? null;
 * const middleware = kafka<UserEnv>({ resolveContext: contextOf });
 * ```
 */
export type ResolvedContext = SecurityContext | null | undefined;

/**
 * Options of {@link kafka}.
 *
 * @example
 * ```ts
 * import { createRegistry, type SecurityContext } from "@kshare/kshare";
 * import { createMetrics, kafka, type KafkaOptions } from "@kshare/kshare/hono";
 *
 * type UserEnv = { Variables: { user: string } };
 * const contexts = new Map<string, SecurityContext>([
 *   ["alice", { bootstrapServers: "localhost:9092", clientId: "gateway-alice" }],
 * ]);
 * const options: KafkaOptions<UserEnv> = {
 *   resolveContext: (c) => contexts.get(c.var.user), // set by an auth middleware in front
 *   registry: createRegistry(),
 *   metrics: createMetrics(),
 *   logger: console,
 * };
 * const middleware = kafka(options);
 * ```
 */
export interface KafkaOptions<E extends Env = Env> {
  /**
   * The security context of this request, typically from what an auth
   * middleware (`basicAuth`, `bearerAuth`, `jwt`) put in `c.var`. Return
   * `null`/`undefined` when the caller has none: the request is answered 403
   * and never falls back to another context. Throw an `HTTPException` for
   * another answer (e.g. 401).
   */
  readonly resolveContext: (c: Context<E>) => ResolvedContext | Promise<ResolvedContext>;
  /**
   * The registry whose shared producers are handed out (default: the
   * module's `registry`). One created with `tracing` continues each caller's
   * trace: a request's publishes are children of the active span when an
   * HTTP instrumentation made one, else of the request's `traceparent`.
   */
  readonly registry?: Registry;
  /** Where publishes and in-flight requests are counted. */
  readonly metrics?: Metrics;
  /** Where a context that fails validation is reported, by field path only (default `console`). */
  readonly logger?: Logger;
}

/**
 * Middleware that resolves the request's security context and sets
 * `c.var.kafka`, bound to that context's shared producer. A request without a
 * context is answered 403 before any handler runs; an invalid context is
 * answered 403 too, and logged by field path (never a value).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bearerAuth } from "hono/bearer-auth";
 * import * as v from "valibot";
 * import { defineTopic, type SecurityContext } from "@kshare/kshare";
 * import { kafka, type KafkaEnv } from "@kshare/kshare/hono";
 *
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });
 * const tenants = new Map<string, SecurityContext>([
 *   ["token-a", { bootstrapServers: "localhost:9092", clientId: "tenant-a" }],
 * ]);
 *
 * type TokenEnv = { Variables: { token: string } };
 * const app = new Hono<TokenEnv & KafkaEnv>();
 * app.use("/orders", bearerAuth<TokenEnv>({ verifyToken: (token, c) => (c.set("token", token), tenants.has(token)) }));
 * app.use("/orders", kafka<TokenEnv>({ resolveContext: (c) => tenants.get(c.var.token) }));
 * app.post("/orders", async (c) => {
 *   const report = await c.var.kafka.publish(orders, await c.req.json());
 *   return c.json({ offset: report.offset });
 * });
 * ```
 */
export function kafka<E extends Env = Env>(options: KafkaOptions<E>): MiddlewareHandler<E & KafkaEnv> {
  const registry = options.registry ?? defaultRegistry;
  const logger = options.logger ?? console;
  const { metrics } = options;
  const tracing = tracingOf(registry);
  return createMiddleware<E & KafkaEnv>(async function kafka(c, next) {
    const ctx = await options.resolveContext(c as unknown as Context<E>);
    if (ctx === null || ctx === undefined) {
      throw restProxyError(403, KAFKA_AUTHORIZATION, "No Kafka security context for this caller");
    }
    let fingerprint: string;
    try {
      fingerprint = resolveSecurityContext(ctx).fingerprint;
    } catch (error) {
      const problems = (error as { problems?: readonly { path: string; message: string }[] }).problems ?? [];
      logger.warn("kshare/hono: resolveContext returned an invalid security context", { problems });
      throw restProxyError(403, KAFKA_AUTHORIZATION, "The caller's Kafka security context is invalid");
    }
    const bound = new RequestProducer(registry, ctx, fingerprint, metrics, tracing && { tracing, headers: c.req.raw.headers });
    c.set("kafka", bound);
    // The rest of the request is returned, not awaited: this frame is not held while the request runs.
    if (!metrics) return next();
    metrics.requestsInFlight(1);
    const end = () => metrics.requestsInFlight(-1);
    return next().then(() => {
      const written = streaming.get(bound);
      if (written) written.then(end, end);
      else end();
    }, (error: unknown) => {
      end();
      throw error;
    });
  });
}

/**
 * Requests whose response goes on after their handler returned (streaming
 * mode), by their {@link BoundProducer}: settled once the last result is
 * written. Held as long as the request's producer binding, no longer.
 */
const streaming = new WeakMap<BoundProducer, Promise<void>>();

/**
 * The request of `kafka` stays in flight (the metrics' requests in flight,
 * which a draining gateway waits for) until `written` settles, not only until
 * its handler returned a response whose body is still being written.
 */
export function inFlightUntil(kafka: BoundProducer, written: Promise<void>): void {
  streaming.set(kafka, written);
}

/**
 * Publish on `producer` once it is there, within `timeoutMs` from now: the
 * wait for the producer (a first connect, up to its connect timeout) counts,
 * the publish gets what is left. Past the deadline nothing is published and
 * the answer is a {@link PublishTimeoutError} naming `timeoutMs`.
 */
function publishWithin<S extends v.GenericSchema>(
  producer: Promise<Producer>,
  topic: Topic<S>,
  value: v.InferInput<S>,
  options: PublishOptions,
  timeoutMs: number,
): Promise<DeliveryReport> {
  const deadline = Date.now() + timeoutMs;
  const timedOut = (cause?: unknown) =>
    cause === undefined ? new PublishTimeoutError(topic.name, timeoutMs) : new PublishTimeoutError(topic.name, timeoutMs, { cause });
  return new Promise((resolve, reject) => {
    let expired = false;
    const timeout = timeouts.start(timeoutMs, () => {
      expired = true;
      reject(timedOut());
    });
    producer.then((ready) => {
      timeouts.stop(timeout);
      const left = deadline - Date.now();
      if (expired || left < 1) return reject(timedOut());
      const own = left === timeoutMs ? options : { ...options, timeoutMs: left };
      ready.publish(topic, value, own).then(
        resolve,
        (error: unknown) => reject(error instanceof PublishTimeoutError ? timedOut(error.cause) : error),
      );
    }, (error: unknown) => {
      timeouts.stop(timeout);
      reject(error);
    });
  });
}

/** {@link BoundProducer} of one request. Acquires the shared producer once per request, on first use. */
class RequestProducer implements BoundProducer {
  readonly fingerprint: string;
  #registry: Registry;
  #context: SecurityContext;
  #metrics: Metrics | undefined;
  #producer: Promise<Producer> | undefined;
  /** The producer once {@link producer}'s promise resolved. */
  #ready: Producer | undefined;
  /** The registry's tracing and the request's headers; undefined without `RegistryOptions.tracing`. */
  #traced: { readonly tracing: Tracing; readonly headers: Headers } | undefined;
  /** The parent of this request's publishes, read from the request once, on its first publish. */
  #parent: TraceContext | undefined;

  constructor(
    registry: Registry,
    context: SecurityContext,
    fingerprint: string,
    metrics: Metrics | undefined,
    traced: { readonly tracing: Tracing; readonly headers: Headers } | undefined,
  ) {
    this.#registry = registry;
    this.#context = context;
    this.fingerprint = fingerprint;
    this.#metrics = metrics;
    this.#traced = traced;
  }

  /**
   * `options` carrying the caller's trace context, when traced: the
   * publish runs in a promise callback later, where the request's active
   * context may be gone, so it is handed over explicitly.
   */
  #withParent<O extends object>(options: O | undefined): O | undefined {
    const traced = this.#traced;
    if (traced === undefined) return options;
    this.#parent ??= traced.tracing.incoming(traced.headers);
    return { ...options, [TRACE_PARENT]: this.#parent } as O;
  }

  producer(): Promise<Producer> {
    this.#producer ??= this.#registry.producer(this.#context).then((producer) => (this.#ready = producer));
    return this.#producer;
  }

  publish<S extends v.GenericSchema>(topic: Topic<S>, value: v.InferInput<S>, given?: PublishOptions): Promise<DeliveryReport> {
    const options = this.#withParent(given);
    return this.#measure(
      topic.name,
      1,
      () =>
        this.#refusedEarly(() => validValue(topic, value)) ??
          (options?.timeoutMs === undefined
            ? this.producer().then((producer) => producer.publish(topic, value, options))
            : publishWithin(this.producer(), topic, value, options, options.timeoutMs)),
    );
  }

  publishBatch<S extends v.GenericSchema>(
    topic: Topic<S>,
    records: readonly PublishRecord<v.InferInput<S>>[],
  ): Promise<DeliveryReport[]> {
    const traced = this.#traced === undefined ? records : records.map((record) => this.#withParent(record)!);
    return this.#measure(
      topic.name,
      records.length,
      () => this.#refusedEarly(() => validValues(topic, records)) ?? this.producer().then((producer) => producer.publishBatch(topic, traced)),
    );
  }

  /**
   * Until the producer is at hand (a first connect can take seconds, or
   * fail), values the topic's schema refuses are refused here, as the
   * producer would refuse them: a bad record is told so whether or not Kafka
   * can be reached, and connects nothing. Once it is at hand, the producer
   * checks. `check` throws the refusal; returned as a rejection, or undefined.
   */
  #refusedEarly(check: () => unknown): Promise<never> | undefined {
    if (this.#ready !== undefined) return undefined;
    try {
      check();
      return undefined;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async ping(timeoutMs?: number): Promise<void> {
    await (await this.producer()).ping(timeoutMs);
  }

  // Promise callbacks rather than async functions here and in the callers: a request awaiting its publish
  // holds no suspended frame of its own, which at hundreds of requests in flight is less for the GC to copy.
  #measure<T>(topic: string, count: number, publish: () => Promise<T>): Promise<T> {
    const metrics = this.#metrics;
    if (!metrics) return publish();
    const started = performance.now();
    metrics.publishesInFlight(1);
    return publish().then((result) => {
      metrics.publishesInFlight(-1);
      const seconds = (performance.now() - started) / 1000;
      for (let i = 0; i < count; i++) {
        metrics.published(topic, 200);
        metrics.observeLatency(topic, seconds);
      }
      return result;
    }, (error: unknown) => {
      metrics.publishesInFlight(-1);
      const results = (error as { name?: unknown; results?: readonly PromiseSettledResult<unknown>[] }).name === "PublishBatchError"
        ? (error as { results: readonly PromiseSettledResult<unknown>[] }).results
        : Array.from({ length: count }, (): PromiseSettledResult<unknown> => ({ status: "rejected", reason: error }));
      const seconds = (performance.now() - started) / 1000;
      for (const r of results) {
        metrics.published(topic, r.status === "fulfilled" ? 200 : publishFailure(r.reason).status);
        // A delivered record of a batch that failed elsewhere took as long as one of a batch that did not.
        if (r.status === "fulfilled") metrics.observeLatency(topic, seconds);
      }
      throw error;
    });
  }
}
