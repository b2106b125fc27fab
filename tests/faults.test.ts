// Fault injection (issue 13): records flow through the registry's shared producer and shared consumer
// while the embedded broker fails, and kcat reads the log as the independent judge. The scenarios
// live in bench/scenarios/faults.ts, shared with bench/reliability.ts (which runs them N times); its
// module doc says how the injected faults avoid the mock's implicit-acknowledgement artifact.
// Outage lengths are fixed (they are the fault); every other wait is for an event, and no assertion
// depends on speed.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { startEmbeddedBroker } from "../testing.ts";
import { coordinatorAndMembers, fatalProducer, type FaultResult, leaderOutage, overlappingRuns } from "../bench/scenarios/faults.ts";
import { quietLogger } from "./_helpers.ts";

// No initial rebalance delay: each scenario joins a fresh group. Request tracking finds the group coordinator.
const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();
after(() => broker.stop());
const logger = process.env.KSHARE_TEST_LOG ? console : quietLogger();

/** The promises every fault must keep, asserted one by one so a failure names the broken one. */
function assertNothingLost(result: FaultResult): void {
  const detail = JSON.stringify({ ...result, errorMessages: result.errorMessages.slice(0, 5) }, null, 1);
  assert.ok(result.acknowledged > 0, detail);
  assert.equal(result.implicitAcks, 0, `publishes resolved with an offset < 0: the mock's artifact, not kshare's ack\n${detail}`);
  assert.equal(result.foundByKcat, result.acknowledged, `acknowledged records missing from the log\n${detail}`);
  assert.equal(result.duplicates, 0, `records in the log more than once\n${detail}`);
  assert.equal(result.handled, result.acknowledged, `acknowledged records never handled\n${detail}`);
  assert.equal(result.logNotHandled, 0, `records in the log never handled\n${detail}`);
  assert.deepEqual(result.problems, [], detail);
}

test("the overlap check finds two members running one partition at once, and only that", () => {
  const run = (member: "A" | "B", partition: number, start: number, end: number) => ({ member, partition, offset: start, start, end });
  assert.deepEqual(overlappingRuns([run("A", 0, 1, 2), run("B", 0, 3, 4), run("A", 1, 3, 6), run("B", 0, 5, 6)]), []);
  const late = run("B", 0, 2, 4);
  assert.deepEqual(overlappingRuns([run("A", 0, 1, 3), late, run("A", 1, 2, 5)]), [late]);
});

test("a partition leader down for 3 s, then another: nothing acknowledged lost or doubled, all handled, no publish error", { timeout: 120_000 }, async () => {
  const result = await leaderOutage({ broker, logger });
  assert.notEqual(result.notes.firstLeader, result.notes.secondLeader, "the two outages hit two brokers");
  assertNothingLost(result);
  assert.equal(result.errors, 0, `an outage shorter than message.timeout.ms surfaced errors: ${result.errorMessages.join("; ")}`);
});

// The group scenario runs once; its revocation check is a test of its own, so that a failure names it.
let groupResult: FaultResult | undefined;
test("the coordinator down mid-stream, a second member joining and leaving: no record skipped, nothing acknowledged lost", { timeout: 120_000 }, async () => {
  groupResult = await coordinatorAndMembers({ broker, logger });
  const result = { ...groupResult, problems: groupResult.problems.filter((p) => !/overlapped|while the other member ran/.test(p)) };
  assert.ok(Number(result.notes.partitionsHandledByB) > 0, "member B took partitions over");
  assertNothingLost(result);
  assert.equal(result.errors, 0, result.errorMessages.join("; "));
});

test("...and no handler runs for a partition after its revocation completed", () => {
  assert.ok(groupResult, "the group scenario ran");
  assert.equal(groupResult.overlaps, 0, `a handler ran for a partition after its revocation completed: ${groupResult.problems.join("; ")}`);
});

test(
  "a fatal producer error: the handle is retired, the next producer() is a fresh client, stats count it, publishing goes on",
  { timeout: 120_000 },
  async () => {
    // The waits are for events that come within a second or two.
    const result = await fatalProducer({ broker, logger, waitBoundMs: 20_000 });
    assert.equal(result.notes.freshHandle, true, "registry.producer(ctx) gave a fresh, live handle");
    assert.equal(result.notes.clientsCreatedByFault, 1, "stats count exactly one new client");
    assert.equal(result.notes.liveProducers, 1);
    assert.ok(result.errors > 0, "the fatal error surfaced to publishes in flight");
    assert.ok(result.errorMessages.every((m) => /fatal|sequence/i.test(m)), result.errorMessages.join("; "));
    assert.equal(result.notes.errorsAfterRecovery, 0, "no publish failed once the fresh client was there");
    assertNothingLost(result);
  },
);
