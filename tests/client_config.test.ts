// The librdkafka configuration of a resolved context (src/_client_config.ts):
// which properties each part of a context becomes, which of them are named
// secret, and a label without a secret. The configurations reach a real
// librdkafka in the registry, TLS and driver tests; these check the mapping
// itself, property by property.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveSecurityContext } from "../mod.ts";
import { consumerConfig, producerConfig } from "../src/_client_config.ts";

const PASSWORD = "hunter2-very-secret";

test("SASL over TLS becomes librdkafka's security properties over the tuning, its secrets named", () => {
  const resolved = resolveSecurityContext({
    bootstrapServers: "k2:9093,k1:9093",
    sasl: { mechanism: "SCRAM-SHA-512", username: "alice", password: PASSWORD },
    tls: { ca: "ca-pem", cert: "cert-pem", key: "key-pem", keyPassword: "key-pass" },
    clientId: "billing",
    producer: { "linger.ms": 5 },
  });
  const config = producerConfig(resolved);
  assert.deepEqual(config.properties, {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "5",
    "bootstrap.servers": "k1:9093,k2:9093",
    "security.protocol": "sasl_ssl",
    "client.id": "billing",
    "sasl.mechanisms": "SCRAM-SHA-512",
    "sasl.username": "alice",
    "sasl.password": PASSWORD,
    "ssl.ca.pem": "ca-pem",
    "ssl.certificate.pem": "cert-pem",
    "ssl.key.pem": "key-pem",
    "ssl.key.password": "key-pass",
    "ssl.endpoint.identification.algorithm": "https",
  });
  assert.deepEqual(config.secretProperties, ["sasl.password", "ssl.key.pem", "ssl.key.password"]);
  assert.equal(config.label, resolved.description);
  for (const secret of [PASSWORD, "key-pem", "key-pass"]) assert.ok(!config.label.includes(secret));
});

test("OAUTHBEARER becomes librdkafka's OIDC client credentials; TLS without material only sets hostname checking", () => {
  const oauth = { mechanism: "OAUTHBEARER", clientId: "svc", clientSecret: PASSWORD, tokenEndpointUrl: "https://idp.example/token" } as const;
  const config = producerConfig(resolveSecurityContext({ bootstrapServers: "k:9093", sasl: oauth, tls: { verifyHostname: false } }));
  assert.deepEqual(config.properties, {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "0",
    "bootstrap.servers": "k:9093",
    "security.protocol": "sasl_ssl",
    "client.id": "kshare",
    "sasl.mechanisms": "OAUTHBEARER",
    "sasl.oauthbearer.method": "oidc",
    "sasl.oauthbearer.client.id": "svc",
    "sasl.oauthbearer.client.secret": PASSWORD,
    "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
    "ssl.endpoint.identification.algorithm": "none",
  });
  assert.deepEqual(config.secretProperties, ["sasl.oauthbearer.client.secret", "ssl.key.pem", "ssl.key.password"]);
  const scoped = producerConfig(resolveSecurityContext({ bootstrapServers: "k:9093", sasl: { ...oauth, scope: "kafka" } }));
  assert.equal(scoped.properties["sasl.oauthbearer.scope"], "kafka");
});

test("a plaintext context has no secret property", () => {
  const config = producerConfig(resolveSecurityContext({ bootstrapServers: "k:9092" }));
  assert.deepEqual(config.secretProperties, []);
  assert.equal(config.properties["security.protocol"], "plaintext");
  assert.equal(Object.keys(config.properties).some((name) => name.startsWith("sasl.") || name.startsWith("ssl.")), false);
});

test("a consumer's configuration is its group's, stores offsets only after a handler, and takes the consumer tuning", () => {
  const resolved = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": 5 }, consumer: { "fetch.min.bytes": 1 } });
  const config = consumerConfig(resolved, "billing");
  assert.equal(config.groupId, "billing");
  assert.equal(config.label, `${resolved.description} group=billing`);
  assert.deepEqual(config.properties, {
    "auto.offset.reset": "earliest",
    // librdkafka's 1000 ms left a backlog read in bursts a second apart (src/_tuning.ts).
    "fetch.queue.backoff.ms": "50",
    "fetch.min.bytes": "1",
    "bootstrap.servers": "k:9092",
    "security.protocol": "plaintext",
    "client.id": "kshare",
    "group.id": "billing",
    "enable.auto.offset.store": "false",
  });
});

test("tuning passed in replaces the context's own, and never overrides a security property or the group", () => {
  const resolved = resolveSecurityContext({ bootstrapServers: "k:9092", producer: { "linger.ms": 5 } });
  const producer = producerConfig(resolved, { "linger.ms": "7", "client.id": "other", "security.protocol": "ssl" });
  assert.deepEqual(producer.properties, {
    "linger.ms": "7",
    "client.id": "kshare",
    "security.protocol": "plaintext",
    "bootstrap.servers": "k:9092",
  });
  const consumer = consumerConfig(resolved, "billing", { "group.id": "other", "enable.auto.offset.store": "true" });
  assert.equal(consumer.properties["group.id"], "billing");
  assert.equal(consumer.properties["enable.auto.offset.store"], "false");
});
