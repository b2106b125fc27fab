/**
 * Reliability: N rounds of each fault of `bench/scenarios/faults.ts` (the
 * scenarios `tests/faults.test.ts` asserts once each) on the runtime this
 * runs on, against one embedded broker (a fresh topic and group per round),
 * and one table row per fault: rounds, records acknowledged, found by kcat,
 * duplicates, handled, errors surfaced, overlapping handler runs, and the
 * rounds that broke a promise.
 *
 *   npx deno run -A bench/reliability.ts --rounds 20
 *   npx bun bench/reliability.ts --rounds 20
 *   node --import tsx bench/reliability.ts --rounds 20
 *
 * Options: --rounds N (20)  --faults a,b,c (every fault: leader-outage,
 * coordinator-and-members, fatal-producer)  --wait-bound-ms N (30 000:
 * a round waiting longer for an event fails, naming it)  --json (the table
 * as one JSON line, for `run_all.ts`)
 *
 * Exit code 0 when every round of every fault kept every promise, 1 otherwise.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { startEmbeddedBroker } from "../testing.ts";
import { type FaultName, type FaultResult, faults } from "./scenarios/faults.ts";
import { runtimeName, runtimeVersion } from "./_child.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: "string", default: "20" },
    faults: { type: "string", default: Object.keys(faults).join(",") },
    json: { type: "boolean", default: false },
    "wait-bound-ms": { type: "string", default: "30000" },
  },
});
const rounds = Number(values.rounds);
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new TypeError(`--rounds must be a whole number ≥ 1, got ${values.rounds}`);
const chosen = values.faults.split(",").map((name) => name.trim()) as FaultName[];
for (const name of chosen) if (!(name in faults)) throw new TypeError(`--faults: unknown fault "${name}" (known: ${Object.keys(faults).join(", ")})`);

const runtime = `${runtimeName()} ${runtimeVersion()}`;
const broker = await startEmbeddedBroker({ brokers: 3, groupInitialRebalanceDelayMs: 0 });
broker.startRequestTracking();

interface Row {
  fault: FaultName;
  rounds: number;
  acknowledged: number;
  foundByKcat: number;
  duplicates: number;
  handled: number;
  errors: number;
  overlaps: number;
  failedRounds: number;
  seconds: number;
}

const rows: Row[] = [];
const problems: string[] = [];
for (const fault of chosen) {
  const row: Row = { fault, rounds: 0, acknowledged: 0, foundByKcat: 0, duplicates: 0, handled: 0, errors: 0, overlaps: 0, failedRounds: 0, seconds: 0 };
  const started = performance.now();
  for (let round = 1; round <= rounds; round++) {
    let result: FaultResult;
    try {
      result = await faults[fault]({ broker, waitBoundMs: Number(values["wait-bound-ms"]) });
    } catch (error) {
      row.rounds++;
      row.failedRounds++;
      problems.push(`${fault} round ${round}: ${(error as Error).message}`);
      continue;
    }
    row.rounds++;
    row.acknowledged += result.acknowledged;
    row.foundByKcat += result.foundByKcat;
    row.duplicates += result.duplicates;
    row.handled += result.handled;
    row.errors += result.errors;
    row.overlaps += result.overlaps;
    // Fault c surfaces the fatal error to the publishes in flight on purpose; a and b must surface none.
    const unexpectedErrors = fault === "fatal-producer" ? Number(result.notes.errorsAfterRecovery ?? 0) : result.errors;
    if (result.problems.length > 0 || unexpectedErrors > 0) {
      row.failedRounds++;
      problems.push(`${fault} round ${round}: ${[...result.problems, ...result.errorMessages].slice(0, 3).join("; ")}`);
    }
    process.stderr.write(`${fault} ${round}/${rounds}: ${result.acknowledged} acknowledged, ${result.problems.length} problems\n`);
  }
  row.seconds = (performance.now() - started) / 1000;
  rows.push(row);
}
await broker.stop();

if (values.json) {
  console.log(JSON.stringify({ runtime, rows, problems }));
  process.exit(problems.length === 0 ? 0 : 1);
}
console.log(
  "| fault | runtime | rounds | records acknowledged | found by kcat | duplicates | handled | errors surfaced | overlapping handler runs | rounds failed |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.fault} | ${runtime} | ${r.rounds} | ${r.acknowledged} | ${r.foundByKcat} | ${r.duplicates} | ${r.handled} | ${r.errors} | ${r.overlaps} | ${r.failedRounds} |`,
  );
}
for (const line of problems) console.log(`- ${line}`);
process.exit(problems.length === 0 ? 0 : 1);
