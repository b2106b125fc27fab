/**
 * The REST Proxy driver: publishes over Confluent REST Proxy v3's produce API
 * (the kshare gateway, Confluent REST Proxy, Confluent Cloud's Kafka REST
 * API), for runtimes without raw TCP such as Cloudflare Workers and other
 * edge isolates. It needs only `fetch`, `TextEncoder`, `btoa` and
 * `setTimeout`, and imports no runtime module. Producers only: a consumer
 * needs a TCP driver.
 *
 * @module
 */
import type { ClientConfig, KafkaDriver, ProducerClient, ProducerConfig } from "../driver.ts";
import { authorizer, type Credentials } from "./_rest_auth.ts";
import { type Fetch, ping, type RestEndpoint } from "./_rest_http.ts";
import { restProducer } from "./_rest_producer.ts";
import { batchRequests, type ProduceRequestFormat, streamingRequests } from "./_rest_produce_request.ts";

/**
 * Options of {@link restProxyDriver}.
 *
 * @example The kshare gateway on this machine, with requests counted
 * ```ts
 * import { restProxyDriver, type RestProxyDriverOptions } from "@kshare/kshare";
 *
 * let requests = 0;
 * const options: RestProxyDriverOptions = {
 *   url: "http://127.0.0.1:8082", // the gateway serves /v3/clusters/kshare/...
 *   clusterId: "kshare",
 *   auth: { username: "dev", password: "dev-secret" }, // for contexts without sasl
 *   fetch: (url, init) => (requests++, fetch(url, init)),
 *   maxRequestBytes: 256 * 1024, // the gateway was started with a smaller maxBodyBytes
 * };
 * const driver = restProxyDriver(options);
 * ```
 *
 * @example Batch mode: `records:batch` requests of at most 25 entries
 * ```ts
 * import { restProxyDriver, type RestProxyDriverOptions } from "@kshare/kshare";
 *
 * const options: RestProxyDriverOptions = {
 *   url: "http://127.0.0.1:8082",
 *   clusterId: "kshare",
 *   mode: "batch",
 *   maxBatchEntries: 25, // the gateway was started with publishRoutes({ maxBatchEntries: 25 })
 * };
 * const driver = restProxyDriver(options);
 * ```
 */
export interface RestProxyDriverOptions {
  /**
   * Base URL of the REST API: scheme, host, port and the path before `/v3`.
   * `https://pkc-….confluent.cloud:443/kafka` for Confluent Cloud (its
   * cluster's "RestEndpoint" and `/kafka`), `http://localhost:8082` for the
   * kshare gateway or Confluent REST Proxy. No credentials, query or fragment.
   */
  readonly url: string;
  /** The cluster id of the paths: `lkc-…` on Confluent Cloud, the gateway's `GATEWAY_CLUSTER_ID` (default `kshare`). */
  readonly clusterId: string;
  /**
   * Credentials of a context without `sasl`: HTTP Basic, or a Bearer token
   * (a function is called for every request, so it can return a fresh one).
   * Default: none. A context's `sasl` takes precedence.
   */
  readonly auth?:
    | { readonly username: string; readonly password: string }
    | { readonly token: string | (() => string | Promise<string>) };
  /**
   * The `fetch` requests are sent with (default `globalThis.fetch`): to add
   * headers, count requests, or use a binding's `fetch`.
   */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /**
   * Largest request body in bytes (default 1 000 000, under the gateway's
   * default limit of 1 MiB). Records beyond it wait for the next request of
   * their topic; a larger record goes alone.
   */
  readonly maxRequestBytes?: number;
  /**
   * How a topic's publishes in flight are sent (default `"streaming"`):
   *
   * - `"streaming"`: one `POST …/topics/{topic}/records` whose body holds
   *   them as concatenated JSON records, answered one JSON object per record;
   * - `"batch"`: `POST …/topics/{topic}/records:batch` requests of at most
   *   `maxBatchEntries` entries each, answered 207 with `successes` and
   *   `failures` by entry id.
   *
   * Both settle every publish by its own record's answer; batch mode is for
   * a REST endpoint, or a proxy in front of one, that does not take several
   * concatenated records in one request.
   */
  readonly mode?: "streaming" | "batch";
  /**
   * Most entries of one `records:batch` request in batch mode (default 10,
   * the kshare gateway's default limit): at most the REST endpoint's limit,
   * or its requests are answered 400 and their publishes rejected. Only with
   * `mode: "batch"`.
   */
  readonly maxBatchEntries?: number;
}

/** Bound on the readiness check of a new producer. */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REQUEST_BYTES = 1_000_000;
/** The kshare gateway's default `maxBatchEntries` (kshare/hono's `DEFAULT_MAX_BATCH_ENTRIES`; a driver does not import kshare/hono). */
const DEFAULT_MAX_BATCH_ENTRIES = 10;
/** librdkafka's default `message.timeout.ms`. */
const DEFAULT_DELIVERY_TIMEOUT_MS = 300_000;

const CONSUMER_NEEDS_TCP = "The REST Proxy driver publishes only: a consumer needs a TCP driver (the FFI or Confluent driver); " +
  "consume through a registry created with one";

/**
 * A {@link KafkaDriver} publishing over REST Proxy v3: `registry.producer(ctx)`
 * and its publishes work as with librdkafka; `registry.consumer(...)`'s
 * `start()` rejects (a consumer needs a TCP driver). `registry.stats().driver`
 * is `{ name: "rest-proxy", librdkafkaVersion: "none" }`.
 *
 * A security context says where and as whom, in librdkafka's terms:
 *
 * - `bootstrapServers`: the REST endpoint, `url`'s `host:port` (its port
 *   written out: 443 for https, 80 for http, when `url` has none). A context
 *   naming anything else is refused, so the registry's key and description
 *   say where its records go.
 * - `securityProtocol`: `SSL` or `SASL_SSL` for an https `url`, `PLAINTEXT`
 *   or `SASL_PLAINTEXT` for http. With `sasl` the default is `SASL_SSL`: an
 *   http `url` needs `SASL_PLAINTEXT` written out, so credentials never go
 *   over plain HTTP unless the context says so.
 * - `sasl`: the credentials. PLAIN `username`/`password` are sent as HTTP
 *   Basic (Confluent Cloud: API key and secret); OAUTHBEARER's client
 *   credentials get a token from its `tokenEndpointUrl`, sent as Bearer and
 *   fetched again before it expires. SCRAM has no HTTP form and is refused.
 *   Without `sasl`, the driver's `auth` is used.
 * - `tls`: `fetch` takes no certificates or keys, and always verifies the
 *   host: a context with `ca`, `cert`, `key` or `verifyHostname: false` is
 *   refused; the runtime's CA store decides whom to trust.
 * - `producer`: `message.timeout.ms` (or `delivery.timeout.ms`) is the
 *   delivery timeout of every record (default 300 000 ms; 0: none). Other librdkafka
 *   tuning does not apply to HTTP and is ignored.
 *
 * So two tenants with different credentials are two contexts with a shared
 * producer each, and their keys stay free of secrets: the fingerprint HMACs
 * a password or client secret as it does for librdkafka. Errors and stats
 * never contain a password, secret or token.
 *
 * Publishing: a new producer first checks `GET /v3/clusters/{id}` (and so
 * the credentials); `ping` does the same. Records go per topic, as JSON
 * records (key and value as `BINARY` base64, headers, `partition_id`,
 * `timestamp`). In streaming mode (the default) the publishes in flight
 * share one `POST /v3/clusters/{id}/topics/{topic}/records` whose body holds
 * them as concatenated JSON objects; in batch mode (`mode: "batch"`) they go
 * as `POST …/records:batch` requests of at most `maxBatchEntries` entries.
 * Each record's answer (in batch mode, its entry in `successes` or
 * `failures`) settles its publish with a delivery report (`partition_id`,
 * `offset`), or rejects it with the REST Proxy's `error_code` and message.
 * A topic has one request in flight at a time, in either mode, so its
 * records arrive in publish order. A 429 or 503 is retried
 * after its `Retry-After` (without one, after a backoff) within each record's
 * deadline (its `timeoutMs`, and the delivery timeout); a record whose
 * deadline comes first fails at once with a timed-out error (`code` -192,
 * librdkafka's `ERR__MSG_TIMED_OUT`). A record some REST Proxy wrote and still
 * answered 503 for may then be written twice: at least once, as any retry
 * over HTTP. Close flushes within its bound, refusing new publishes meanwhile.
 *
 * @example A Cloudflare Worker publishing to Confluent Cloud for the tenant of each request
 * ```ts
 * import * as v from "valibot";
 * import { createRegistry, defineTopic, restProxyDriver } from "@kshare/kshare";
 *
 * // One registry per isolate: its producers are shared by the requests the isolate serves.
 * const kafka = createRegistry({
 *   driver: restProxyDriver({ url: "https://pkc-abcde.us-west4.gcp.confluent.cloud:443/kafka", clusterId: "lkc-vo9pz" }),
 * });
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }), key: (o) => o.id });
 * declare function tenantOf(request: Request): { apiKey: string; apiSecret: string };
 *
 * export default {
 *   async fetch(request: Request): Promise<Response> {
 *     const { apiKey, apiSecret } = tenantOf(request);
 *     const producer = await kafka.producer({
 *       bootstrapServers: "pkc-abcde.us-west4.gcp.confluent.cloud:443", // the url's host:port
 *       sasl: { mechanism: "PLAIN", username: apiKey, password: apiSecret }, // HTTP Basic, over https (SASL_SSL)
 *     });
 *     const report = await producer.publish(orders, await request.json() as { id: string }, { timeoutMs: 5_000 });
 *     return Response.json(report);
 *   },
 * };
 * ```
 *
 * @example The kshare gateway over plain HTTP, credentials from the context
 * ```ts
 * import process from "node:process";
 * import * as v from "valibot";
 * import { createRegistry, defineTopic, restProxyDriver } from "@kshare/kshare";
 *
 * const kafka = createRegistry({ driver: restProxyDriver({ url: "http://127.0.0.1:8082", clusterId: "kshare" }) });
 * const producer = await kafka.producer({
 *   bootstrapServers: "127.0.0.1:8082",
 *   securityProtocol: "SASL_PLAINTEXT", // http: said out loud
 *   sasl: { mechanism: "PLAIN", username: "alice", password: process.env.GATEWAY_PASSWORD! },
 * });
 * const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string(), customer: v.string(), total: v.number() }) });
 * await producer.publish(orders, { id: "o-1", customer: "c-7", total: 42 }, { key: "o-1", headers: { source: "edge" } });
 * ```
 */
export function restProxyDriver(options: RestProxyDriverOptions): KafkaDriver {
  const base = baseUrl(options?.url);
  const { clusterId } = options;
  if (typeof clusterId !== "string" || clusterId.trim() === "") {
    throw new TypeError("restProxyDriver: clusterId must be a non-empty string (the cluster id of the REST paths)");
  }
  const defaultCredentials = credentialsOf(options.auth);
  if (options.fetch !== undefined && typeof options.fetch !== "function") throw new TypeError("restProxyDriver: fetch must be a function");
  const fetch: Fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 1) {
    throw new TypeError(`restProxyDriver: maxRequestBytes must be a whole number > 0, got ${String(maxRequestBytes)}`);
  }
  const format = requestFormat(options.mode, options.maxBatchEntries);
  return {
    name: "rest-proxy",
    librdkafkaVersion: "none",
    async createProducer(config: ProducerConfig): Promise<ProducerClient> {
      const endpoint: RestEndpoint = {
        url: base.url,
        clusterId,
        label: config.label,
        fetch,
        auth: authorizer(contextCredentials(config, base, defaultCredentials), fetch),
      };
      const deliveryTimeoutMs = deliveryTimeout(config);
      await ping(endpoint, CONNECT_TIMEOUT_MS);
      return restProducer(endpoint, config, { maxRequestBytes, format, deliveryTimeoutMs });
    },
    createConsumer: () => Promise.reject(new Error(CONSUMER_NEEDS_TCP)),
  };
}

/** The requests of the `mode` and `maxBatchEntries` options; a `TypeError` naming what is wrong with them. */
function requestFormat(mode: unknown, maxBatchEntries: unknown): ProduceRequestFormat {
  if (mode !== undefined && mode !== "streaming" && mode !== "batch") {
    throw new TypeError(`restProxyDriver: mode must be "streaming" or "batch", got ${JSON.stringify(mode) ?? String(mode)}`);
  }
  if (mode !== "batch") {
    if (maxBatchEntries !== undefined) throw new TypeError('restProxyDriver: maxBatchEntries applies to mode "batch" only');
    return streamingRequests;
  }
  const entries = maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
  if (!Number.isSafeInteger(entries) || (entries as number) < 1) {
    throw new TypeError(`restProxyDriver: maxBatchEntries must be a whole number > 0, got ${String(entries)}`);
  }
  return batchRequests(entries as number);
}

/** The parsed `url` option: the base of every path, and the `host:port` a context must name. */
interface BaseUrl {
  readonly url: string;
  readonly https: boolean;
  readonly hostPort: string;
}

function baseUrl(url: unknown): BaseUrl {
  const problem = (what: string) => new TypeError(`restProxyDriver: url ${what}`);
  if (typeof url !== "string") throw problem("must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw problem("must be an absolute http or https URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw problem("must be an http or https URL");
  // Not echoed: it may hold a password.
  if (parsed.username || parsed.password) throw problem("must not hold credentials: give them in auth or the context's sasl");
  if (parsed.search || parsed.hash) throw problem(`must have no query or fragment, got ${parsed.origin}${parsed.pathname}${parsed.search}${parsed.hash}`);
  const https = parsed.protocol === "https:";
  const port = parsed.port || (https ? "443" : "80");
  return {
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`,
    https,
    hostPort: `${parsed.hostname}:${port}`.toLowerCase(),
  };
}

/** The driver's `auth` option as credentials; a `TypeError` naming what is wrong with it (never its values). */
function credentialsOf(auth: RestProxyDriverOptions["auth"]): Credentials {
  if (auth === undefined) return { kind: "none" };
  if (typeof auth === "object" && auth !== null && "token" in auth) {
    const { token } = auth;
    if ((typeof token === "string" && token !== "") || typeof token === "function") return { kind: "token", token };
    throw new TypeError("restProxyDriver: auth.token must be a non-empty string or a function returning one");
  }
  if (typeof auth === "object" && auth !== null && "username" in auth) {
    const { username, password } = auth;
    if (typeof username === "string" && username !== "" && typeof password === "string" && password !== "") {
      return { kind: "basic", username, password };
    }
    throw new TypeError("restProxyDriver: auth needs a non-empty username and password");
  }
  throw new TypeError("restProxyDriver: auth must be { username, password } or { token }");
}

/**
 * The credentials of a context, after checking that it names this REST
 * endpoint in terms `fetch` can honour. Throws an error saying what to write
 * instead (the registry reports it as a `ConnectError`).
 */
function contextCredentials(config: ClientConfig, base: BaseUrl, fallback: Credentials): Credentials {
  const props = config.properties;
  const servers = props["bootstrap.servers"] ?? "";
  if (servers !== base.hostPort) {
    throw new Error(
      `the REST Proxy driver publishes to ${base.url}: a context's bootstrapServers must be "${base.hostPort}", got "${servers}"`,
    );
  }
  const protocol = (props["security.protocol"] ?? "plaintext").toUpperCase();
  const sasl = props["sasl.mechanisms"];
  if (protocol.endsWith("SSL") !== base.https) {
    const fits = base.https ? (sasl ? "SASL_SSL" : "SSL") : (sasl ? "SASL_PLAINTEXT" : "PLAINTEXT");
    throw new Error(
      `securityProtocol ${protocol} ${base.https ? "asks for no TLS" : "asks for TLS"}, but the REST Proxy URL is ` +
        `${base.https ? "https" : "http"}: write securityProtocol "${fits}"`,
    );
  }
  if (props["ssl.ca.pem"] || props["ssl.certificate.pem"] || props["ssl.key.pem"]) {
    throw new Error("tls ca, cert and key cannot be given to fetch: the runtime's CA store must trust the REST Proxy's certificate");
  }
  if (props["ssl.endpoint.identification.algorithm"] === "none") {
    throw new Error("tls verifyHostname: false cannot be honoured: fetch always verifies the host");
  }
  switch (sasl) {
    case undefined:
      return fallback;
    case "PLAIN":
      return { kind: "basic", username: props["sasl.username"]!, password: props["sasl.password"]! };
    case "OAUTHBEARER": {
      const scope = props["sasl.oauthbearer.scope"];
      return {
        kind: "oidc",
        clientId: props["sasl.oauthbearer.client.id"]!,
        clientSecret: props["sasl.oauthbearer.client.secret"]!,
        tokenEndpointUrl: props["sasl.oauthbearer.token.endpoint.url"]!,
        ...(scope !== undefined && { scope }),
      };
    }
    default:
      throw new Error(`sasl mechanism ${sasl} has no HTTP form: use PLAIN (HTTP Basic) or OAUTHBEARER (a Bearer token)`);
  }
}

/** The delivery timeout of a context: `message.timeout.ms`, or `delivery.timeout.ms`, as librdkafka reads them. */
function deliveryTimeout(config: ClientConfig): number {
  const props = config.properties;
  const [name, value] = props["message.timeout.ms"] !== undefined
    ? ["message.timeout.ms", props["message.timeout.ms"]]
    : props["delivery.timeout.ms"] !== undefined
    ? ["delivery.timeout.ms", props["delivery.timeout.ms"]]
    : ["", String(DEFAULT_DELIVERY_TIMEOUT_MS)];
  const ms = Number(value);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`producer ${name} must be a whole number of milliseconds ≥ 0, got "${value}"`);
  return ms === 0 ? Infinity : ms; // 0: none, as for librdkafka
}
