// The context schema (src/security_context.ts) through resolveSecurityContext:
// what a context normalises to, and what it refuses, naming the field and
// never a secret. The fingerprint, the shape cache and the client
// configuration have test files of their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidSecurityContextError, resolveSecurityContext, type SecurityContext } from "../mod.ts";

const PASSWORD = "hunter2-very-secret";

test("servers are normalised: trimmed, lower-case, with the default port, de-duplicated and sorted", () => {
  const { context } = resolveSecurityContext({ bootstrapServers: " b.example:9093 ,A.example, a.example:9092 ,[::1]" });
  assert.deepEqual(context.bootstrapServers, ["[::1]:9092", "a.example:9092", "b.example:9093"]);
  assert.deepEqual(resolveSecurityContext({ bootstrapServers: ["A.example", "b.example:9093"] }).context.bootstrapServers, [
    "a.example:9092",
    "b.example:9093",
  ]);
});

test("the protocol is inferred: SASL_SSL with sasl, SSL with tls, else PLAINTEXT; defaults are spelled out", () => {
  const sasl = { mechanism: "PLAIN", username: "u", password: PASSWORD } as const;
  assert.equal(resolveSecurityContext({ bootstrapServers: "k:9093", sasl, tls: {} }).context.securityProtocol, "SASL_SSL");
  assert.equal(resolveSecurityContext({ bootstrapServers: "k:9093", sasl }).context.securityProtocol, "SASL_SSL");
  const tls = resolveSecurityContext({ bootstrapServers: "k:9093", tls: {} }).context;
  assert.equal(tls.securityProtocol, "SSL");
  assert.equal(tls.tls?.verifyHostname, true);
  const plain = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": 5 } }).context;
  assert.equal(plain.securityProtocol, "PLAINTEXT");
  assert.equal(plain.clientId, "kshare");
  assert.deepEqual(plain.producer, { acks: "all", "enable.idempotence": "true", "linger.ms": "5" });
  assert.deepEqual(plain.consumer, { "auto.offset.reset": "earliest", "fetch.queue.backoff.ms": "50" });
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

test("transactional.id is refused in tuning: it belongs to transactionalProducer(), not the shared producer", () => {
  assert.throws(
    () => resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "transactional.id": "t-1" } }),
    (e: unknown) => e instanceof InvalidSecurityContextError && /transactional\.id through transactionalProducer\(\)/.test(e.message),
  );
});
