/**
 * Security contexts: what identifies a Kafka connection.
 *
 * Two contexts share connections exactly when they normalise to the same
 * fingerprint. The fingerprint is a hash over the normalised context in which
 * each secret is first replaced by an HMAC under a random per-process key, so
 * it never contains a secret and cannot be used to guess one offline.
 *
 * @module
 */
import * as v from "valibot";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { type ContextProblem, InvalidSecurityContextError, issuePath } from "./errors.ts";
import type { ClientConfig, ConsumerConfig } from "./driver.ts";
import { isPlainObject } from "./_util.ts";

/**
 * Properties owned by the context's own fields (and `transactional.id` by
 * `transactionalProducer()`: in tuning it would make the shared producer
 * transactional, refusing every publish made outside a transaction); tuning
 * may not set them.
 */
const RESERVED =
  /^(bootstrap\.servers|metadata\.broker\.list|security\.protocol|sasl\..*|ssl\..*|ssl_.*|client\.id|group\.id|transactional\.id|enable\.auto\.offset\.store|.*_cb)$/;

/**
 * kshare's producer defaults: durable and ordered (`acks=all`, idempotence),
 * and no linger: a publish is awaited by its caller, so librdkafka's default
 * 5 ms linger would be 5 ms added to every lone publish. Records still batch
 * whenever they accumulate while a request is in flight. Tuning overrides them.
 */
export const PRODUCER_DEFAULTS: Readonly<Record<string, string>> = { "acks": "all", "enable.idempotence": "true", "linger.ms": "0" };

/**
 * kshare's consumer defaults. Offsets are stored only after a handler
 * succeeded (`enable.auto.offset.store=false`) and committed by librdkafka's
 * auto-commit and on close: at-least-once. A new group starts at the earliest offset.
 */
export const CONSUMER_DEFAULTS: Readonly<Record<string, string>> = { "auto.offset.reset": "earliest" };

const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;

const text = (what: string) => v.pipe(v.string(`expected ${what}`), v.trim(), v.nonEmpty(`${what} must not be empty`));
/** A secret is taken as written: no trimming, only "present and non-empty". */
const secret = (what: string) => v.pipe(v.string(`expected ${what}`), v.nonEmpty(`${what} must not be empty`));

const SERVER = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:,\[\]]+)(?::(\d{1,5}))?$/;

const BootstrapServers = v.pipe(
  v.union(
    [v.string(), v.pipe(v.array(v.string()), v.readonly())],
    "expected a comma-separated string or an array of host:port strings",
  ),
  v.transform((input) => (typeof input === "string" ? input.split(",") : [...input]).map((s) => s.trim()).filter((s) => s.length > 0)),
  v.nonEmpty("needs at least one host:port"),
  v.check((servers) => servers.every((s) => SERVER.test(s)), "every entry must be host or host:port"),
  v.transform((servers) =>
    [
      ...new Set(servers.map((s) => {
        const withPort = SERVER.exec(s)![1] === undefined ? `${s}:9092` : s;
        return withPort.toLowerCase();
      })),
    ].sort()
  ),
);

const PasswordSaslSchema = v.strictObject({
  mechanism: v.picklist(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"),
  username: text("a username"),
  password: secret("a password"),
});

const OAuthBearerSaslSchema = v.strictObject({
  mechanism: v.literal("OAUTHBEARER"),
  /** OIDC client credentials flow, run by librdkafka itself. */
  clientId: text("an OAuth client id"),
  clientSecret: secret("an OAuth client secret"),
  tokenEndpointUrl: v.pipe(text("a token endpoint URL"), v.url("must be a URL")),
  scope: v.optional(text("a scope")),
});

const TlsSchema = v.strictObject({
  /** CA certificate(s), PEM. */
  ca: v.optional(text("a PEM CA certificate")),
  /** Client certificate, PEM. */
  cert: v.optional(text("a PEM client certificate")),
  /** Client private key, PEM. Secret. */
  key: v.optional(secret("a PEM private key")),
  /** Passphrase of `key`. Secret. */
  keyPassword: v.optional(secret("a key passphrase")),
  /** Verify the broker's hostname against its certificate (default true). */
  verifyHostname: v.optional(v.boolean("expected true or false"), true),
});

const Tuning = v.pipe(
  v.record(
    v.string(),
    v.union([v.string(), v.number(), v.boolean()], "expected a string, number or boolean librdkafka value"),
    "expected an object of librdkafka properties",
  ),
  v.check(
    (props) => Object.keys(props).every((k) => !RESERVED.test(k)),
    "security, client.id and group.id are set through the context's own fields, transactional.id through transactionalProducer(), not tuning",
  ),
  v.transform((props) => Object.fromEntries(Object.entries(props).map(([k, val]) => [k, String(val)]))),
);

/**
 * librdkafka tuning given outside a context (a registry's defaults),
 * normalised as a context's is (values as strings); a `TypeError` naming
 * `path` and what was wrong, never a value.
 */
export function parseTuning(path: string, input: unknown): Record<string, string> {
  const result = v.safeParse(Tuning, input ?? {});
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => {
    const at = issuePath(issue);
    return `${at ? `${path}.${at}` : path}: ${issue.message.replace(/ but received .*$/s, "")}`;
  });
  throw new TypeError(problems.join("; "));
}

/** Defaults spelled out and keys sorted, so equal tuning is equal however it was written. */
export function withDefaults(defaults: Readonly<Record<string, string>>, props: Record<string, string>): Record<string, string> {
  const merged: Record<string, string> = { ...defaults, ...props };
  if (merged["acks"] === "-1") merged["acks"] = "all";
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a < b ? -1 : 1));
}

/**
 * valibot schema of a security context: everything that identifies a
 * connection. Parsing normalises it (sorted, de-duplicated servers with ports,
 * inferred protocol, defaults spelled out, tuning values as strings).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { SecurityContextSchema } from "@kshare/kshare";
 * const ctx = v.parse(SecurityContextSchema, { bootstrapServers: "b:9092,a:9092" });
 * console.log(ctx.bootstrapServers); // ["a:9092", "b:9092"]
 * ```
 */
export const SecurityContextSchema: v.GenericSchema<SecurityContext, NormalizedSecurityContext> = v.pipe(
  v.strictObject({
    /** `host:port` list, as an array or a comma-separated string. */
    bootstrapServers: BootstrapServers,
    /** Default: SASL_SSL with `sasl`, SSL with `tls`, else PLAINTEXT. */
    securityProtocol: v.optional(
      v.picklist(SECURITY_PROTOCOLS, `expected one of ${SECURITY_PROTOCOLS.join(", ")}`),
    ),
    sasl: v.optional(v.variant("mechanism", [PasswordSaslSchema, OAuthBearerSaslSchema], "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER")),
    tls: v.optional(TlsSchema),
    /** A failure domain: contexts with different labels never share a connection. */
    isolation: v.optional(text("an isolation label")),
    /** librdkafka `client.id` (default `kshare`); part of the identity. */
    clientId: v.optional(text("a client id"), "kshare"),
    /** librdkafka producer properties, e.g. `{ "linger.ms": 5 }`. */
    producer: v.optional(Tuning, {}),
    /** librdkafka consumer properties, e.g. `{ "fetch.min.bytes": 1 }`. */
    consumer: v.optional(Tuning, {}),
  }, "expected a security context object"),
  v.transform((ctx) => ({
    ...ctx,
    securityProtocol: ctx.securityProtocol ?? (ctx.sasl ? "SASL_SSL" : ctx.tls ? "SSL" : "PLAINTEXT"),
    producer: withDefaults(PRODUCER_DEFAULTS, ctx.producer),
    consumer: withDefaults(CONSUMER_DEFAULTS, ctx.consumer),
  })),
  v.check(
    (ctx) => !ctx.sasl || ctx.securityProtocol.startsWith("SASL_"),
    "sasl needs securityProtocol SASL_PLAINTEXT or SASL_SSL",
  ),
  v.check(
    (ctx) => !ctx.tls || ctx.securityProtocol.endsWith("SSL"),
    "tls needs securityProtocol SSL or SASL_SSL",
  ),
);

/**
 * The security protocols librdkafka speaks.
 *
 * @example Set explicitly, or inferred
 * ```ts
 * import { resolveSecurityContext, type SecurityContext, type SecurityProtocol } from "@kshare/kshare";
 * const local: SecurityContext = { bootstrapServers: "localhost:9092", securityProtocol: "PLAINTEXT" };
 * const inferred: SecurityProtocol = resolveSecurityContext({ bootstrapServers: "broker-1:9093", tls: {} })
 *   .context.securityProtocol;
 * console.log(inferred); // "SSL": inferred from `tls` (with `sasl` it would be "SASL_SSL")
 * ```
 */
export type SecurityProtocol = "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL";

/**
 * SASL with a username and password.
 *
 * @example SCRAM credentials from the environment
 * ```ts
 * import process from "node:process";
 * import type { PasswordSasl, SecurityContext } from "@kshare/kshare";
 * const sasl: PasswordSasl = {
 *   mechanism: "SCRAM-SHA-512",
 *   username: "billing",
 *   password: process.env.KAFKA_PASSWORD!,
 * };
 * const ctx: SecurityContext = { bootstrapServers: "broker-1:9093", sasl }; // SASL_SSL inferred
 * ```
 */
export interface PasswordSasl {
  /** SASL mechanism. */
  readonly mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";
  /** SASL username (not secret: it appears in descriptions). */
  readonly username: string;
  /** Secret: never logged, never in a key or error. */
  readonly password: string;
}

/**
 * SASL OAUTHBEARER with OIDC client credentials, run by librdkafka itself.
 *
 * @example Client credentials from the environment
 * ```ts
 * import process from "node:process";
 * import type { OAuthBearerSasl, SecurityContext } from "@kshare/kshare";
 * const sasl: OAuthBearerSasl = {
 *   mechanism: "OAUTHBEARER",
 *   clientId: "billing-service",
 *   clientSecret: process.env.KAFKA_CLIENT_SECRET!,
 *   tokenEndpointUrl: "https://idp.example.com/oauth2/token",
 *   scope: "kafka",
 * };
 * const ctx: SecurityContext = { bootstrapServers: "broker-1:9093", sasl }; // SASL_SSL inferred
 * ```
 */
export interface OAuthBearerSasl {
  /** SASL mechanism. */
  readonly mechanism: "OAUTHBEARER";
  /** Identifier (not secret). */
  readonly clientId: string;
  /** Secret: never logged, never in a key or error. */
  readonly clientSecret: string;
  /** OIDC token endpoint. */
  readonly tokenEndpointUrl: string;
  /** Requested scope, if any. */
  readonly scope?: string;
}

/**
 * TLS material, as PEM strings.
 *
 * @example Mutual TLS with PEM files
 * ```ts
 * import { readFileSync } from "node:fs";
 * import process from "node:process";
 * import type { SecurityContext, TlsSettings } from "@kshare/kshare";
 * const tls: TlsSettings = {
 *   ca: readFileSync("certs/ca.pem", "utf8"),
 *   cert: readFileSync("certs/client.pem", "utf8"),
 *   key: readFileSync("certs/client.key", "utf8"),
 *   keyPassword: process.env.KAFKA_KEY_PASSWORD!,
 * };
 * const ctx: SecurityContext = { bootstrapServers: "broker-1:9093", tls }; // SSL inferred
 * ```
 */
export interface TlsSettings {
  /** CA certificate(s); default: the system's. */
  readonly ca?: string;
  /** Client certificate, for mutual TLS. */
  readonly cert?: string;
  /** Client private key. Secret. */
  readonly key?: string;
  /** Passphrase of `key`. Secret. */
  readonly keyPassword?: string;
  /** Verify the broker's hostname against its certificate (default true). */
  readonly verifyHostname?: boolean;
}

/**
 * librdkafka properties: names to string, number or boolean values.
 *
 * @example Producer tuning for bulk streaming
 * ```ts
 * import type { SecurityContext, TuningProperties } from "@kshare/kshare";
 * const bulk: TuningProperties = { "linger.ms": 5, "compression.type": "zstd", "batch.num.messages": 10_000 };
 * const ctx: SecurityContext = {
 *   bootstrapServers: "localhost:9092",
 *   producer: bulk, // 5 and "5" are the same setting, and the same context
 *   consumer: { "fetch.min.bytes": 1 },
 * };
 * ```
 */
export type TuningProperties = Readonly<Record<string, string | number | boolean>>;

/**
 * A security context as written by the application: everything that
 * identifies a connection.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import type { SecurityContext } from "@kshare/kshare";
 * const ctx: SecurityContext = {
 *   bootstrapServers: ["broker-1:9093", "broker-2:9093"],
 *   sasl: { mechanism: "SCRAM-SHA-512", username: "billing", password: process.env.KAFKA_PASSWORD! },
 *   producer: { "linger.ms": 5 },
 * };
 * ```
 */
export interface SecurityContext {
  /** `host:port` list, as an array or a comma-separated string; order and case do not matter. */
  readonly bootstrapServers: string | readonly string[];
  /** Default: SASL_SSL with `sasl`, SSL with `tls`, else PLAINTEXT. */
  readonly securityProtocol?: SecurityProtocol;
  /** SASL credentials; requires a SASL_* protocol. */
  readonly sasl?: PasswordSasl | OAuthBearerSasl;
  /** TLS material; requires SSL or SASL_SSL. */
  readonly tls?: TlsSettings;
  /** A failure domain: contexts with different labels never share a connection. */
  readonly isolation?: string;
  /** librdkafka `client.id` (default `kshare`); part of the identity. */
  readonly clientId?: string;
  /** librdkafka producer properties, e.g. `{ "linger.ms": 5 }`. */
  readonly producer?: TuningProperties;
  /** librdkafka consumer properties, e.g. `{ "fetch.min.bytes": 1 }`. */
  readonly consumer?: TuningProperties;
}

/**
 * A security context after normalisation: defaults spelled out, servers sorted, tuning as strings. Holds secrets.
 *
 * @example What a context normalises to
 * ```ts
 * import { type NormalizedSecurityContext, resolveSecurityContext } from "@kshare/kshare";
 * const ctx: NormalizedSecurityContext = resolveSecurityContext({
 *   bootstrapServers: "B:9092, a",
 *   producer: { "linger.ms": 5 },
 * }).context;
 * console.log(ctx.bootstrapServers); // ["a:9092", "b:9092"]
 * console.log(ctx.securityProtocol, ctx.clientId); // "PLAINTEXT" "kshare"
 * console.log(ctx.producer); // { acks: "all", "enable.idempotence": "true", "linger.ms": "5" }
 * ```
 */
export interface NormalizedSecurityContext {
  /** Sorted, de-duplicated, lower-case `host:port`. */
  readonly bootstrapServers: readonly string[];
  /** Explicit or inferred protocol. */
  readonly securityProtocol: SecurityProtocol;
  /** SASL credentials; requires a SASL_* protocol. */
  readonly sasl?: PasswordSasl | OAuthBearerSasl;
  /** TLS material with its default spelled out. */
  readonly tls?: TlsSettings & { readonly verifyHostname: boolean };
  /** Failure-domain label. */
  readonly isolation?: string;
  /** librdkafka's `client.id` (default `kshare`); not secret. */
  readonly clientId: string;
  /** Producer tuning with kshare defaults, sorted. */
  readonly producer: Readonly<Record<string, string>>;
  /** Consumer tuning with kshare defaults, sorted. */
  readonly consumer: Readonly<Record<string, string>>;
}

/**
 * A validated context: its fingerprint (the registry key), a redacted
 * description for logs, and the normalised context.
 *
 * @example Logging a context without its secrets
 * ```ts
 * import process from "node:process";
 * import { registry, resolveSecurityContext, type ResolvedSecurityContext } from "@kshare/kshare";
 * const resolved: ResolvedSecurityContext = resolveSecurityContext({
 *   bootstrapServers: "broker-1:9093",
 *   sasl: { mechanism: "PLAIN", username: "alice", password: process.env.KAFKA_PASSWORD! },
 * });
 * console.log(resolved.description); // "SASL_SSL broker-1:9093 sasl=PLAIN user=alice password=[redacted] client=kshare"
 * console.log(registry.stats().contexts[resolved.fingerprint]?.clientsCreated ?? 0);
 * ```
 */
export interface ResolvedSecurityContext {
  /** 32 hex digits; equal for equal contexts, never derived from a secret in recoverable form. */
  readonly fingerprint: string;
  /** Human-readable, secrets redacted, e.g. `SASL_SSL a:9093 sasl=PLAIN user=alice password=[redacted]`. */
  readonly description: string;
  /** The normalised context (holds secrets: do not log it). */
  readonly context: NormalizedSecurityContext;
}

/**
 * Per-process HMAC key for secrets in fingerprints. Never leaves this module.
 * Drawn on first use, not at import: edge runtimes (Cloudflare Workers) refuse
 * random values at a module's top level.
 */
let secretKey: Uint8Array | undefined;
const maskSecret = (value: string) =>
  "hmac:" + bytesToHex(hmac(sha256, secretKey ??= crypto.getRandomValues(new Uint8Array(32)), utf8ToBytes(value))).slice(0, 32);
const digest = (value: string) => "sha256:" + bytesToHex(sha256(utf8ToBytes(value))).slice(0, 32);

/**
 * Identity cache: the common case passes the same context object again and
 * again. Only objects that were parsed are added; an equal object found in the
 * shape cache is not (a context built per request would add an entry per
 * request, for the garbage collector to sweep). Context objects are treated as
 * immutable: whether a change made in place after first use is seen is undefined.
 */
const resolved = new WeakMap<object, ResolvedSecurityContext>();

/** One context resolved under a shape, with the secrets it was written with. */
interface ShapeEntry {
  readonly password: string | undefined;
  readonly clientSecret: string | undefined;
  readonly tlsKey: string | undefined;
  readonly tlsKeyPassword: string | undefined;
  readonly resolved: ResolvedSecurityContext;
}

/**
 * A step of a shape path: a value as written (a `Map` key keeps its type, so
 * `"5"` and `5` differ), a field name, or a marker.
 */
type Step = string | number | boolean | symbol | undefined;
/** Markers in a shape path: symbols, so no value written in a context can equal one. */
const LIST = Symbol("list"), OBJECT = Symbol("object"), END = Symbol("end");

interface ShapeNode {
  next?: Map<Step, ShapeNode>;
  entries?: ShapeEntry[];
}

/**
 * Shape cache, for equal contexts built anew per call (e.g. per request): a
 * trie of `Map`s over the context's {@link shapePath}, every non-secret field
 * as written. No key string is built: a field's string is a key as it is, so
 * a string passed again (from configuration, a literal) is found by the hash
 * the engine keeps on it. Secrets are never part of a path: the entries at
 * one path are told apart by comparing secrets. Bounded: at most
 * `MAX_PER_SHAPE` entries per path (the oldest goes); cleared when it would
 * hold more than `MAX_SHAPE_ENTRIES` entries or `MAX_SHAPE_NODES` nodes.
 */
let shapes: ShapeNode = {};
let shapeNodes = 0;
let shapeEntries = 0;
const MAX_SHAPE_NODES = 16_384;
const MAX_SHAPE_ENTRIES = 1024;
const MAX_PER_SHAPE = 16;

type AnySasl = Partial<PasswordSasl> & Partial<Omit<OAuthBearerSasl, "mechanism">>;

/*
 * Shape paths: a context's non-secret fields, in a fixed order, each value
 * as written. A list is a marker and its length, an object a marker, its
 * entries and an end marker, so a path is read back one way only: two paths are equal only when every field was written
 * the same way, with the same types. Fields are read by name, as the schema
 * reads them; enumeration only rejects names the schema does not know, and,
 * in SASL, records which names are present (that decides which mechanism's
 * schema accepts it). Anything a path does not cover (an unknown field, a
 * class instance, a value of an unexpected type) makes `shapePath` return
 * `undefined`: that context is parsed instead, and the schema says what is wrong.
 */

/** A string field or its absence. */
function pushText(path: Step[], value: unknown): boolean {
  if (typeof value !== "string" && value !== undefined) return false;
  path.push(value);
  return true;
}

function pushServers(path: Step[], value: unknown): boolean {
  if (typeof value === "string") {
    path.push(value);
    return true;
  }
  if (!Array.isArray(value)) return false;
  path.push(LIST, value.length);
  for (let i = 0; i < value.length; i++) {
    const server: unknown = value[i];
    if (typeof server !== "string") return false;
    path.push(server);
  }
  return true;
}

/** Tuning as written: name, value (string, number or boolean) per property. */
function pushTuning(path: Step[], value: unknown): boolean {
  if (value === undefined) {
    path.push(undefined);
    return true;
  }
  if (!isPlainObject(value)) return false;
  path.push(OBJECT);
  for (const name in value) {
    const v = value[name];
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return false;
    path.push(name, v);
  }
  path.push(END);
  return true;
}

/** SASL: the names written (secrets' too, not their values), then the non-secret values. */
function pushSasl(path: Step[], value: unknown): boolean {
  if (value === undefined) {
    path.push(undefined);
    return true;
  }
  if (!isPlainObject(value)) return false;
  path.push(OBJECT);
  for (const name in value) {
    switch (name) {
      case "mechanism":
      case "username":
      case "password":
      case "clientId":
      case "clientSecret":
      case "tokenEndpointUrl":
      case "scope":
        path.push(name);
        break;
      default:
        return false;
    }
  }
  path.push(END);
  return pushText(path, value.mechanism) && pushText(path, value.username) && pushText(path, value.clientId) &&
    pushText(path, value.tokenEndpointUrl) && pushText(path, value.scope);
}

/** TLS: the non-secret values; the private key and its passphrase are compared apart. */
function pushTls(path: Step[], value: unknown): boolean {
  if (value === undefined) {
    path.push(undefined);
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const name in value) {
    if (name !== "ca" && name !== "cert" && name !== "key" && name !== "keyPassword" && name !== "verifyHostname") return false;
  }
  const verify = value.verifyHostname;
  if (typeof verify !== "boolean" && verify !== undefined) return false;
  path.push(OBJECT, verify);
  return pushText(path, value.ca) && pushText(path, value.cert);
}

/** The shape path of a context as written, without its secrets; `undefined` when it must be parsed. */
function shapePath(c: object): Step[] | undefined {
  if (!isPlainObject(c)) return undefined;
  for (const name in c) {
    switch (name) {
      case "bootstrapServers":
      case "securityProtocol":
      case "sasl":
      case "tls":
      case "isolation":
      case "clientId":
      case "producer":
      case "consumer":
        break;
      default:
        return undefined;
    }
  }
  const path: Step[] = [];
  const ok = pushServers(path, c.bootstrapServers) && pushText(path, c.securityProtocol) && pushText(path, c.isolation) &&
    pushText(path, c.clientId) && pushSasl(path, c.sasl) && pushTls(path, c.tls) && pushTuning(path, c.producer) &&
    pushTuning(path, c.consumer);
  return ok ? path : undefined;
}

function findShape(path: readonly Step[]): ShapeEntry[] | undefined {
  let node: ShapeNode | undefined = shapes;
  for (let i = 0; i < path.length && node; i++) node = node.next?.get(path[i]);
  return node?.entries;
}

function addShape(path: readonly Step[], entry: ShapeEntry): void {
  if (shapeEntries >= MAX_SHAPE_ENTRIES || shapeNodes + path.length > MAX_SHAPE_NODES) {
    shapes = {};
    shapeNodes = 0;
    shapeEntries = 0;
  }
  let node = shapes;
  for (const step of path) {
    node.next ??= new Map();
    let child = node.next.get(step);
    if (!child) {
      node.next.set(step, child = {});
      shapeNodes++;
    }
    node = child;
  }
  const entries = node.entries ??= [];
  if (entries.length >= MAX_PER_SHAPE) {
    entries.shift();
    shapeEntries--;
  }
  entries.push(entry);
  shapeEntries++;
}

/**
 * Validate and normalise a security context, computing its fingerprint and a
 * redacted description. Throws {@link InvalidSecurityContextError} naming
 * every bad field (never a received value).
 *
 * @example
 * ```ts
 * import { resolveSecurityContext } from "@kshare/kshare";
 * const a = resolveSecurityContext({ bootstrapServers: "b:9092,a:9092" });
 * const b = resolveSecurityContext({ bootstrapServers: ["a:9092", "b:9092"], securityProtocol: "PLAINTEXT" });
 * console.log(a.fingerprint === b.fingerprint); // true
 * console.log(a.description); // "PLAINTEXT a:9092,b:9092 client=kshare"
 * ```
 */
export function resolveSecurityContext(input: SecurityContext): ResolvedSecurityContext {
  // Kept this small so engines inline it: a `WeakMap` hit is the common case (`get` of a non-object is `undefined`).
  return resolved.get(input) ?? resolveUncached(input);
}

function resolveUncached(input: SecurityContext): ResolvedSecurityContext {
  if (typeof input !== "object" || input === null) return parse(input);
  const path = shapePath(input);
  // Read only when there is a path: then `sasl` and `tls` are plain objects or absent.
  const sasl = path === undefined ? undefined : input.sasl as AnySasl | undefined;
  const tls = path === undefined ? undefined : input.tls;
  const password = sasl?.password, clientSecret = sasl?.clientSecret, tlsKey = tls?.key, tlsKeyPassword = tls?.keyPassword;
  const shape = path === undefined ? undefined : findShape(path);
  if (shape) {
    for (let i = 0; i < shape.length; i++) {
      const entry = shape[i]!;
      if (
        (sameSecret(entry.password, password) & sameSecret(entry.clientSecret, clientSecret) &
          sameSecret(entry.tlsKey, tlsKey) & sameSecret(entry.tlsKeyPassword, tlsKeyPassword)) === 1
      ) return entry.resolved;
    }
  }
  const out = parse(input);
  resolved.set(input, out);
  if (path !== undefined) addShape(path, { password, clientSecret, tlsKey, tlsKeyPassword, resolved: out });
  return out;
}

/**
 * 1 when two secrets are equal, else 0, in time that depends on their length
 * only: contexts may be built from a caller's credentials, and `===` stops
 * at the first differing character, which would let timing tell how much of
 * a cached secret a guess got right. Absent is only equal to absent.
 */
function sameSecret(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 1 : 0;
  if (a.length !== b.length) return 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0 ? 1 : 0;
}

function parse(input: unknown): ResolvedSecurityContext {
  const result = v.safeParse(SecurityContextSchema, input);
  if (!result.success) throw new InvalidSecurityContextError(result.issues.map(toProblem));
  const ctx = result.output;
  const out: ResolvedSecurityContext = Object.freeze({
    fingerprint: computeFingerprint(ctx),
    description: describe(ctx),
    context: ctx,
  });
  const written = input as SecurityContext;
  const producer = Object.keys(written.producer ?? {}).filter((name) => name in PRODUCER_DEFAULTS);
  const consumer = Object.keys(written.consumer ?? {}).filter((name) => name in CONSUMER_DEFAULTS);
  if (producer.length > 0 || consumer.length > 0) spelledOut.set(out, { producer, consumer });
  return out;
}

/**
 * Per resolved context that wrote any: the properties with a kshare default
 * it set itself, whatever their value. The fingerprint cannot tell a
 * property written with kshare's default value from one left out; a
 * registry's defaults can (see `_defaults.ts`).
 */
const spelledOut = new WeakMap<ResolvedSecurityContext, SpelledOut>();

/** Names of the properties with a kshare default a context wrote itself. */
export interface SpelledOut {
  readonly producer: readonly string[];
  readonly consumer: readonly string[];
}

/** The properties with a kshare default that `resolved`'s context wrote itself; undefined when none. */
export function spelledOutDefaults(resolved: ResolvedSecurityContext): SpelledOut | undefined {
  return spelledOut.get(resolved);
}

/** A problem without the received value: valibot's type messages quote it, so they are rebuilt here. */
function toProblem(issue: v.BaseIssue<unknown>): ContextProblem {
  const path = issuePath(issue) || "(context)";
  if (issue.kind === "schema" && issue.expected === "never") return { path, message: "unknown field" };
  return { path, message: issue.message.replace(/ but received .*$/s, "") };
}

function computeFingerprint(ctx: NormalizedSecurityContext): string {
  const canonical = [
    ctx.bootstrapServers,
    ctx.securityProtocol,
    ctx.sasl?.mechanism === "OAUTHBEARER"
      ? [ctx.sasl.mechanism, ctx.sasl.clientId, maskSecret(ctx.sasl.clientSecret), ctx.sasl.tokenEndpointUrl, ctx.sasl.scope ?? null]
      : ctx.sasl
      ? [ctx.sasl.mechanism, ctx.sasl.username, maskSecret(ctx.sasl.password)]
      : null,
    ctx.tls
      ? [
        ctx.tls.ca ? digest(ctx.tls.ca) : null,
        ctx.tls.cert ? digest(ctx.tls.cert) : null,
        ctx.tls.key ? maskSecret(ctx.tls.key) : null,
        ctx.tls.keyPassword ? maskSecret(ctx.tls.keyPassword) : null,
        ctx.tls.verifyHostname,
      ]
      : null,
    ctx.isolation ?? null,
    ctx.clientId,
    Object.entries(ctx.producer),
    Object.entries(ctx.consumer),
  ];
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify(canonical)))).slice(0, 32);
}

function describe(ctx: NormalizedSecurityContext): string {
  const parts: string[] = [ctx.securityProtocol, ctx.bootstrapServers.join(",")];
  if (ctx.sasl?.mechanism === "OAUTHBEARER") {
    parts.push(`sasl=OAUTHBEARER client=${ctx.sasl.clientId} secret=[redacted]`);
  } else if (ctx.sasl) {
    parts.push(`sasl=${ctx.sasl.mechanism} user=${ctx.sasl.username} password=[redacted]`);
  }
  if (ctx.tls) {
    parts.push(
      `tls(ca=${ctx.tls.ca ? "pem" : "system"}${ctx.tls.cert ? " cert=pem" : ""}${ctx.tls.key ? " key=[redacted]" : ""}` +
        `${ctx.tls.verifyHostname ? "" : " verifyHostname=false"})`,
    );
  }
  if (ctx.isolation) parts.push(`isolation=${ctx.isolation}`);
  parts.push(`client=${ctx.clientId}`);
  return parts.join(" ");
}

/** librdkafka properties for the security part of a context, with the names of the secret ones. */
function securityProperties(ctx: NormalizedSecurityContext): { props: Record<string, string>; secrets: string[] } {
  const props: Record<string, string> = {
    "bootstrap.servers": ctx.bootstrapServers.join(","),
    "security.protocol": ctx.securityProtocol.toLowerCase(),
    "client.id": ctx.clientId,
  };
  const secrets: string[] = [];
  if (ctx.sasl?.mechanism === "OAUTHBEARER") {
    Object.assign(props, {
      "sasl.mechanisms": "OAUTHBEARER",
      "sasl.oauthbearer.method": "oidc",
      "sasl.oauthbearer.client.id": ctx.sasl.clientId,
      "sasl.oauthbearer.client.secret": ctx.sasl.clientSecret,
      "sasl.oauthbearer.token.endpoint.url": ctx.sasl.tokenEndpointUrl,
    });
    if (ctx.sasl.scope) props["sasl.oauthbearer.scope"] = ctx.sasl.scope;
    secrets.push("sasl.oauthbearer.client.secret");
  } else if (ctx.sasl) {
    Object.assign(props, {
      "sasl.mechanisms": ctx.sasl.mechanism,
      "sasl.username": ctx.sasl.username,
      "sasl.password": ctx.sasl.password,
    });
    secrets.push("sasl.password");
  }
  if (ctx.tls) {
    if (ctx.tls.ca) props["ssl.ca.pem"] = ctx.tls.ca;
    if (ctx.tls.cert) props["ssl.certificate.pem"] = ctx.tls.cert;
    if (ctx.tls.key) props["ssl.key.pem"] = ctx.tls.key;
    if (ctx.tls.keyPassword) props["ssl.key.password"] = ctx.tls.keyPassword;
    props["ssl.endpoint.identification.algorithm"] = ctx.tls.verifyHostname ? "https" : "none";
    secrets.push("ssl.key.pem", "ssl.key.password");
  }
  return { props, secrets };
}

/** The producer client configuration of a resolved context, with its tuning (default: the context's own, over kshare's defaults). */
export function producerConfig(
  resolved: ResolvedSecurityContext,
  tuning: Readonly<Record<string, string>> = resolved.context.producer,
): ClientConfig {
  const { props, secrets } = securityProperties(resolved.context);
  return {
    properties: { ...tuning, ...props },
    label: resolved.description,
    secretProperties: secrets,
  };
}

/** The consumer client configuration of a resolved context for one group, with its tuning (default as for {@link producerConfig}). */
export function consumerConfig(
  resolved: ResolvedSecurityContext,
  groupId: string,
  tuning: Readonly<Record<string, string>> = resolved.context.consumer,
): ConsumerConfig {
  const { props, secrets } = securityProperties(resolved.context);
  return {
    properties: {
      ...tuning,
      ...props,
      "group.id": groupId,
      "enable.auto.offset.store": "false",
    },
    label: `${resolved.description} group=${groupId}`,
    secretProperties: secrets,
    groupId,
  };
}
