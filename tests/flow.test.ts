// The consumer's flow control (src/_flow.ts) as pure bookkeeping, without a driver or a broker:
// when a topic is full, when it resumes, how large a poll may be, what a revocation drops.
// The consumer applying these rules against Kafka is tested in backpressure.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { defineTopic, type Topic } from "../mod.ts";
import type { IncomingMessage } from "../src/driver.ts";
import { batchLimit, drainedToResume, dropUnstarted, isFull, MAX_POLL_BATCH, queueOf, type Subscription } from "../src/_flow.ts";

function subscription(name: string, maxBuffered: number, buffered = 0, paused = false): Subscription {
  return {
    topic: defineTopic({ name, schema: v.unknown() }) as unknown as Topic,
    handler: () => {},
    options: {},
    maxBuffered,
    accepts: undefined,
    filtered: 0,
    partitions: new Map(),
    assigned: new Set(),
    buffered,
    peak: buffered,
    paused,
    pausedPartitions: new Set(),
    resumePending: false,
  };
}

function message(topic: string, partition: number, offset: number): IncomingMessage {
  return { topic, partition, offset, key: null, value: new Uint8Array(), headers: [] };
}

test("a poll may take no more than the smallest free room of the flowing topics, and at most MAX_POLL_BATCH", () => {
  assert.equal(batchLimit([]), 0, "nothing subscribed: nothing to poll for");
  assert.equal(batchLimit([subscription("a", 10_000)]), MAX_POLL_BATCH);
  assert.equal(batchLimit([subscription("a", 100, 40), subscription("b", 1000, 990)]), 10);
  assert.equal(batchLimit([subscription("a", 100, 40), subscription("b", 10, 10, true)]), 60, "a paused topic does not limit the others");
  assert.equal(batchLimit([subscription("a", 10, 10, true)]), 0, "every topic paused");
  assert.equal(batchLimit([subscription("a", 10, 12)]), 0, "over its bound (a pause that did not hold): never negative");
});

test("a topic is full at its bound and resumes once drained to half of it", () => {
  const sub = subscription("a", 9, 8);
  assert.equal(isFull(sub), false);
  sub.buffered = 9;
  assert.equal(isFull(sub), true);
  sub.paused = true;
  sub.buffered = 5;
  assert.equal(drainedToResume(sub), false, "9 / 2 rounds down to 4");
  sub.buffered = 4;
  assert.equal(drainedToResume(sub), true);
  sub.paused = false;
  assert.equal(drainedToResume(sub), false, "a flowing topic has nothing to resume");
});

test("a partition's queue is made once and starts owned, with nothing handled", () => {
  const sub = subscription("a", 10);
  const queue = queueOf(sub, 3);
  assert.equal(queueOf(sub, 3), queue);
  assert.notEqual(queueOf(sub, 4), queue);
  assert.deepEqual([queue.topic, queue.partition, queue.messages.length, queue.running, queue.handled], ["a", 3, 0, false, -1]);
  assert.equal(queue.owner.signal.aborted, false);
});

test("dropping a partition's unstarted messages keeps the one in progress and gives back their room", () => {
  const sub = subscription("a", 10);
  const queue = queueOf(sub, 0);
  for (let offset = 0; offset < 4; offset++) queue.messages.push(message("a", 0, offset));
  sub.buffered = 4;
  queue.running = true; // offset 0 is in its handler
  dropUnstarted(sub, queue);
  assert.deepEqual(queue.messages.map((m) => m.offset), [0]);
  assert.equal(sub.buffered, 1);
  queue.running = false;
  dropUnstarted(sub, queue);
  assert.equal(queue.messages.length, 0);
  assert.equal(sub.buffered, 0);
});
