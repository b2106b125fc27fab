// The shape cache (src/_shape_cache.ts), seen through resolveSecurityContext:
// a context built anew and written the same way, with the same secrets, is
// the cached result; anything written differently is parsed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidSecurityContextError, resolveSecurityContext, type SecurityContext } from "../mod.ts";

const PASSWORD = "hunter2-very-secret";

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
