/**
 * Counter checks of a run: what must hold whatever the machine's speed
 * (connections, clients, handles, answers), never a wall-clock threshold.
 * The smoke run fails on a broken one; the full run reports them.
 *
 * @module
 */
import type { Results } from "./_results.ts";

/** One checked claim. */
export interface Check {
  readonly ok: boolean;
  readonly text: string;
}

/** Check every counter invariant of `results`. */
export function checkCounters(results: Results): Check[] {
  const checks: Check[] = [];
  const check = (ok: boolean, text: string) => checks.push({ ok, text });

  for (const row of results.publish) {
    const where = `publish ${row.runtime} RTT ${row.rttMs} ms, ${row.callers} caller(s), ${row.mode} ${row.variant}`;
    if (row.result.ops < row.callers) check(false, `${where}: only ${row.result.ops} publishes`);
    if (row.mode === "shared") {
      check(
        row.measured.connections === 0 && row.result.clientsCreated === 0,
        `${where}: measured phase opened ${row.measured.connections} connections, created ${row.result.clientsCreated} clients (expected 0, 0)`,
      );
    } else {
      check(
        row.result.clientsCreated === row.result.ops && row.measured.connections >= row.result.ops,
        `${where}: ${row.result.ops} publishes created ${row.result.clientsCreated} clients and opened ${row.measured.connections} connections (expected one client and at least one connection each)`,
      );
    }
  }
  // One caller or many: the shared path sets up the same connections.
  for (const one of results.publish.filter((r) => r.mode === "shared" && r.callers === 1)) {
    for (
      const many of results.publish.filter((r) =>
        r.mode === "shared" && r.callers > 1 && r.runtime === one.runtime && r.rttMs === one.rttMs && r.variant === one.variant
      )
    ) {
      check(
        many.setup.connections + many.measured.connections === one.setup.connections + one.measured.connections,
        `publish ${one.runtime} RTT ${one.rttMs} ms ${one.variant}: shared connections with ${many.callers} callers = ${
          many.setup.connections + many.measured.connections
        }, with 1 caller = ${one.setup.connections + one.measured.connections} (expected equal)`,
      );
    }
  }
  for (const row of results.lookup) {
    check(row.result.sameHandle, `lookup ${row.runtime}: every lookup returned the same handle`);
  }
  for (const row of results.consume) {
    const where = `consume ${row.runtime} RTT ${row.rttMs} ms, ${row.topics} topic(s), ${row.mode}`;
    check(
      row.result.consumers === (row.mode === "shared" ? 1 : row.topics),
      `${where}: ${row.result.consumers} consumer clients (expected ${row.mode === "shared" ? 1 : row.topics})`,
    );
    check(row.result.topicsReached === row.topics, `${where}: first messages of ${row.result.topicsReached} of ${row.topics} topics handled`);
  }
  for (const row of results.http) {
    const where = `http ${row.runtime} ${row.app} ${row.connections} connections`;
    const answered = Object.entries(row.server.statuses);
    const bad = answered.filter(([status]) => Number(status) >= 300).reduce((sum, [, n]) => sum + n, 0);
    const good = answered.filter(([status]) => Number(status) < 300).reduce((sum, [, n]) => sum + n, 0);
    check(bad === 0 && good >= row.load.requests, `${where}: ${good} answers 2xx, ${bad} not, wrk counted ${row.load.requests}`);
    if (row.app === "naive") {
      check(row.server.clientsCreated >= row.load.requests, `${where}: ${row.server.clientsCreated} producers for ${row.load.requests} requests`);
    } else {
      check(
        row.server.clientsCreated === 0 && row.measured.connections === 0,
        `${where}: ${row.server.clientsCreated} producers created and ${row.measured.connections} connections opened under load (expected 0, 0)`,
      );
    }
  }
  return checks;
}
