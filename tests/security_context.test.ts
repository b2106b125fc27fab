import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidSecurityContextError, resolveSecurityContext, type SecurityContext } from "../mod.ts";

const PASSWORD = "hunter2-very-secret";

test("equal contexts give one fingerprint however they are written", () => {
  const a = resolveSecurityContext({ bootstrapServers: "b.example:9092, a.example:9092" });
  const b = resolveSecurityContext({
    bootstrapServers: ["A.example:9092", "b.example"],
    securityProtocol: "PLAINTEXT",
    clientId: "kshare",
    producer: { acks: "all", "enable.idempotence": true },
    consumer: { "auto.offset.reset": "earliest" },
  });
  assert.equal(a.fingerprint, b.fingerprint);
  assert.match(a.fingerprint, /^[0-9a-f]{32}$/);
  assert.deepEqual(a.context.bootstrapServers, ["a.example:9092", "b.example:9092"]);
});

test("tuning values are compared as librdkafka strings", () => {
  const a = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": 5, acks: -1 } });
  const b = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": "5" } });
  assert.equal(a.fingerprint, b.fingerprint);
  const c = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": 6 } });
  assert.notEqual(a.fingerprint, c.fingerprint);
});

test("contexts differing only in password, isolation or client id get different fingerprints", () => {
  const base = { bootstrapServers: "k:9093", sasl: { mechanism: "SCRAM-SHA-512", username: "svc", password: PASSWORD } } as const;
  const one = resolveSecurityContext(base);
  const otherPassword = resolveSecurityContext({ ...base, sasl: { ...base.sasl, password: PASSWORD + "!" } });
  const isolated = resolveSecurityContext({ ...base, isolation: "payments" });
  const otherClient = resolveSecurityContext({ ...base, clientId: "other" });
  const all = new Set([one, otherPassword, isolated, otherClient].map((r) => r.fingerprint));
  assert.equal(all.size, 4);
  assert.equal(one.context.securityProtocol, "SASL_SSL");
});

test("fingerprint and description never contain a secret", () => {
  const key = "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----";
  const r = resolveSecurityContext({
    bootstrapServers: "k:9093",
    sasl: { mechanism: "PLAIN", username: "alice", password: PASSWORD },
    tls: { ca: "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----", key, keyPassword: "pem-pass" },
  });
  for (const text of [r.fingerprint, r.description]) {
    assert.ok(!text.includes(PASSWORD));
    assert.ok(!text.includes("MIIEv"));
    assert.ok(!text.includes("pem-pass"));
  }
  assert.match(r.description, /SASL_SSL k:9093 sasl=PLAIN user=alice password=\[redacted\]/);
  assert.match(r.description, /key=\[redacted\]/);
});

test("an invalid context names every bad field and no secret", () => {
  let error: unknown;
  try {
    const bad: unknown = {
      bootstrapServers: [],
      securityProtocol: "PLAINTEXT",
      sasl: { mechanism: "PLAIN", username: "", password: 42 },
      tls: { verifyHostname: "yes" },
      producer: { "sasl.password": PASSWORD },
      bootstrapServer: "typo:9092",
    };
    resolveSecurityContext(bad as SecurityContext);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof InvalidSecurityContextError);
  const paths = error.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, ["bootstrapServer", "bootstrapServers", "producer", "sasl.password", "sasl.username", "tls.verifyHostname"]);
  assert.ok(!error.message.includes(PASSWORD));
  assert.ok(!error.message.includes("42"));
  assert.match(error.message, /sasl\.password: expected a password/);
  assert.match(error.message, /bootstrapServers: needs at least one host:port/);
});

test("sasl over a non-SASL protocol is rejected with the reason", () => {
  assert.throws(
    () => resolveSecurityContext({ bootstrapServers: "k:9092", securityProtocol: "SSL", sasl: { mechanism: "PLAIN", username: "u", password: PASSWORD } }),
    (e: unknown) => e instanceof InvalidSecurityContextError && /SASL_PLAINTEXT or SASL_SSL/.test(e.message) && !e.message.includes(PASSWORD),
  );
});

test("equal contexts built anew resolve to the cached result; any secret difference does not", () => {
  const make = (password: string, extra: Record<string, unknown> = {}) =>
    ({ bootstrapServers: "k:9093", sasl: { mechanism: "PLAIN", username: "u", password }, ...extra }) as SecurityContext;
  const first = resolveSecurityContext(make(PASSWORD));
  assert.equal(resolveSecurityContext(make(PASSWORD)), first);
  assert.notEqual(resolveSecurityContext(make(PASSWORD + "x")).fingerprint, first.fingerprint);
  // A field the schema rejects is never served from the cache of a valid shape.
  assert.throws(() => resolveSecurityContext(make(PASSWORD, { bootstrapServer: "typo:1" })), InvalidSecurityContextError);
});

test("the shape cache tells apart what JSON would merge: Infinity, -Infinity and NaN, an undefined tuning value", () => {
  const infinity = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": Infinity } });
  const minus = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": -Infinity } });
  assert.notEqual(minus.fingerprint, infinity.fingerprint);
  assert.equal(infinity.context.producer["linger.ms"], "Infinity");
  // NaN is no librdkafka value; JSON writes all three as null.
  assert.throws(() => resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": NaN } }), InvalidSecurityContextError);
  resolveSecurityContext({ bootstrapServers: "k:9092", producer: {} });
  const undefinedValue = { bootstrapServers: "k:9092", producer: { "linger.ms": undefined } };
  assert.throws(() => resolveSecurityContext(undefinedValue as unknown as SecurityContext), InvalidSecurityContextError);
});

test("transactional.id is refused in tuning: it belongs to transactionalProducer(), not the shared producer", () => {
  assert.throws(
    () => resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "transactional.id": "t-1" } }),
    (e: unknown) => e instanceof InvalidSecurityContextError && /transactional\.id through transactionalProducer\(\)/.test(e.message),
  );
});

test("the shape cache never serves a context that is written differently", () => {
  // Values that would run together under a plain separator stay apart.
  const a = resolveSecurityContext({ bootstrapServers: "k:9092", isolation: "x", clientId: "1:y" });
  const b = resolveSecurityContext({ bootstrapServers: "k:9092", isolation: "x1:y", clientId: "y" });
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.equal(resolveSecurityContext({ bootstrapServers: "k:9092", isolation: "x", clientId: "1:y" }), a);
  // One string of servers and a list of one entry with a comma are not the same shape.
  resolveSecurityContext({ bootstrapServers: "k1:9092,k2:9092" });
  assert.throws(() => resolveSecurityContext({ bootstrapServers: ["k1:9092,k2:9092"] }), InvalidSecurityContextError);
  // A wrong type is rejected even when the right one was resolved first.
  resolveSecurityContext({ bootstrapServers: "k:9092", clientId: "5" });
  assert.throws(() => resolveSecurityContext({ bootstrapServers: "k:9092", clientId: 5 } as unknown as SecurityContext), InvalidSecurityContextError);
  // A field another mechanism has is refused, even present as undefined.
  const sasl = { mechanism: "PLAIN", username: "u", password: PASSWORD } as const;
  resolveSecurityContext({ bootstrapServers: "k:9093", sasl });
  assert.throws(
    () => resolveSecurityContext({ bootstrapServers: "k:9093", sasl: { ...sasl, clientId: undefined } } as unknown as SecurityContext),
    (e: unknown) => e instanceof InvalidSecurityContextError && e.problems.some((p) => p.path === "sasl.clientId"),
  );
  // Secrets are compared, not keyed: TLS key and passphrase too.
  const tls = (key: string, keyPassword: string) => ({ bootstrapServers: "k:9093", tls: { cert: "-----CERT-----", key, keyPassword } });
  const t1 = resolveSecurityContext(tls("k1", "p1"));
  assert.equal(resolveSecurityContext(tls("k1", "p1")), t1);
  assert.notEqual(resolveSecurityContext(tls("k1", "p2")).fingerprint, t1.fingerprint);
  assert.notEqual(resolveSecurityContext(tls("k2", "p1")).fingerprint, t1.fingerprint);
});

test("many secrets under one shape each resolve to their own fingerprint", () => {
  const make = (i: number) => ({ bootstrapServers: "many:9093", sasl: { mechanism: "SCRAM-SHA-256", username: "u", password: `pw-${i}` } }) as const;
  const first = resolveSecurityContext(make(0)).fingerprint;
  const seen = new Set([first]);
  for (let i = 1; i < 40; i++) seen.add(resolveSecurityContext(make(i)).fingerprint);
  assert.equal(seen.size, 40);
  assert.equal(resolveSecurityContext(make(0)).fingerprint, first);
});

test("contexts that are not plain objects are resolved by the schema, reading fields as it does", () => {
  class Tenant {
    readonly bootstrapServers = "k:9092";
    #isolation: string;
    constructor(isolation: string) {
      this.#isolation = isolation;
    }
    get isolation(): string {
      return this.#isolation;
    }
  }
  const a = resolveSecurityContext(new Tenant("a"));
  const b = resolveSecurityContext(new Tenant("b"));
  assert.notEqual(a.fingerprint, b.fingerprint);
  assert.match(b.description, /isolation=b/);
  const nullProto = Object.assign(Object.create(null), { bootstrapServers: "k:9092", isolation: "a" }) as SecurityContext;
  assert.equal(resolveSecurityContext(nullProto).fingerprint, a.fingerprint);
});

test("the shape cache stays bounded and correct past its limit", () => {
  const make = (i: number) => ({ bootstrapServers: "bound:9092", isolation: `tenant-${i}`, producer: { "linger.ms": i } });
  const fingerprints = Array.from({ length: 1500 }, (_, i) => resolveSecurityContext(make(i)).fingerprint);
  assert.equal(new Set(fingerprints).size, 1500);
  for (const i of [0, 700, 1499]) assert.equal(resolveSecurityContext(make(i)).fingerprint, fingerprints[i]);
});
