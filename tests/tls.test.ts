// TLS to Kafka for real: stunnel terminates TLS in front of each embedded
// broker (the mock cluster speaks plaintext only), and the brokers advertise
// the terminator's address, so every connection a client makes after its
// bootstrap goes through TLS too. Certificates are made by the test with
// openssl. kcat, through TLS, is the independent reader. The registry uses
// the runtime's default driver (Confluent on Node, FFI on Deno and Bun).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ConnectError, createRegistry, defineTopic, type SecurityContext } from "../mod.ts";
import { type EmbeddedBroker, startEmbeddedBroker } from "../testing.ts";
import { kcat, quietLogger } from "./_helpers.ts";
import { freePort, type Issued, makePki, type Pki, startTerminator, type Terminator } from "./_tls.ts";

const KEY_PASSWORD = "correct horse battery staple 7f3a";

let pki: Pki;
let alice: Issued;
/** bob's key is encrypted with {@link KEY_PASSWORD}. */
let bob: Issued;
/** One broker behind a terminator that asks for no client certificate. */
let plain: { broker: EmbeddedBroker; tls: Terminator; port: number };
/** One broker behind a terminator that requires a client certificate signed by the CA. */
let mutual: { broker: EmbeddedBroker; tls: Terminator; port: number };

async function terminated(requireClientCert: boolean) {
  const broker = await startEmbeddedBroker({ brokers: 1 });
  const port = await freePort();
  const tls = await startTerminator(pki, [{ accept: port, connect: broker.bootstrapServers }], { requireClientCert });
  broker.setAdvertisedAddress(1, "localhost", port);
  return { broker, tls, port };
}

before(async () => {
  pki = await makePki();
  alice = await pki.client("alice");
  bob = await pki.client("bob", KEY_PASSWORD);
  plain = await terminated(false);
  mutual = await terminated(true);
});
after(async () => {
  for (const side of [plain, mutual]) {
    await side?.tls.stop();
    await side?.broker.stop();
  }
  await pki?.dispose();
});

const Order = v.object({ id: v.string() });
let topicSeq = 0;
function topic(broker: EmbeddedBroker, prefix: string) {
  const name = `${prefix}-${++topicSeq}`;
  broker.createTopic(name, 1);
  return defineTopic({ name, schema: Order, key: (o) => o.id });
}

/** kcat's librdkafka properties for TLS, with a client certificate when one is given. */
function kcatTls(client?: Issued): string[] {
  const args = ["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${pki.caPath}`];
  if (client) args.push("-X", `ssl.certificate.location=${client.certPath}`, "-X", `ssl.key.location=${client.keyPath}`);
  return args;
}

/** The payloads of a topic, read from the beginning by kcat through the terminator. */
async function readThroughTls(port: number, topic: string, client?: Issued): Promise<string[]> {
  const out = await kcat(["-b", `localhost:${port}`, ...kcatTls(client), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\\n"]);
  return out.split("\n").filter((line) => line !== "");
}

/** Everything an error says: its message and every cause's. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) parts.push(`${e.name}: ${e.message}`);
  return parts.join(" <- ");
}

/** The ConnectError `connect` rejects with; fails the test if it resolves or rejects with anything else. */
async function connectError(connect: () => Promise<unknown>): Promise<ConnectError> {
  const error = await connect().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${error === undefined ? "a connected producer" : errorText(error)}`);
  return error;
}

function assertNoSecret(text: string, secrets: readonly string[], where: string): void {
  for (const secret of secrets) {
    assert.ok(!text.includes(secret.trim()), `${where} contains a secret`);
    // A PEM key leaks as soon as one line of its body does.
    for (const line of secret.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"))) {
      assert.ok(!text.includes(line), `${where} contains a line of a private key`);
    }
  }
}

test("brokers advertise the terminator: kcat's metadata names localhost and the TLS port", async () => {
  const out = await kcat(["-b", `localhost:${plain.port}`, ...kcatTls(), "-L", "-J"]);
  const metadata = JSON.parse(out) as { brokers: Array<{ id: number; name: string }> };
  assert.deepEqual(metadata.brokers, [{ id: 1, name: `localhost:${plain.port}` }]);
});

test("a context with the broker's CA connects through TLS and publishes; kcat reads the record back through TLS", async () => {
  const t = topic(plain.broker, "tls-ca");
  await using kafka = createRegistry({ logger: quietLogger() });
  const handshakesBefore = plain.tls.log.filter((line) => /TLS accepted/.test(line)).length;
  const producer = await kafka.producer({ bootstrapServers: `localhost:${plain.port}`, tls: { ca: pki.ca } });
  await producer.publish(t, { id: "o-1" });
  // The producer's connections went through the terminator (the log may arrive after the publish's answer).
  await plain.tls.waitFor(/TLS accepted/, handshakesBefore + 1);
  assert.deepEqual(await readThroughTls(plain.port, t.name), [JSON.stringify({ id: "o-1" })]);
  const stats = Object.values(kafka.stats().contexts);
  assert.equal(stats.length, 1);
  assert.match(stats[0]!.description, /^SSL localhost:\d+ tls\(ca=pem\) client=kshare$/);
});

test("a CA that did not sign the broker's certificate: ConnectError saying the certificate failed verification, naming no secret", async () => {
  const logger = quietLogger();
  await using kafka = createRegistry({ logger });
  const error = await connectError(() =>
    kafka.producer({ bootstrapServers: `localhost:${plain.port}`, tls: { ca: pki.otherCa, cert: alice.cert, key: alice.key } })
  );
  // The error says what librdkafka said about the handshake.
  assert.match(errorText(error), /certificate verify failed/);
  const said = `${errorText(error)}\n${logger.lines.join("\n")}`;
  assert.match(error.message, /SSL localhost:\d+ tls\(ca=pem cert=pem key=\[redacted\]\)/);
  assertNoSecret(said, [alice.key], "the error or the log");
  assertNoSecret(JSON.stringify(kafka.stats()), [alice.key], "stats()");
  assert.equal(Object.values(kafka.stats().contexts)[0]?.connectFailures, 1);
});

test("hostname verification: on by default, a certificate for localhost is refused at 127.0.0.1; off, it is accepted", async () => {
  const t = topic(plain.broker, "tls-hostname");
  await using kafka = createRegistry({ logger: quietLogger() });
  const byAddress: SecurityContext = { bootstrapServers: `127.0.0.1:${plain.port}`, tls: { ca: pki.ca } };
  const error = await connectError(() => kafka.producer(byAddress));
  assert.match(error.message, /127\.0\.0\.1/);
  assert.match(errorText(error), /certificate verify failed/);

  const producer = await kafka.producer({ ...byAddress, tls: { ca: pki.ca, verifyHostname: false } });
  await producer.publish(t, { id: "o-2" });
  assert.deepEqual(await readThroughTls(plain.port, t.name), [JSON.stringify({ id: "o-2" })]);
});

test("client certificates required: two contexts with two certificates get two connections; the terminator saw both subjects", async () => {
  const t = topic(mutual.broker, "tls-mutual");
  await using kafka = createRegistry({ logger: quietLogger() });
  const bootstrapServers = `localhost:${mutual.port}`;
  const asAlice = await kafka.producer({ bootstrapServers, tls: { ca: pki.ca, cert: alice.cert, key: alice.key } });
  const asBob = await kafka.producer({ bootstrapServers, tls: { ca: pki.ca, cert: bob.cert, key: bob.key, keyPassword: KEY_PASSWORD } });
  assert.notEqual(asAlice, asBob);
  assert.notEqual(asAlice.fingerprint, asBob.fingerprint);
  await asAlice.publish(t, { id: "from-alice" });
  await asBob.publish(t, { id: "from-bob" });

  const stats = kafka.stats();
  assert.deepEqual(Object.keys(stats.contexts).sort(), [asAlice.fingerprint, asBob.fingerprint].sort());
  for (const context of Object.values(stats.contexts)) {
    assert.equal(context.clientsCreated, 1);
    assert.equal(context.liveProducers, 1);
  }
  // The terminator verified both certificates (stunnel logs each client certificate's subject).
  await mutual.tls.waitFor(/Certificate accepted at depth=0: CN=alice$/);
  await mutual.tls.waitFor(/Certificate accepted at depth=0: CN=bob$/);
  const read = await readThroughTls(mutual.port, t.name, alice);
  assert.deepEqual(read.sort(), [JSON.stringify({ id: "from-alice" }), JSON.stringify({ id: "from-bob" })]);
});

test("client certificates required: a context without one is refused", async () => {
  const refusalsBefore = mutual.tls.log.filter((line) => /peer did not return a certificate/.test(line)).length;
  await using kafka = createRegistry({ logger: quietLogger() });
  const error = await connectError(() => kafka.producer({ bootstrapServers: `localhost:${mutual.port}`, tls: { ca: pki.ca } }));
  assert.match(error.message, /SSL localhost:\d+ tls\(ca=pem\)/);
  assert.match(errorText(error), /certificate required/);
  await mutual.tls.waitFor(/peer did not return a certificate/, refusalsBefore + 1);
});

test("a key with a password: the password is in no error, log line, stats, description or fingerprint", async () => {
  const t = topic(mutual.broker, "tls-password");
  const logger = quietLogger();
  await using kafka = createRegistry({ logger });
  const bootstrapServers = `localhost:${mutual.port}`;
  const ctx: SecurityContext = { bootstrapServers, tls: { ca: pki.ca, cert: bob.cert, key: bob.key, keyPassword: KEY_PASSWORD } };
  const producer = await kafka.producer(ctx);
  await producer.publish(t, { id: "o-3" });
  assert.deepEqual(await readThroughTls(mutual.port, t.name, alice), [JSON.stringify({ id: "o-3" })]);

  // A wrong password: the key cannot be decrypted, and neither password is said.
  const wrongPassword = "not the password 91c2";
  const error = await connectError(() => kafka.producer({ ...ctx, tls: { ...ctx.tls, keyPassword: wrongPassword } }));
  const said = `${errorText(error)}\n${logger.lines.join("\n")}`;
  assert.match(errorText(error), /ssl\.key\.pem failed: .*maybe wrong password/);

  const secrets = [KEY_PASSWORD, wrongPassword, bob.key];
  assertNoSecret(said, secrets, "the error or the log");
  assertNoSecret(JSON.stringify(kafka.stats()), secrets, "stats()");
  assertNoSecret(`${producer.fingerprint} ${Object.keys(kafka.stats().contexts).join(" ")}`, secrets, "the keys");
  assertNoSecret(Object.values(kafka.stats().contexts).map((c) => c.description).join("\n"), secrets, "the descriptions");
});
