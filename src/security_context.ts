/**
 * Security contexts: what identifies a Kafka connection, as the application
 * writes it ({@link SecurityContext}), and the valibot schema that validates
 * and normalises it. Resolving one (its fingerprint, the caches) is
 * `resolve_security_context.ts`; its librdkafka properties `_client_config.ts`.
 *
 * @module
 */
import * as v from "valibot";
import { CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, Tuning, withDefaults } from "./_tuning.ts";

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

/** The fields of a context as written; the schema's input type is valibot's inference from it. */
const SecurityContextObject = v.strictObject({
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
}, "expected a security context object");

/**
 * The input of {@link SecurityContextSchema} as valibot infers it. The
 * schema's declared type uses the hand-written {@link SecurityContext}
 * (explicit types keep JSR's type check fast, and carry the docs);
 * `tests/security_context_types.test.ts` holds the two equal.
 */
export type InferredSecurityContext = v.InferInput<typeof SecurityContextObject>;

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
  SecurityContextObject,
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
