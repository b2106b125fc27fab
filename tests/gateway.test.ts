// The runnable gateway as a user runs it: its own process on this runtime (Node: tsx, Deno: deno run,
// Bun: bun), started by one command, configured by environment, stopped by a signal. curl runs the
// README's examples; kcat reads what the gateway acknowledged.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolveSecurityContext } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { DEMO_USER, gatewayConfig, GatewayConfigError } from "../gateway/config.ts";
import { kcatRead } from "./_helpers.ts";
import { basic, slowRequest, startGateway } from "./_gateway.ts";

const broker = await startEmbeddedBroker({ brokers: 1 });
broker.createTopic("orders", 3);
broker.createTopic("payments", 3);
after(() => broker.stop());

test("config: the embedded-broker demo user by default; GATEWAY_USERS required with a real cluster; problems never show values", () => {
  const demo = gatewayConfig({});
  assert.deepEqual(demo.users, [DEMO_USER]);
  assert.equal(demo.demoUser, true);
  assert.equal(demo.port, 8082);
  assert.equal(demo.hostname, "127.0.0.1");
  assert.throws(
    () => gatewayConfig({ KAFKA_BOOTSTRAP_SERVERS: "b:9092" }),
    (e: unknown) => e instanceof GatewayConfigError && e.problems.some((p) => p.startsWith("GATEWAY_USERS")),
  );
  assert.throws(
    () => gatewayConfig({ GATEWAY_USERS: "alice:, bad user:pw-xyz, alice:1, alice:2", PORT: "http" }),
    (e: unknown) => e instanceof GatewayConfigError && e.problems.length === 4 && !e.message.includes("pw-xyz"),
  );
  // The shutdown's one deadline is a timer: past setTimeout's longest delay it would fire at once.
  assert.equal(demo.shutdownTimeoutMs, 10_000);
  for (const bad of ["-1", "1.5", "soon", "2147483648"]) {
    assert.throws(
      () => gatewayConfig({ GATEWAY_SHUTDOWN_TIMEOUT_MS: bad }),
      (e: unknown) => e instanceof GatewayConfigError && e.problems[0]!.startsWith("GATEWAY_SHUTDOWN_TIMEOUT_MS: expected milliseconds"),
      bad,
    );
  }
});

test("config: each user is a tenant with its own context; per-user SASL credentials; an invalid context is named, its secret not", () => {
  const env = {
    GATEWAY_USERS: "alice:a-pw,bob:b-pw",
    KAFKA_BOOTSTRAP_SERVERS: "b1:9093,b2:9093",
    KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    KAFKA_SASL_USERNAME: "gateway",
    KAFKA_SASL_PASSWORD: "shared-kafka-secret",
    KAFKA_SASL_USERNAME_BOB: "bob-kafka",
    KAFKA_SASL_PASSWORD_BOB: "bob-kafka-secret",
  };
  const contexts = gatewayConfig(env).contexts("b1:9093,b2:9093");
  const alice = resolveSecurityContext(contexts.get("alice")!);
  const bob = resolveSecurityContext(contexts.get("bob")!);
  assert.notEqual(alice.fingerprint, bob.fingerprint);
  assert.equal(
    alice.description,
    "SASL_SSL b1:9093,b2:9093 sasl=SCRAM-SHA-512 user=gateway password=[redacted] client=kshare-gateway-alice",
  );
  assert.equal(
    bob.description,
    "SASL_SSL b1:9093,b2:9093 sasl=SCRAM-SHA-512 user=bob-kafka password=[redacted] client=kshare-gateway-bob",
  );
  assert.throws(
    () => gatewayConfig({ ...env, KAFKA_SECURITY_PROTOCOL: "PLAINTEXT" }).contexts("b1:9093"),
    (e: unknown) => e instanceof GatewayConfigError && /user alice: .*sasl/.test(e.message) && !e.message.includes("secret"),
  );
});

test(
  "the README's start command: first log lines name the gateway, the embedded broker and the topics; curl examples give the documented responses",
  {
    skip: spawnSync("curl", ["--version"]).status === 0 ? false : "curl is not installed",
  },
  async () => {
    const gateway = startGateway();
    const url = await gateway.url();
    const bootstrap = (await gateway.line(/embedded broker at /)).match(/embedded broker at (\S+)/)![1]!;
    assert.match(bootstrap, /^127\.0\.0\.1:\d+$/);
    await gateway.line(/^kshare-gateway: topics: orders, payments \(3 partitions each\)$/);
    await gateway.line(/^kshare-gateway: produce: /);

    const snippet = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const documentedBootstrap = snippet.match(/embedded broker at (\S+) /)![1]!;
    const blocks = [...snippet.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
    // What differs between runs: the clock, the port, the broker's address and the fingerprints that hash it.
    const normalize = (text: string) =>
      text.replaceAll(url.replace("http://", ""), "127.0.0.1:8082")
        .replace(/"timestamp":"[^"]+"/g, '"timestamp":"<time>"')
        .replace(/\b[0-9a-f]{32}\b/g, "<fingerprint>")
        .trim();
    let checked = 0;
    for (const [i, block] of blocks.entries()) {
      if (block.lang !== "sh" || !/^(curl|printf|kcat)/m.test(block.body)) continue;
      const documented = blocks[i + 1]!;
      const command = block.body.replaceAll("127.0.0.1:8082", url.replace("http://", "")).replaceAll(
        documentedBootstrap,
        bootstrap,
      );
      const run = spawnSync("bash", ["-c", command], { encoding: "utf8" });
      assert.equal(run.status, 0, `${command}\n${run.stderr}`);
      if (block.body.startsWith("kcat")) {
        // Partitions are read in no fixed order: compare the records, not their order.
        assert.deepEqual(run.stdout.trim().split("\n").sort(), documented.body.trim().split("\n").sort(), command);
      } else {
        assert.equal(normalize(run.stdout), normalize(documented.body), command);
      }
      checked++;
    }
    assert.ok(checked >= 8, `only ${checked} examples found`);

    gateway.signal("SIGINT");
    assert.equal(await gateway.exited, 0);
    assert.match(gateway.lines.join("\n"), /SIGINT: stopping[\s\S]*kshare-gateway: stopped$/);
  },
);

test("SIGTERM: the gateway stops accepting, finishes the request in flight, flushes, closes and exits 0", async () => {
  const gateway = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers, GATEWAY_USERS: "alice:a-pw" });
  const url = await gateway.url();
  const record = JSON.stringify({
    key: { type: "STRING", data: "late-1" },
    value: { data: { id: "late-1", customer: "c", total: 1 } },
  });
  const slow = slowRequest(url, "/v3/clusters/kshare/topics/orders/records", {
    Authorization: basic("alice", "a-pw"),
    "Content-Type": "application/json",
  }, record.slice(0, 10));
  // The request is in flight once the gateway counts it (it waits for the rest of its body).
  let inFlight = false;
  for (let attempt = 0; attempt < 500 && !inFlight; attempt++) {
    inFlight = /^kshare_http_requests_in_flight 1$/m.test(await (await fetch(`${url}/metrics`)).text());
  }
  assert.ok(inFlight, "the slow request never reached the gateway");
  gateway.signal("SIGTERM");
  await gateway.line(/SIGTERM: stopping; finishing 1 request\(s\) in flight/);
  slow.finish(record.slice(10));
  const { status, headers, body } = await slow.response;
  assert.equal(status, 200, body);
  assert.match(headers, /^connection: close$/im);
  const answer = JSON.parse(body) as { error_code: number; partition_id: number; offset: number };
  assert.equal(answer.error_code, 200);
  assert.equal(await gateway.exited, 0);
  assert.match(gateway.lines.at(-1)!, /stopped$/);
  const stored = (await kcatRead(broker.bootstrapServers, "orders")).find((r) => r.key === "late-1");
  assert.ok(stored, "the acknowledged record is not in Kafka");
  assert.deepEqual([stored.partition, stored.offset], [answer.partition_id, answer.offset]);
});

test("with KAFKA_BOOTSTRAP_SERVERS: one producer per user, whatever the load; what it acknowledged is in Kafka with key, headers and value", async () => {
  const gateway = startGateway({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
    GATEWAY_USERS: "alice:a-pw,bob:b-pw",
    KAFKA_CLIENT_ID: "gw-test",
  });
  const url = await gateway.url();
  assert.equal(await gateway.line(/^kshare-gateway: Kafka: /), `kshare-gateway: Kafka: ${broker.bootstrapServers}`);
  const publish = async (user: string, id: string) => {
    const res = await fetch(`${url}/v3/clusters/kshare/topics/payments/records`, {
      method: "POST",
      headers: { Authorization: basic(user, `${user[0]}-pw`), "Content-Type": "application/json" },
      body: JSON.stringify({
        key: { type: "STRING", data: id },
        headers: [{ name: "user", value: btoa(user) }],
        value: { type: "JSON", data: { id, orderId: `o-${id}`, amount: 9.5, currency: "EUR" } },
      }),
    });
    assert.equal(res.status, 200);
    return await res.json() as { partition_id: number; offset: number };
  };
  const acknowledged = new Map<string, { partition_id: number; offset: number }>();
  for (let wave = 0; wave < 5; wave++) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => acknowledged.set(`a-${wave}-${i}`, await publish("alice", `a-${wave}-${i}`))),
    );
  }
  acknowledged.set("b-0", await publish("bob", "b-0"));
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const created = [...metrics.matchAll(/^kshare_clients_created_total\{context="[0-9a-f]{32}"\} (\d+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(created, [1, 1], metrics);
  assert.match(metrics, /^kshare_handles_reused_total\{context="[0-9a-f]{32}"\} 99$/m);
  assert.match(metrics, /^kshare_publishes_total\{topic="payments",status="200"\} 101$/m);
  for (const secret of ["a-pw", "b-pw"]) assert.ok(!metrics.includes(secret) && !gateway.lines.join("\n").includes(secret));

  const stored = new Map((await kcatRead(broker.bootstrapServers, "payments")).map((r) => [r.key, r]));
  for (const [id, ack] of acknowledged) {
    const record = stored.get(id);
    assert.ok(record, `${id} is missing`);
    assert.deepEqual([record.partition, record.offset], [ack.partition_id, ack.offset]);
    assert.deepEqual(record.headers, ["user", id.startsWith("a") ? "alice" : "bob"]);
    assert.deepEqual(JSON.parse(record.payload!), { id, orderId: `o-${id}`, amount: 9.5, currency: "EUR" });
  }
  gateway.signal("SIGTERM");
  assert.equal(await gateway.exited, 0);
});

test("a configuration that cannot work stops the gateway at startup with exit code 2, naming the variable and never a secret", async () => {
  const noUsers = startGateway({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers });
  assert.equal(await noUsers.exited, 2);
  assert.match(noUsers.lines.join("\n"), /GATEWAY_USERS: required with KAFKA_BOOTSTRAP_SERVERS/);
  const badContext = startGateway({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrapServers,
    GATEWAY_USERS: "alice:a-pw",
    KAFKA_SECURITY_PROTOCOL: "PLAINTEXT",
    KAFKA_SASL_USERNAME: "svc",
    KAFKA_SASL_PASSWORD: "kafka-password-never-printed",
  });
  assert.equal(await badContext.exited, 2);
  const output = badContext.lines.join("\n");
  assert.match(output, /Kafka context of user alice: .*sasl/);
  assert.ok(!output.includes("kafka-password-never-printed") && !output.includes("a-pw"));
});
