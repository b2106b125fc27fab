// The turns of a publishRoutes app's streaming work (issue 15): whole turns for streams alone, back to back;
// short ones, each after a pause, while a request that is not a stream is under way or just ended. Pure logic,
// on a clock and a scheduler of the test's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Turns } from "../src/hono/_turns.ts";

function clocked(budgetMs = 1) {
  const clock = { ms: 1_000 };
  /** Whether each turn was deferred with a pause, in order. */
  const pauses: boolean[] = [];
  const turns = new Turns(budgetMs, () => clock.ms, (run, pause) => {
    pauses.push(pause);
    setTimeout(run, 0);
  });
  /** Take a turn at the clock's time; whether it is over `elapsed` ms later. */
  const overAfter = async (elapsed: number) => {
    await turns.take();
    clock.ms += elapsed;
    return turns.over();
  };
  return { clock, turns, overAfter, pauses };
}

test("streams alone get whole turns, without a pause between them", async () => {
  const { overAfter, pauses } = clocked();
  assert.equal(await overAfter(0.5), false);
  assert.equal(await overAfter(1), true);
  assert.deepEqual(pauses, [false, false]);
});

test("while a request that is not (yet known to be) a stream is under way, turns last an eighth, each after a pause", async () => {
  const { turns, overAfter, pauses } = clocked();
  const end = turns.urgent();
  assert.equal(await overAfter(0.15), true);
  assert.equal(await overAfter(0.1), false);
  assert.deepEqual(pauses, [true, true]);
  end(true); // it was a stream after all: whole turns again at once
  assert.equal(await overAfter(0.5), false);
  assert.deepEqual(pauses, [true, true, false]);
});

test("after a request that was not a stream ended, turns stay short for 100 ms, then are whole again", async () => {
  const { clock, turns, overAfter } = clocked();
  const end = turns.urgent();
  end(false);
  end(true); // a second call changes nothing
  assert.equal(await overAfter(0.15), true);
  clock.ms += 99;
  assert.equal(await overAfter(0.15), true);
  clock.ms += 1;
  assert.equal(await overAfter(0.15), false);
});

test("turns come round robin, in the order they were asked for", async () => {
  const { turns } = clocked();
  const order: string[] = [];
  await Promise.all(["a", "b", "c"].map((name) => turns.take().then(() => order.push(name))));
  assert.deepEqual(order, ["a", "b", "c"]);
});
