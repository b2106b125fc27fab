/**
 * The gateway's configuration, from environment variables.
 *
 * | variable | meaning |
 * | --- | --- |
 * | `PORT`, `HOST` | where the gateway listens (default `8082` on `127.0.0.1`; `PORT=0` picks a free port) |
 * | `GATEWAY_USERS` | `user:password,user:password`: the HTTP Basic users; each is a tenant with its own Kafka context. Default without `KAFKA_BOOTSTRAP_SERVERS`: `dev:dev-secret` |
 * | `GATEWAY_CLUSTER_ID` | the cluster id of the REST Proxy paths (default `kshare`) |
 * | `KAFKA_BOOTSTRAP_SERVERS` | the cluster; without it the gateway starts the embedded broker |
 * | `KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` (default: inferred) |
 * | `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` | SASL PLAIN / SCRAM credentials of every user |
 * | `KAFKA_SASL_USERNAME_<USER>`, `KAFKA_SASL_PASSWORD_<USER>` | a user's own SASL credentials (`<USER>` upper-cased, other characters as `_`) |
 * | `KAFKA_SASL_OAUTHBEARER_CLIENT_ID`, `..._CLIENT_SECRET`, `..._TOKEN_ENDPOINT_URL`, `..._SCOPE` | SASL OAUTHBEARER (OIDC) instead |
 * | `KAFKA_SSL_CA_PEM`, `KAFKA_SSL_CERTIFICATE_PEM`, `KAFKA_SSL_KEY_PEM`, `KAFKA_SSL_KEY_PASSWORD` | TLS material, PEM text |
 * | `KAFKA_CLIENT_ID` | client id prefix (default `kshare-gateway`); user `alice` connects as `kshare-gateway-alice` |
 * | `GATEWAY_SHUTDOWN_TIMEOUT_MS` | deadline of the whole shutdown after SIGTERM/SIGINT (default 10000): finishing the requests in flight, then flushing and closing the producers; past it the gateway exits 3 |
 * | `GATEWAY_PUBLISH_TIMEOUT_MS` | delivery deadline of every publish (default 10000): a record not acknowledged within it is answered 503 / `50003` with `Retry-After` |
 * | `GATEWAY_MAX_CONTEXTS` | most users' Kafka contexts connected at once (default 64): past it the least recently used idle one is closed, and reconnects on its next request |
 * | `GATEWAY_CONTEXT_IDLE_TIMEOUT_MS` | a user's producer is closed after this long without a request (default 600000, Kafka's own `connections.max.idle.ms`) |
 * | `GATEWAY_MAX_REQUESTS_PER_TENANT` | most produce requests of one user's context at once (default 256): one more is answered 429 with `Retry-After` |
 * | `GATEWAY_MAX_RECORDS_IN_FLIGHT_PER_TENANT` | most records of one user's context awaiting Kafka at once (default 20000): past it 429 |
 * | `GATEWAY_MAX_RECORDS_PER_REQUEST` | most records of one streaming request (default 10000): the next is answered `error_code` 413 and the stream ends |
 * | `GATEWAY_BODY_TIMEOUT_MS` | time to receive a request's body (default 30000): a slower body is answered 408 |
 *
 * @module
 */
import { InvalidSecurityContextError, resolveSecurityContext, type SecurityContext } from "../mod.ts";

/** One HTTP Basic user of the gateway: a tenant. */
export interface GatewayUser {
  /** 1 to 64 of `[A-Za-z0-9._-]`. */
  readonly username: string;
  /** Secret: compared in constant time, never logged. */
  readonly password: string;
}

/** Everything the gateway reads from its environment. */
export interface GatewayConfig {
  /** Interface to listen on. */
  readonly hostname: string;
  /** Port to listen on (0: any free port). */
  readonly port: number;
  /** Cluster id of the REST Proxy paths. */
  readonly clusterId: string;
  /** The configured cluster; `undefined`: start the embedded broker. */
  readonly bootstrapServers: string | undefined;
  /** The HTTP Basic users, in configuration order. */
  readonly users: readonly GatewayUser[];
  /** True when `users` is the embedded-broker demo user because `GATEWAY_USERS` was not set. */
  readonly demoUser: boolean;
  /** Deadline of the whole shutdown: requests in flight, server, producers' flush and close. */
  readonly shutdownTimeoutMs: number;
  /** Delivery deadline of every publish (`publishRoutes`' `publishTimeoutMs`). */
  readonly publishTimeoutMs: number;
  /** The registry's `maxContexts`: most users' contexts connected at once. */
  readonly maxContexts: number;
  /** The registry's `idleTimeoutMs`: a user's producer idle this long is closed. */
  readonly contextIdleTimeoutMs: number;
  /** `publishRoutes`' `maxRequestsPerTenant`. */
  readonly maxRequestsPerTenant: number;
  /** `publishRoutes`' `maxRecordsInFlightPerTenant`. */
  readonly maxRecordsInFlightPerTenant: number;
  /** `publishRoutes`' `maxRecordsPerRequest`. */
  readonly maxRecordsPerRequest: number;
  /** `publishRoutes`' `bodyTimeoutMs`. */
  readonly bodyTimeoutMs: number;
  /**
   * Each user's security context on `bootstrapServers` (the embedded broker's
   * when none is configured). Validated at startup: an invalid one is a
   * {@link GatewayConfigError}, never a request-time surprise.
   */
  contexts(bootstrapServers: string): ReadonlyMap<string, SecurityContext>;
}

/** The environment does not describe a gateway that can start. `problems` never contain a value. */
export class GatewayConfigError extends Error {
  /** Always `"GatewayConfigError"`. */
  override readonly name = "GatewayConfigError";
  /** One line per problem: the variable and what is wrong. */
  readonly problems: readonly string[];
  /** Build the error from the problems found. */
  constructor(problems: readonly string[]) {
    super(`Invalid gateway configuration: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

/** The user of the embedded-broker demo, when `GATEWAY_USERS` is not set. */
export const DEMO_USER: GatewayUser = { username: "dev", password: "dev-secret" };

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Read the gateway's configuration from `env`. Throws
 * {@link GatewayConfigError} naming every bad variable.
 *
 * @example
 * ```ts
 * import { gatewayConfig } from "./gateway/config.ts";
 * const config = gatewayConfig({ GATEWAY_USERS: "alice:s3cret" });
 * console.log(config.users.map((u) => u.username)); // ["alice"]
 * ```
 */
export function gatewayConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const problems: string[] = [];
  const get = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  /** A secret is taken as written: no trimming. */
  const secret = (name: string) => env[name] === "" ? undefined : env[name];

  const port = Number(get("PORT") ?? "8082");
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push("PORT: expected a port number from 0 to 65535");
  const shutdownTimeoutMs = Number(get("GATEWAY_SHUTDOWN_TIMEOUT_MS") ?? "10000");
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0 || shutdownTimeoutMs > 2_147_483_647) {
    problems.push("GATEWAY_SHUTDOWN_TIMEOUT_MS: expected milliseconds from 0 to 2147483647");
  }
  const publishTimeoutMs = Number(get("GATEWAY_PUBLISH_TIMEOUT_MS") ?? "10000");
  if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 1 || publishTimeoutMs > 2_147_483_647) {
    problems.push("GATEWAY_PUBLISH_TIMEOUT_MS: expected milliseconds from 1 to 2147483647");
  }
  // Every user is a context: past 64 connected at once (the least recently used idle one goes), or after
  // 10 minutes without a request, a user's producer (and its librdkafka threads) is closed; its next request
  // connects again.
  const maxContexts = Number(get("GATEWAY_MAX_CONTEXTS") ?? "64");
  if (!Number.isSafeInteger(maxContexts) || maxContexts < 1) problems.push("GATEWAY_MAX_CONTEXTS: expected a whole number ≥ 1");
  const contextIdleTimeoutMs = Number(get("GATEWAY_CONTEXT_IDLE_TIMEOUT_MS") ?? "600000");
  if (!Number.isSafeInteger(contextIdleTimeoutMs) || contextIdleTimeoutMs < 1) {
    problems.push("GATEWAY_CONTEXT_IDLE_TIMEOUT_MS: expected milliseconds ≥ 1");
  }
  // One tenant (a user's context) must not crowd out the others: bounds on what it holds at once, and on the
  // time a body may take to arrive (the runtime's own limit is minutes: Node's requestTimeout is 300 s).
  const positive = (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = Number(get(name) ?? fallback);
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      problems.push(`${name}: expected a whole number from 1 to ${max}`);
    }
    return value;
  };
  const maxRequestsPerTenant = positive("GATEWAY_MAX_REQUESTS_PER_TENANT", 256);
  const maxRecordsInFlightPerTenant = positive("GATEWAY_MAX_RECORDS_IN_FLIGHT_PER_TENANT", 20_000);
  const maxRecordsPerRequest = positive("GATEWAY_MAX_RECORDS_PER_REQUEST", 10_000);
  const bodyTimeoutMs = positive("GATEWAY_BODY_TIMEOUT_MS", 30_000, 2_147_483_647);
  const clusterId = get("GATEWAY_CLUSTER_ID") ?? "kshare";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(clusterId)) problems.push("GATEWAY_CLUSTER_ID: expected 1 to 64 of A-Z a-z 0-9 . _ -");
  const bootstrapServers = get("KAFKA_BOOTSTRAP_SERVERS");

  const users: GatewayUser[] = [];
  const usersVariable = env["GATEWAY_USERS"];
  if (usersVariable === undefined || usersVariable.trim() === "") {
    if (bootstrapServers !== undefined) {
      problems.push("GATEWAY_USERS: required with KAFKA_BOOTSTRAP_SERVERS (user:password,user:password)");
    }
  } else {
    usersVariable.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "").forEach((entry, i) => {
      const colon = entry.indexOf(":");
      const username = colon < 0 ? entry : entry.slice(0, colon);
      const password = colon < 0 ? "" : entry.slice(colon + 1);
      if (!USERNAME.test(username)) {
        problems.push(`GATEWAY_USERS: user ${i + 1}: expected 1 to 64 of A-Z a-z 0-9 . _ - before ":"`);
      } else if (password === "") {
        problems.push(`GATEWAY_USERS: user ${username}: expected user:password with a non-empty password`);
      } else if (users.some((u) => u.username === username)) problems.push(`GATEWAY_USERS: user ${username} appears twice`);
      else users.push({ username, password });
    });
    if (users.length === 0 && problems.length === 0) problems.push("GATEWAY_USERS: no user");
  }
  const demoUser = users.length === 0 && bootstrapServers === undefined;
  if (demoUser) users.push(DEMO_USER);

  const clientId = get("KAFKA_CLIENT_ID") ?? "kshare-gateway";
  const contextOf = (servers: string, user: string): SecurityContext => {
    const suffix = user.toUpperCase().replace(/[^A-Z0-9]/g, "_");
    const saslUsername = get(`KAFKA_SASL_USERNAME_${suffix}`) ?? get("KAFKA_SASL_USERNAME");
    const saslPassword = secret(`KAFKA_SASL_PASSWORD_${suffix}`) ?? secret("KAFKA_SASL_PASSWORD");
    const mechanism = get("KAFKA_SASL_MECHANISM");
    const tls = {
      ...(get("KAFKA_SSL_CA_PEM") && { ca: get("KAFKA_SSL_CA_PEM") }),
      ...(get("KAFKA_SSL_CERTIFICATE_PEM") && { cert: get("KAFKA_SSL_CERTIFICATE_PEM") }),
      ...(secret("KAFKA_SSL_KEY_PEM") && { key: secret("KAFKA_SSL_KEY_PEM") }),
      ...(secret("KAFKA_SSL_KEY_PASSWORD") && { keyPassword: secret("KAFKA_SSL_KEY_PASSWORD") }),
    };
    const sasl = mechanism === "OAUTHBEARER"
      ? {
        mechanism,
        clientId: get("KAFKA_SASL_OAUTHBEARER_CLIENT_ID"),
        clientSecret: secret("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET"),
        tokenEndpointUrl: get("KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL"),
        ...(get("KAFKA_SASL_OAUTHBEARER_SCOPE") && { scope: get("KAFKA_SASL_OAUTHBEARER_SCOPE") }),
      }
      : mechanism !== undefined || saslUsername !== undefined
      ? { mechanism: mechanism ?? "PLAIN", username: saslUsername, password: saslPassword }
      : undefined;
    // Built from strings the schema checks next; a wrong one becomes a GatewayConfigError naming the field.
    return {
      bootstrapServers: servers,
      ...(get("KAFKA_SECURITY_PROTOCOL") && { securityProtocol: get("KAFKA_SECURITY_PROTOCOL") }),
      ...(sasl && { sasl }),
      ...(Object.keys(tls).length > 0 && { tls }),
      clientId: `${clientId}-${user}`,
    } as SecurityContext;
  };

  if (problems.length > 0) throw new GatewayConfigError(problems);

  return {
    hostname: get("HOST") ?? "127.0.0.1",
    port,
    clusterId,
    bootstrapServers,
    users,
    demoUser,
    shutdownTimeoutMs,
    publishTimeoutMs,
    maxContexts,
    contextIdleTimeoutMs,
    maxRequestsPerTenant,
    maxRecordsInFlightPerTenant,
    maxRecordsPerRequest,
    bodyTimeoutMs,
    contexts(servers) {
      const contexts = new Map<string, SecurityContext>();
      const contextProblems: string[] = [];
      for (const { username } of users) {
        const ctx = contextOf(servers, username);
        try {
          resolveSecurityContext(ctx);
          contexts.set(username, ctx);
        } catch (error) {
          if (!(error instanceof InvalidSecurityContextError)) throw error;
          for (const p of error.problems) contextProblems.push(`Kafka context of user ${username}: ${p.path}: ${p.message}`);
        }
      }
      if (contextProblems.length > 0) throw new GatewayConfigError(contextProblems);
      return contexts;
    },
  };
}
