// Timeouts that share a runtime timer per length (publish deadlines): each fires once, in the order it comes
// due, not before its delay; a stopped one never fires; no timer stays armed once none is pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Timeouts } from "../src/_timeouts.ts";

test("timeouts fire in the order they come due, each not before its delay, stopped ones never", async () => {
  const timeouts = new Timeouts();
  const fired: string[] = [];
  const started = performance.now();
  const elapsed = new Map<string, number>();
  let last!: () => void;
  const done = new Promise<void>((resolve) => (last = resolve));
  const at = (name: string, ms: number, then?: () => void) =>
    timeouts.start(ms, () => {
      fired.push(name);
      elapsed.set(name, performance.now() - started);
      then?.();
    });
  at("b", 20);
  const stopped = at("stopped", 10);
  at("a", 10);
  at("c", 20);
  at("d", 40, last);
  assert.equal(timeouts.armed, 3, "one runtime timer per length");
  timeouts.stop(stopped);
  timeouts.stop(stopped); // harmless twice
  await done;
  assert.deepEqual(fired, ["a", "b", "c", "d"]);
  // Timers round to whole milliseconds: a timeout may come due within one of its delay, never earlier.
  for (const [name, ms] of [["a", 10], ["b", 20], ["c", 20], ["d", 40]] as const) {
    assert.ok(elapsed.get(name)! >= ms - 1, `${name} fired after ${elapsed.get(name)} ms, before its ${ms} ms`);
  }
  assert.equal(timeouts.armed, 0, "no timer left armed");
});

test("stopping every pending timeout of a length disarms its timer at once", () => {
  const timeouts = new Timeouts();
  const never = () => assert.fail("a stopped timeout fired");
  const first = timeouts.start(60_000, never);
  const second = timeouts.start(60_000, never);
  assert.equal(timeouts.armed, 1);
  timeouts.stop(first);
  assert.equal(timeouts.armed, 1, "the second is still pending");
  timeouts.stop(second);
  assert.equal(timeouts.armed, 0, "nothing keeps the process alive");
});

test("a timeout whose first entry was stopped fires at its own time", async () => {
  const timeouts = new Timeouts();
  const fired: string[] = [];
  let last!: () => void;
  const done = new Promise<void>((resolve) => (last = resolve));
  const head = timeouts.start(5, () => fired.push("head"));
  timeouts.start(5, () => fired.push("second"));
  timeouts.start(15, () => {
    fired.push("later");
    last();
  });
  timeouts.stop(head);
  await done;
  assert.deepEqual(fired, ["second", "later"]);
});
