// The fingerprint and the description of a normalised context
// (src/_fingerprint.ts), computed here without the caches of
// resolveSecurityContext in front of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { type SecurityContext, SecurityContextSchema } from "../mod.ts";
import { computeFingerprint, describe } from "../src/_fingerprint.ts";

const PASSWORD = "hunter2-very-secret";

const normalised = (ctx: SecurityContext) => v.parse(SecurityContextSchema, ctx);
const fingerprint = (ctx: SecurityContext) => computeFingerprint(normalised(ctx));

test("equal contexts give one fingerprint however they are written", () => {
  const a = fingerprint({ bootstrapServers: "b.example:9092, a.example:9092" });
  const b = fingerprint({
    bootstrapServers: ["A.example:9092", "b.example"],
    securityProtocol: "PLAINTEXT",
    clientId: "kshare",
    producer: { acks: "all", "enable.idempotence": true },
    consumer: { "auto.offset.reset": "earliest" },
  });
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]{32}$/);
});

test("tuning values are compared as librdkafka strings", () => {
  const a = fingerprint({ bootstrapServers: "k:9092", producer: { "linger.ms": 5, acks: -1 } });
  const b = fingerprint({ bootstrapServers: "k:9092", producer: { "linger.ms": "5" } });
  assert.equal(a, b);
  const c = fingerprint({ bootstrapServers: "k:9092", producer: { "linger.ms": 6 } });
  assert.notEqual(a, c);
});

test("contexts differing only in password, isolation or client id get different fingerprints", () => {
  const base = { bootstrapServers: "k:9093", sasl: { mechanism: "SCRAM-SHA-512", username: "svc", password: PASSWORD } } as const;
  const all = new Set([
    fingerprint(base),
    fingerprint({ ...base, sasl: { ...base.sasl, password: PASSWORD + "!" } }),
    fingerprint({ ...base, isolation: "payments" }),
    fingerprint({ ...base, clientId: "other" }),
  ]);
  assert.equal(all.size, 4);
});

test("every secret and every piece of TLS material is part of the identity", () => {
  const oauth = {
    mechanism: "OAUTHBEARER",
    clientId: "svc",
    clientSecret: PASSWORD,
    tokenEndpointUrl: "https://idp.example/token",
  } as const;
  const tls = { ca: "ca-pem", cert: "cert-pem", key: "key-pem", keyPassword: "key-pass", verifyHostname: true };
  const variants: SecurityContext[] = [
    { bootstrapServers: "k:9093", sasl: oauth },
    { bootstrapServers: "k:9093", sasl: { ...oauth, clientSecret: PASSWORD + "!" } },
    { bootstrapServers: "k:9093", sasl: { ...oauth, scope: "kafka" } },
    { bootstrapServers: "k:9093", tls },
    { bootstrapServers: "k:9093", tls: { ...tls, ca: "other-ca" } },
    { bootstrapServers: "k:9093", tls: { ...tls, cert: "other-cert" } },
    { bootstrapServers: "k:9093", tls: { ...tls, key: "other-key" } },
    { bootstrapServers: "k:9093", tls: { ...tls, keyPassword: "other-pass" } },
    { bootstrapServers: "k:9093", tls: { ...tls, verifyHostname: false } },
  ];
  assert.equal(new Set(variants.map(fingerprint)).size, variants.length);
});

test("fingerprint and description never contain a secret", () => {
  const key = "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----";
  const ctx = normalised({
    bootstrapServers: "k:9093",
    sasl: { mechanism: "PLAIN", username: "alice", password: PASSWORD },
    tls: { ca: "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----", key, keyPassword: "pem-pass" },
  });
  for (const text of [computeFingerprint(ctx), describe(ctx)]) {
    assert.ok(!text.includes(PASSWORD));
    assert.ok(!text.includes("MIIEv"));
    assert.ok(!text.includes("pem-pass"));
  }
  assert.equal(describe(ctx), "SASL_SSL k:9093 sasl=PLAIN user=alice password=[redacted] tls(ca=pem key=[redacted]) client=kshare");
});

test("the description names what is set, and redacts an OAuth client secret", () => {
  const ctx = normalised({
    bootstrapServers: ["k2:9093", "k1:9093"],
    sasl: { mechanism: "OAUTHBEARER", clientId: "billing", clientSecret: PASSWORD, tokenEndpointUrl: "https://idp.example/token" },
    tls: { cert: "cert-pem", verifyHostname: false },
    isolation: "payments",
    clientId: "billing-api",
  });
  assert.equal(
    describe(ctx),
    "SASL_SSL k1:9093,k2:9093 sasl=OAUTHBEARER client=billing secret=[redacted] tls(ca=system cert=pem verifyHostname=false) " +
      "isolation=payments client=billing-api",
  );
});
