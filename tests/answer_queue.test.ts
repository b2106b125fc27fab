// A streaming request's answers (src/hono/_answer_queue.ts), without a gateway: in request
// order as they settle, and the window its publishing loop waits on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AnswerQueue } from "../src/hono/_answer_queue.ts";
import type { RecordOutcome } from "../src/hono/responses.ts";

function deferred(): { promise: Promise<RecordOutcome>; settle: (status: 400 | 429) => void } {
  let settle!: (status: 400 | 429) => void;
  const promise = new Promise<RecordOutcome>((resolve) => {
    settle = (status) => resolve({ status, body: { error_code: status, message: `record ${status}` } });
  });
  return { promise, settle };
}

test("outcomes are handed out in request order, each once, as they settle", async () => {
  const answers = new AnswerQueue();
  const [a, b] = [deferred(), deferred()];
  answers.push(a.promise);
  answers.push(b.promise);
  answers.end();
  b.settle(429); // the second settles first: nothing is handed out before the first
  await Promise.resolve();
  assert.equal(answers.shift(), undefined);
  a.settle(400);
  assert.equal(await answers.settled(), true);
  assert.equal((answers.shift() as { status: number }).status, 400);
  assert.equal((answers.shift() as { status: number }).status, 429);
  assert.equal(answers.shift(), undefined);
  assert.equal(await answers.settled(), false, "ended, and every outcome handed out");
});

test("the window: below(n) waits while n outcomes are unsettled, and resolves when one settles", async () => {
  const answers = new AnswerQueue();
  const pending = [deferred(), deferred(), deferred()];
  assert.equal(answers.below(3), undefined);
  for (const p of pending) answers.push(p.promise);
  assert.equal(answers.below(4), undefined, "3 unsettled is below 4");
  const room = answers.below(3);
  assert.ok(room instanceof Promise, "3 unsettled: the loop must wait");
  let resolved = false;
  void room.then(() => (resolved = true));
  pending[2]!.settle(400); // any one settling makes room, in order or not
  await room;
  assert.equal(resolved, true);
  assert.equal(answers.below(3), undefined);
});
