// Many live clients in one process: 200 producers and 20 consumers, each of its own security
// context (an isolation label apiece), against the embedded broker, with kcat as the independent
// reader. On Deno each client once held a thread of the runtime's blocking pool (32 threads,
// shared with file I/O and DNS) while it waited for librdkafka: past a few dozen clients no more
// connected, file reads and DNS lookups stalled, and closing never returned. Now one poll(2) waits
// for all of them (`_deno_poller.ts`, whose fd lifetimes the last test checks against a fake libc).
// Runs unchanged on the three runtimes (the default driver: FFI on Deno and Bun, Confluent on Node):
//
//   npx deno test -A tests/many_clients.test.ts
//   npx bun test tests/many_clients.test.ts
//   node --import tsx --test tests/many_clients.test.ts
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { lookup } from "node:dns/promises";
import * as v from "valibot";
import { createRegistry, defineTopic } from "../mod.ts";
import { startEmbeddedBroker } from "../testing.ts";
import { type PollerLibc, sharedPoller } from "../src/drivers/ffi/_deno_poller.ts";
import { Countdown, kcatRead, quietLogger } from "./_helpers.ts";

const PRODUCERS = 200;
const CONSUMERS = 20;

const broker = await startEmbeddedBroker({ brokers: 1, groupInitialRebalanceDelayMs: 0 });
// Every client stays live: no bound on contexts (the registry's default would close idle ones).
const options = { logger: quietLogger(), maxContexts: Infinity };
const kafka = createRegistry(options);
after(async () => {
  await kafka.close(); // already closed, unless the test failed before
  await broker.stop();
});

const base = { bootstrapServers: broker.bootstrapServers };
const Item = v.object({ id: v.string(), n: v.number() });

test(
  `${PRODUCERS} producers and ${CONSUMERS} consumers of distinct contexts connect, publish, consume, leave file I/O and DNS answering, and close`,
  { timeout: 60_000 },
  async () => {
    const name = "many-clients";
    broker.createTopic(name, 4);
    const items = defineTopic({ name, schema: Item, key: (item) => item.id });

    // Consumers first (each its own context and group), so all 220 clients are live at once.
    const consumers = Array.from({ length: CONSUMERS }, (_, i) => {
      const seen = new Set<string>();
      const done = new Countdown();
      const consumer = kafka.consumer({ ...base, isolation: `consumer-${i}` }, `many-${i}`).subscribe(items, (m) => {
        seen.add(m.value.id);
        done.increment();
      });
      return { consumer, seen, done };
    });
    await Promise.all(consumers.map((c) => c.consumer.start()));

    const producers = await Promise.all(
      Array.from({ length: PRODUCERS }, (_, i) => kafka.producer({ ...base, isolation: `producer-${i}` })),
    );
    assert.equal(new Set(producers.map((p) => p.fingerprint)).size, PRODUCERS);
    const contexts = Object.values(kafka.stats().contexts);
    assert.equal(contexts.filter((c) => c.liveProducers === 1).length, PRODUCERS);
    assert.equal(contexts.reduce((sum, c) => sum + c.liveConsumers, 0), CONSUMERS);

    // While every client is live and waiting for events, the runtime's own I/O still answers.
    const [self, localhost] = await Promise.all([readFile(new URL(import.meta.url), "utf8"), lookup("localhost")]);
    assert.match(self, /many live clients/i);
    assert.ok(localhost.address !== "");

    const reports = await Promise.all(producers.map((p, i) => p.publish(items, { id: `p-${i}`, n: i })));
    assert.equal(reports.length, PRODUCERS);
    await Promise.all(consumers.map((c) => c.done.reached(PRODUCERS)));
    for (const c of consumers) {
      assert.equal(c.done.count, PRODUCERS, "a record was handled twice");
      assert.equal(c.seen.size, PRODUCERS);
    }

    const records = await kcatRead(broker.bootstrapServers, name);
    assert.equal(records.length, PRODUCERS);
    assert.deepEqual(
      new Set(records.map((r) => r.key)),
      new Set(Array.from({ length: PRODUCERS }, (_, i) => `p-${i}`)),
    );

    await kafka.close();
    assert.equal(Object.values(kafka.stats().contexts).filter((c) => c.liveProducers + c.liveConsumers > 0).length, 0);
  },
);

/**
 * A libc whose pipes are counters and whose poll(2) is a Promise the test sees. Like the kernel it
 * hands out the lowest free fd number, so a number closed too early is soon watched for another
 * pipe; closing an fd that the poll in flight watches fails the test.
 */
function fakeLibc() {
  /** Open fds: a read end holds its unread byte count, a write end names its read end. */
  const fds = new Map<number, { unread: number } | { readEnd: number }>();
  let polling: { watched: number[]; view: DataView; resolve: (ready: number) => void } | undefined;
  const pollStarted: Array<{ count: number; resolve: () => void }> = [];
  const lowestFree = () => {
    let fd = 3;
    while (fds.has(fd)) fd++;
    return fd;
  };
  const unread = (fd: number) => {
    const end = fds.get(fd);
    return end !== undefined && "unread" in end ? end.unread : 0;
  };
  /** poll(2) returns once a watched fd is readable. */
  const settle = () => {
    if (!polling) return;
    const ready = polling.watched.filter((fd) => unread(fd) > 0);
    if (ready.length === 0) return;
    polling.watched.forEach((fd, i) => polling!.view.setInt16(i * 8 + 6, unread(fd) > 0 ? 1 : 0, true));
    const { resolve } = polling;
    polling = undefined; // returned: its fds may be closed from now on
    resolve(ready.length);
  };
  const libc: PollerLibc = {
    pipe() {
      const readFd = lowestFree();
      fds.set(readFd, { unread: 0 });
      const writeFd = lowestFree();
      fds.set(writeFd, { readEnd: readFd });
      return [readFd, writeFd];
    },
    read(fd, buffer) {
      const end = fds.get(fd);
      assert.ok(end && "unread" in end, `read of fd ${fd}, not an open read end`);
      const n = Math.min(end.unread, buffer.length);
      end.unread -= n;
      return n > 0 ? n : -1; // EAGAIN when empty
    },
    write(fd, buffer) {
      const end = fds.get(fd);
      assert.ok(end && "readEnd" in end, `write to fd ${fd}, not an open write end`);
      (fds.get(end.readEnd) as { unread: number }).unread += buffer.length;
      settle();
      return buffer.length;
    },
    close(fd) {
      assert.ok(fds.has(fd), `fd ${fd} closed twice`);
      assert.ok(!polling?.watched.includes(fd), `fd ${fd} closed while the poll in flight watches it`);
      fds.delete(fd);
    },
    poll(buffer, count) {
      assert.equal(polling, undefined, "a second poll while one is in flight");
      const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const watched = Array.from({ length: count }, (_, i) => view.getInt32(i * 8, true));
      return new Promise((resolve) => {
        polling = { watched, view, resolve };
        for (const waiter of pollStarted.filter((w) => w.count === count)) {
          pollStarted.splice(pollStarted.indexOf(waiter), 1);
          waiter.resolve();
        }
        settle();
      });
    },
  };
  return {
    libc,
    /** Resolves when a poll of `count` fds is in flight (at once if one is). */
    pollOf: (count: number): Promise<void> =>
      polling?.watched.length === count ? Promise.resolve() : new Promise((resolve) => pollStarted.push({ count, resolve })),
    watched: () => polling?.watched ?? [],
    /** What librdkafka does when a queue gets an event. */
    writeByte: (fd: number) => libc.write(fd, new Uint8Array([1])),
    polling: () => polling !== undefined,
    openFds: () => fds.size,
  };
}

test(
  "one poll watches every wake-up pipe; a wake-up reaches its own pipe; no fd is closed under the poll; none is in flight once all are closed",
  { timeout: 10_000 },
  async () => {
    const fake = fakeLibc();
    const wakePipe = sharedPoller(fake.libc);
    const woken = Array.from({ length: 100 }, () => new Countdown());
    const pipes = woken.map((count) => wakePipe(() => count.increment()));
    // The control pipe and the 100 pipes, in one poll.
    await fake.pollOf(101);
    assert.equal(new Set(fake.watched()).size, 101);

    fake.writeByte(pipes[42]!.writeFd);
    fake.writeByte(pipes[42]!.writeFd); // before it was drained: still one wake-up
    await woken[42]!.reached(1);
    assert.equal(woken.reduce((sum, c) => sum + c.count, 0), 1);

    // Half the pipes go while a poll is in flight; new ones take fd numbers as they come free.
    await fake.pollOf(101);
    const wokenBefore = woken.map((c) => c.count);
    for (const pipe of pipes.slice(0, 50)) pipe.close();
    const late = new Countdown();
    const newer = wakePipe(() => late.increment());
    fake.writeByte(newer.writeFd);
    await late.reached(1);
    fake.writeByte(pipes[99]!.writeFd);
    await woken[99]!.reached(1);
    assert.deepEqual(woken.slice(0, 99).map((c) => c.count), wokenBefore.slice(0, 99), "another pipe was woken");

    for (const pipe of [...pipes.slice(50), newer]) pipe.close();
    pipes[0]!.close(); // twice: nothing more
    // Once the poll in flight returned (a few promise turns), nothing is polled and only the control pipe is open.
    for (let turn = 0; turn < 100 && (fake.polling() || fake.openFds() > 2); turn++) await Promise.resolve();
    assert.equal(fake.polling(), false);
    assert.equal(fake.openFds(), 2);
  },
);
