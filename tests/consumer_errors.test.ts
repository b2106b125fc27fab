// The consumer's error policy (retry until success by default; skipping only with a
// finite `retries`), the handler timeout and `message.signal`, and waits that leave no
// listener behind. Pure consumer logic: the fake driver, whose `commits` are what the
// consumer marked for commit.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ClosedError, createRegistry, defineTopic, type SubscribeOptions } from "../mod.ts";
import { pendingAbortListeners } from "../src/_util.ts";
import { FakeDriver } from "./_fake_driver.ts";
import { Countdown, gate } from "./_helpers.ts";

const ctx = { bootstrapServers: "fake:9092" };
const orders = defineTopic({ name: "orders", schema: v.object({ id: v.string() }) });

function record(offset: number, partition = 0) {
  return { topic: "orders", partition, offset, key: null, value: new TextEncoder().encode(JSON.stringify({ id: `o-${offset}` })), headers: [] };
}

/** A logger that records; `errorLogged` resolves at the first error. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const firstError = gate();
  return {
    lines,
    errorLogged: firstError.wait,
    warn: (message: string, fields?: Record<string, unknown>) => void lines.push({ level: "warn", message, fields }),
    error: (message: string, fields?: Record<string, unknown>) => {
      lines.push({ level: "error", message, fields });
      firstError.open();
    },
  };
}

test(
  "by default a failing handler is retried with backoff until it succeeds: never skipped, committed only after the success",
  { timeout: 20_000 },
  async () => {
    const driver = new FakeDriver();
    const logger = recordingLogger();
    const kafka = createRegistry({ driver, logger });
    const failures = 8; // more than any old default gave a message before skipping it
    let attempts = 0;
    const succeeded = gate();
    const failedEnough = gate();
    const consumer = kafka.consumer(ctx, "billing").subscribe(orders, (m) => {
      if (m.offset !== 5) return;
      attempts++;
      if (attempts <= failures) {
        if (attempts === failures) failedEnough.open();
        throw new Error(`attempt ${attempts} failed`);
      }
      succeeded.open();
    }, { retryBackoffMs: 1 });
    await consumer.start();
    const client = driver.consumerClients[0]!;
    client.inbox.push(record(5), record(0, 1));
    // Either the handler failed `failures` times, or the consumer gave the message up (the old default).
    await Promise.race([failedEnough.wait, logger.errorLogged]);
    assert.deepEqual(logger.lines.filter((l) => l.level === "error"), [], "the message was given up");
    assert.equal(attempts, failures);
    assert.deepEqual(client.commits.filter((c) => c.partition === 0), [], "a failing message was marked for commit");
    assert.ok(client.commits.some((c) => c.partition === 1 && c.offset === 1), "the other partition flows meanwhile");
    const warnings = logger.lines.filter((l) => l.message === "kshare: handler failed; retrying");
    assert.deepEqual(
      warnings.slice(0, 3).map((w) => w.fields),
      [1, 2, 3].map((attempt) => ({
        topic: "orders",
        partition: 0,
        offset: 5,
        attempt,
        retryInMs: 2 ** (attempt - 1),
        error: `attempt ${attempt} failed`,
      })),
    );
    await succeeded.wait;
    await consumer.close();
    assert.equal(attempts, failures + 1);
    assert.deepEqual(client.commits.filter((c) => c.partition === 0).map((c) => c.offset), [6], "committed once it succeeded");
    await kafka.close();
  },
);

test("with a finite retries, a handler that keeps failing is given to onError after them, then skipped and committed", { timeout: 20_000 }, async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: { warn() {}, error() {} } });
  let attempts = 0;
  const gaveUp: string[] = [];
  const done = new Countdown();
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {
    attempts++;
    throw new Error(`attempt ${attempts} failed`);
  }, {
    retries: 2,
    retryBackoffMs: 0,
    onError: (error, m) => {
      gaveUp.push(`${m.offset}: ${(error as Error).message}`);
      done.increment();
    },
  });
  await consumer.start();
  const client = driver.consumerClients[0]!;
  client.inbox.push(record(3));
  await done.reached(1);
  await consumer.close();
  assert.equal(attempts, 3);
  assert.deepEqual(gaveUp, ["3: attempt 3 failed"]);
  assert.deepEqual(client.commits.map((c) => c.offset), [4]);
  await kafka.close();
});

test("subscribe refuses onError without a finite retries (it would never be called) and a bad handlerTimeoutMs", () => {
  const kafka = createRegistry({ driver: new FakeDriver(), logger: { warn() {}, error() {} } });
  const consumer = kafka.consumer(ctx, "billing");
  const cases: Array<[object, RegExp]> = [
    [{ onError: () => {} }, /Topic "orders": onError is called only after a finite number of retries, and retries is not set .*set retries/],
    [{ onError: () => {}, retries: Infinity }, /Topic "orders": onError is called only after a finite number of retries, and retries is Infinity/],
    [{ handlerTimeoutMs: 0 }, /Topic "orders": handlerTimeoutMs must be a number of ms > 0 .* got 0/],
    [{ handlerTimeoutMs: 2 ** 31 }, /handlerTimeoutMs must be .* ≤ 2147483647, or Infinity, got 2147483648/],
    [{ handlerTimeoutMs: Number.NaN }, /handlerTimeoutMs .* got NaN/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => consumer.subscribe(orders, () => {}, options as SubscribeOptions), message, JSON.stringify(options));
  }
  assert.deepEqual(consumer.stats().topics, []);
  consumer.subscribe(orders, () => {}, { retries: Infinity, handlerTimeoutMs: Infinity });
  assert.deepEqual(consumer.stats().topics, ["orders"]);
  return kafka.close();
});

test(
  "an attempt running past handlerTimeoutMs fails with an error naming topic, partition, offset and the bound; its signal is aborted and the retry commits",
  { timeout: 20_000 },
  async () => {
    const driver = new FakeDriver();
    const logger = recordingLogger();
    const kafka = createRegistry({ driver, logger });
    const reasons: unknown[] = [];
    const done = new Countdown();
    let attempts = 0;
    const consumer = kafka.consumer(ctx, "billing").subscribe(orders, async (m) => {
      attempts++;
      if (attempts === 1) {
        // Stuck until its signal says stop (a fallback bound keeps a consumer without a timeout from hanging the test).
        await new Promise<void>((resolve) => {
          const fallback = setTimeout(resolve, 5_000);
          m.signal.addEventListener("abort", () => (clearTimeout(fallback), reasons.push(m.signal.reason), resolve()));
        });
        return;
      }
      assert.equal(m.signal.aborted, false, "a retry gets a signal of its own");
      done.increment();
    }, { handlerTimeoutMs: 50, retryBackoffMs: 0 });
    await consumer.start();
    const client = driver.consumerClients[0]!;
    client.inbox.push(record(7, 2));
    await done.reached(1);
    await consumer.close();
    assert.equal(reasons.length, 1, "the stuck attempt's signal was aborted");
    const reason = reasons[0] as Error;
    assert.equal(reason.name, "HandlerTimeoutError");
    assert.equal(reason.message, 'Handler of topic "orders" partition 2 offset 7 did not finish within handlerTimeoutMs (50 ms)');
    assert.equal(logger.lines.find((l) => l.message === "kshare: handler failed; retrying")?.fields?.error, reason.message);
    assert.deepEqual(client.commits.map((c) => [c.partition, c.offset]), [[2, 8]]);
    await kafka.close();
  },
);

test("close aborts the signal of a handler in progress (reason: ClosedError); its message is not committed", { timeout: 20_000 }, async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: { warn() {}, error() {} } });
  const started = gate();
  let reason: unknown;
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, async (m) => {
    started.open();
    await new Promise<void>((_, reject) => m.signal.addEventListener("abort", () => reject(reason = m.signal.reason)));
  });
  await consumer.start();
  const client = driver.consumerClients[0]!;
  client.inbox.push(record(0));
  await started.wait;
  await consumer.close();
  assert.ok(reason instanceof ClosedError, String(reason));
  assert.deepEqual(client.commits, []);
  await kafka.close();
});

test("waits leave no listener behind: 1,000 retries of a failing handler end with none on the consumer's close signal", { timeout: 20_000 }, async () => {
  const driver = new FakeDriver();
  const kafka = createRegistry({ driver, logger: { warn() {}, error() {} } });
  const done = new Countdown();
  let most = 0;
  const consumer = kafka.consumer(ctx, "billing").subscribe(orders, () => {
    // Between waits (the handler runs after one ended and before the next began) nothing may listen.
    most = Math.max(most, pendingAbortListeners());
    done.increment();
    throw new Error("always fails");
  }, { retryBackoffMs: 0 });
  await consumer.start();
  driver.consumerClients[0]!.inbox.push(record(0));
  await done.reached(1_000);
  assert.equal(most, 0, `${most} listeners left by earlier waits`);
  await consumer.close();
  assert.equal(pendingAbortListeners(), 0);
  await kafka.close();
});
