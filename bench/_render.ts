/**
 * A run's {@link Results} as Markdown tables and as the chart (not part of
 * kshare's API). Figures only: what they mean is written by hand in the
 * RESULTS files.
 *
 * @module
 */
import type { RuntimeName } from "./_child.ts";
import { int, mib } from "./_util.ts";
import type { Check } from "./scenarios/_checks.ts";
import type { PublishRow, Results, ThroughputSample } from "./scenarios/_results.ts";

/** Rates: whole numbers from 100 up, one decimal below. */
const rate = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "–" : n >= 100 ? int(n) : n.toFixed(1));
/** Milliseconds with three significant digits at most. */
const ms = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? "–" : n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
/** A ratio as `123×` or `4.5×`. */
const times = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "–" : n >= 10 ? `${int(n)}×` : `${n.toFixed(1)}×`);
const ns = (n: number) => `${n >= 100 ? int(n) : n.toFixed(1)} ns`;
const seconds = (s: number | null | undefined) => (s === null || s === undefined ? "timed out" : s.toFixed(2));
const LABEL: Record<RuntimeName | "C", string> = { deno: "Deno", bun: "Bun", node: "Node", C: "C" };

/** A Markdown table: the first column left-aligned, the others right. */
function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
  ];
}

/** shared ops/s ÷ per-message ops/s of one (runtime, RTT, callers, settings), when both ran. */
export function publishRatio(results: Results, runtime: RuntimeName, rttMs: number, callers: number, variant = "defaults"): number | undefined {
  const find = (mode: string) =>
    results.publish.find((r) => r.runtime === runtime && r.rttMs === rttMs && r.callers === callers && r.variant === variant && r.mode === mode);
  const shared = find("shared");
  const recreated = find("recreated");
  return shared && recreated ? shared.result.opsPerSecond / recreated.result.opsPerSecond : undefined;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One row per throughput id: its median msg/s and highest peak RSS over the rounds. */
export function throughputRows(samples: readonly ThroughputSample[]): Array<ThroughputSample & { rounds: number[] }> {
  const ids = [...new Set(samples.map((s) => s.id))];
  return ids.map((id) => {
    const runs = samples.filter((s) => s.id === id);
    const cpu = runs.every((s) => s.cpuSeconds !== undefined) ? median(runs.map((s) => s.cpuSeconds! / s.seconds)) : undefined;
    return {
      ...runs[0]!,
      messagesPerSecond: median(runs.map((s) => s.messagesPerSecond)),
      peakRssBytes: Math.max(...runs.map((s) => s.peakRssBytes)),
      cpuSeconds: cpu,
      rounds: runs.map((s) => s.messagesPerSecond),
    };
  });
}

/** The targets of issues 3, 5 and 16, as measured: reported, never enforced. */
function targets(results: Results): Array<[string, string, string, boolean]> {
  const out: Array<[string, string, string, boolean]> = [];
  const { runtimes } = results.plan;
  for (const runtime of runtimes) {
    for (const callers of results.plan.publish.callers) {
      const ratio = publishRatio(results, runtime, 0, callers);
      if (ratio !== undefined) out.push([`shared ≥ 100× per-message publishes/s, RTT 0, ${callers} caller(s)`, LABEL[runtime], times(ratio), ratio >= 100]);
    }
    const single = results.publish.find((r) => r.runtime === runtime && r.rttMs === 0 && r.callers === 1 && r.mode === "shared" && r.variant === "defaults");
    if (single) {
      const { p50Ms, p99Ms } = single.result;
      out.push(["single awaited publish p50 ≤ 1 ms, p99 ≤ 5 ms (RTT 0)", LABEL[runtime], `${ms(p50Ms)} / ${ms(p99Ms)} ms`, p50Ms <= 1 && p99Ms <= 5]);
    }
    const lookup = results.lookup.find((l) => l.runtime === runtime)?.result;
    if (lookup) {
      const ratio = lookup.sameObjectNs / lookup.moduleVariableAwaitNs;
      out.push(["warm lookup ≤ 2× an awaited variable (same ctx)", LABEL[runtime], times(ratio), ratio <= 2]);
      out.push(["warm lookup < 1 µs (equal new ctx)", LABEL[runtime], ns(lookup.equalObjectNs), lookup.equalObjectNs < 1000]);
    }
    for (const rttMs of results.plan.consume.rtts) {
      const most = Math.max(...results.plan.consume.topicCounts);
      const find = (topics: number, mode: string) =>
        results.consume.find((c) => c.runtime === runtime && c.rttMs === rttMs && c.topics === topics && c.mode === mode);
      const [one, shared, separate] = [find(1, "shared"), find(most, "shared"), find(most, "separate")];
      if (!one || !shared || !separate) continue;
      const [a, b] = [shared.result.firstMessagesSeconds, separate.result.firstMessagesSeconds];
      out.push([
        `one consumer for ${most} topics: no more connections than for 1, sooner than ${most} consumers (RTT ${rttMs})`,
        LABEL[runtime],
        `${shared.measured.connections} vs ${one.measured.connections} connections, ${seconds(a)} vs ${seconds(b)} s`,
        shared.measured.connections <= one.measured.connections && a !== null && (b === null || a < b),
      ]);
    }
    for (const connections of results.plan.http.connections) {
      const rps = (app: string) => results.http.find((h) => h.runtime === runtime && h.connections === connections && h.app === app)?.load.requestsPerSecond;
      const [gateway, bare, naive] = [rps("gateway"), rps("bare"), rps("naive")];
      if (gateway === undefined || bare === undefined || naive === undefined) continue;
      out.push([
        `gateway ≥ 50% of bare and ≥ 20× naive req/s, ${connections} connections`,
        LABEL[runtime],
        `${(100 * gateway / bare).toFixed(0)}%, ${times(gateway / naive)}`,
        gateway >= bare / 2 && gateway >= 20 * naive,
      ]);
    }
  }
  const rows = throughputRows(results.throughput);
  const row = (id: string) => rows.find((r) => r.id === id);
  const [kcat, confluent] = [row("kcat"), row("node-confluent")];
  for (const r of rows.filter((r) => r.mode === "awaited" && r.lingerMs === 5)) {
    out.push(["throughput ≥ 160,000 msg/s (issue 3's Node + Confluent reference)", r.id, int(r.messagesPerSecond), r.messagesPerSecond >= 160_000]);
    if (r.driver.startsWith("ffi") && kcat) {
      out.push(["FFI throughput ≥ ½ kcat -P", r.id, times(r.messagesPerSecond / kcat.messagesPerSecond), r.messagesPerSecond >= kcat.messagesPerSecond / 2]);
    }
    if (r.driver.startsWith("ffi") && confluent) {
      out.push([
        "FFI throughput ≥ Node + Confluent",
        r.id,
        times(r.messagesPerSecond / confluent.messagesPerSecond),
        r.messagesPerSecond >= confluent.messagesPerSecond,
      ]);
    }
  }
  for (const r of rows.filter((r) => r.mode === "forget" && r.runtime !== "node")) {
    if (kcat) {
      out.push([
        "publishAndForget ≥ 0.8 × kcat -P (issue 16)",
        r.id,
        times(r.messagesPerSecond / kcat.messagesPerSecond),
        r.messagesPerSecond >= 0.8 * kcat.messagesPerSecond,
      ]);
    }
  }
  return out;
}

/** A script's JSON value as a table cell: bytes as MiB, seconds and percentages with two decimals, lists joined. */
function cell(key: string, value: unknown): string {
  if (typeof value === "number") {
    if (/Bytes$/.test(key)) return mib(value);
    return Number.isInteger(value) || Math.abs(value) >= 100 ? int(value) : value.toFixed(2);
  }
  if (Array.isArray(value)) return value.length ? value.join("; ").replaceAll("|", "/") : "–";
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} × ${v}`).join(", ");
  return value === undefined || value === null ? "–" : String(value).replaceAll("|", "/");
}

/** The whole Markdown of a run. */
export function renderResults(results: Results, checks: readonly Check[], chartFile: string): string {
  const { plan } = results;
  const L: string[] = [];
  const p = (...lines: string[]) => L.push(...lines);
  p(`# kshare benchmarks${results.smoke ? " (smoke run: tiny N, figures meaningless)" : ""}`, "");
  p(`- Command: \`${results.command}\`, ${results.startedAt}, ${(results.seconds / 60).toFixed(1)} min.`);
  p(`- Machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memory} RAM, ${results.machine.os}.`);
  p(`- Load average (1, 5, 15 min): ${results.loadBefore.map((n) => n.toFixed(2)).join(", ")} before, ${
    results.loadAfter?.map((n) => n.toFixed(2)).join(", ")
  } after.`);
  p(`- Versions: ${Object.entries(results.versions).map(([name, version]) => `${name} ${version}`).join("; ")}.`);
  p(`- Broker: the embedded broker (${plan.brokers} brokers) in the runner's process; topics of ${plan.partitions} partitions; 100-byte messages.`, "");

  if (results.publish.length) {
    p(`![shared vs per-message publishes/s per runtime and RTT](${chartFile})`, "");
    p("## Publish one message and await its delivery report", "");
    p(
      `Shared: at most ${int(plan.publish.shared.maxOps)} publishes or ${plan.publish.shared.maxSeconds} s; per message: ${
        int(plan.publish.recreated.maxOps)
      } or ${plan.publish.recreated.maxSeconds} s.`,
      "",
    );
    const cells = plan.publish.rtts.flatMap((rtt) => plan.publish.callers.map((c) => [rtt, c] as const));
    p(...table(
      ["runtime", "settings", ...cells.map(([rtt, c]) => `shared ÷ per message, RTT ${rtt}, ${c} caller(s)`)],
      plan.runtimes.flatMap((runtime) =>
        (["defaults", "no-idempotence"] as const).map((
          variant,
        ) => [LABEL[runtime], variant, ...cells.map(([rtt, c]) => times(publishRatio(results, runtime, rtt, c, variant)))])
      ),
    ));
    p(...table(
      [
        "runtime",
        "RTT",
        "callers",
        "producer",
        "settings",
        "publishes",
        "publishes/s",
        "p50 ms",
        "p99 ms",
        "connections (setup + measured)",
        "clients created",
        "threads (end / peak)",
        "peak RSS",
      ],
      results.publish.map((r: PublishRow) => [
        LABEL[r.runtime],
        r.rttMs,
        r.callers,
        r.mode === "shared" ? "shared" : "per message",
        r.variant,
        int(r.result.ops),
        rate(r.result.opsPerSecond),
        ms(r.result.p50Ms),
        ms(r.result.p99Ms),
        `${r.setup.connections} + ${int(r.measured.connections)}`,
        int(r.result.clientsCreated),
        `${r.result.threads} / ${r.result.peakThreads}`,
        mib(r.result.peakRssBytes),
      ]),
    ));
  }
  if (results.lookup.length) {
    p(
      "## Registry lookup",
      "",
      `Median of ${plan.lookup.batches} batches of ${int(plan.lookup.iterations)} lookups; idle CPU over ${plan.lookup.idleSeconds} s.`,
      "",
    );
    p(...table(
      ["runtime", "same ctx object", "equal new object", "`await variable`", "plain variable read", "same ÷ awaited variable", "idle CPU"],
      results.lookup.map(({ runtime, result: r }) => [
        LABEL[runtime],
        ns(r.sameObjectNs),
        ns(r.equalObjectNs),
        ns(r.moduleVariableAwaitNs),
        ns(r.moduleVariableReadNs),
        times(r.sameObjectNs / r.moduleVariableAwaitNs),
        `${r.idleCpuPercent.toFixed(2)}%`,
      ]),
    ));
  }
  if (results.consume.length) {
    const settings = Object.entries(plan.consume.consumer).map(([k, v]) => `\`${k}=${v}\``).join(", ");
    p("## Consuming N topics in one group", "", `Consumer settings: ${settings}; bounded at ${plan.consume.timeoutMs / 1000} s.`, "");
    p(...table(
      [
        "runtime",
        "RTT",
        "topics",
        "consumers",
        "first message of every topic (s)",
        "assignments",
        "JoinGroup requests",
        "connections",
        "threads (end / peak)",
        "peak RSS",
        "close (s)",
      ],
      results.consume.map((r) => [
        LABEL[r.runtime],
        r.rttMs,
        r.topics,
        r.mode === "shared" ? "1 shared" : `${r.result.consumers} separate`,
        seconds(r.result.firstMessagesSeconds),
        r.result.assignments,
        r.measured.joinGroups,
        r.measured.connections,
        `${r.result.threads} / ${r.result.peakThreads}`,
        mib(r.result.peakRssBytes),
        r.result.closeSeconds.toFixed(2),
      ]),
    ));
  }
  if (results.http.length) {
    p("## HTTP: the gateway's publish endpoint", "", `\`wrk -t1\` on loopback, ${plan.http.seconds} s per run after a warm-up.`, "");
    p(...table(
      [
        "runtime",
        "app",
        "connections",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors (non-2xx + socket)",
        "producers created",
        "broker connections",
        "threads (peak)",
        "peak RSS",
      ],
      results.http.map((r) => [
        LABEL[r.runtime],
        r.app,
        r.connections,
        int(r.load.requests),
        rate(r.load.requestsPerSecond),
        ms(r.load.p50Ms),
        ms(r.load.p99Ms),
        r.load.non2xx + r.load.socketErrors,
        int(r.server.clientsCreated),
        int(r.measured.connections),
        r.server.peakThreads,
        mib(r.server.peakRssBytes),
      ]),
    ));
  }
  if (results.httpLayers.length) {
    const names = results.httpLayers[0]!.layers.map((l) => l.layer);
    p(`In-process, layer by layer (\`bench/http_layers.ts\`, ${plan.http.layerSeconds} s per layer), req/s:`, "");
    p(...table(
      ["runtime", ...names],
      results.httpLayers.map(({ runtime, layers }) => [LABEL[runtime], ...names.map((n) => rate(layers.find((l) => l.layer === n)?.requestsPerSecond))]),
    ));
  }
  if (results.throughput.length) {
    const rows = throughputRows(results.throughput);
    const base = (id: string) => rows.find((r) => r.id === id)?.messagesPerSecond;
    p(`## Throughput: ${int(plan.throughput.messages)} × 100 B`, "");
    p(
      `acks=all, idempotence; awaited rows keep at most ${
        int(plan.throughput.inFlight)
      } publishes in flight; ${plan.throughput.repeat} round(s), median msg/s.`,
      "",
    );
    p(...table(
      ["row", "runtime", "driver", "publish", "linger.ms", "msg/s", "MB/s", "CPU (cores)", "peak RSS", "vs node-confluent", "vs kcat", "rounds (msg/s)"],
      rows.map((r) => [
        r.id,
        LABEL[r.runtime],
        r.driver,
        r.mode,
        r.lingerMs,
        int(r.messagesPerSecond),
        (r.messagesPerSecond / 1e4).toFixed(1),
        r.cpuSeconds === undefined ? "–" : r.cpuSeconds.toFixed(2),
        r.peakRssBytes > 0 ? mib(r.peakRssBytes) : "–",
        times(r.messagesPerSecond / base("node-confluent")!),
        times(r.messagesPerSecond / base("kcat")!),
        r.rounds.map(int).join(" / "),
      ]),
    ));
  }
  for (const step of new Set(results.scripts.map((s) => s.step))) {
    const rows = results.scripts.filter((s) => s.step === step);
    // A script's result is one object per runtime, or (faults) a list of rows under `rows`.
    const flat = rows.flatMap((s) => {
      const list = (s.result?.rows as Array<Record<string, unknown>> | undefined) ?? [s.result ?? {}];
      return list.map((row) => ({ runtime: s.runtime, exit: s.code, ...row, ...(s.result?.rows ? { problems: s.result.problems } : {}) }));
    });
    const keys = [...new Set(flat.flatMap((row) => Object.keys(row)))].filter((k) => k !== "rows");
    p(`## ${step}`, "", `Arguments: \`${plan.scripts[step]?.join(" ") || "(defaults)"}\`; exit 0 when the script met what it checks.`, "");
    const head = keys.map((k) => k.replace(/Bytes$/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase());
    p(...table(head, flat.map((row) => keys.map((k) => cell(k, (row as Record<string, unknown>)[k])))));
  }
  const measured = targets(results);
  if (measured.length) {
    p("## Targets", "", "Reported, never enforced: wall-clock thresholds do not belong in CI.", "");
    p(...table(["target", "runtime", "measured", "met"], measured.map(([t, r, m, ok]) => [t, r, m, ok ? "✓" : "✗"])));
  }
  const failed = checks.filter((c) => !c.ok);
  p("## Counter checks", "", `${checks.length - failed.length} of ${checks.length} hold.`, ...failed.map((c) => `- ✗ ${c.text}`), "");
  if (results.failures.length) p("Runs that failed:", ...results.failures.map((f) => `- ${f.split("\n")[0]}`), "");
  return L.join("\n");
}

const COLORS: Record<RuntimeName, string> = { deno: "#2f6f4f", bun: "#c47f17", node: "#3b6bb5" };
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The chart: shared ÷ per-message publishes/s (kshare's defaults) per runtime
 * and RTT, one panel per caller count, bars on a log scale, the 100× target
 * dashed. Hand-written SVG, no dependency.
 */
export function renderChart(results: Results): string {
  const { runtimes } = results.plan;
  const { rtts, callers } = results.plan.publish;
  const ratio = (runtime: RuntimeName, rtt: number, count: number) => publishRatio(results, runtime, rtt, count);
  const all = runtimes.flatMap((r) => rtts.flatMap((rtt) => callers.map((c) => ratio(r, rtt, c)))).filter((x): x is number => x !== undefined && x > 0);
  const top = 10 ** Math.max(3, Math.ceil(Math.log10(Math.max(1, ...all))));
  const bottom = 10 ** Math.min(0, Math.floor(Math.log10(Math.min(1, ...all))));
  const [panelW, panelH, left, topPad, gap] = [400, 260, 60, 70, 40];
  const width = left + callers.length * (panelW + gap) + 10;
  const height = topPad + panelH + 70;
  const y = (v: number) => topPad + panelH * (1 - (Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom)));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="15" font-weight="bold">Shared producer ÷ producer per message: publishes/s (kshare's defaults, log scale)</text>`,
    `<text x="${left}" y="38" fill="#555">${
      esc(`${results.startedAt.slice(0, 10)}, ${results.machine.cores} cores; dashed: the 100× target of issue 5 at RTT 0`)
    }</text>`,
  ];
  callers.forEach((count, panel) => {
    const x0 = left + panel * (panelW + gap);
    out.push(`<text x="${x0 + panelW / 2}" y="${topPad - 14}" text-anchor="middle" font-weight="bold">${count} caller${count > 1 ? "s" : ""}</text>`);
    for (let v = bottom; v <= top; v *= 10) {
      out.push(
        `<line x1="${x0}" x2="${x0 + panelW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
        `<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v >= 1 ? v : v.toFixed(1)}×</text>`,
      );
    }
    out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y(100)}" y2="${y(100)}" stroke="#b22" stroke-dasharray="5,4"/>`);
    const groupW = panelW / rtts.length;
    const barW = Math.min(32, (groupW - 20) / runtimes.length);
    rtts.forEach((rtt, g) => {
      const gx = x0 + g * groupW + (groupW - barW * runtimes.length) / 2;
      runtimes.forEach((runtime, i) => {
        const r = ratio(runtime, rtt, count);
        const bx = gx + i * barW;
        if (r === undefined) return void out.push(`<text x="${bx + barW / 2}" y="${topPad + panelH - 4}" text-anchor="middle" fill="#999">–</text>`);
        const v = Math.max(bottom, r);
        const label = r >= 10 ? Math.round(r).toString() : r.toFixed(1);
        out.push(
          `<rect x="${bx + 2}" y="${y(v)}" width="${barW - 4}" height="${topPad + panelH - y(v)}" fill="${COLORS[runtime]}"><title>${
            esc(`${LABEL[runtime]}, RTT ${rtt} ms, ${count} caller(s): ${label}×`)
          }</title></rect>`,
          `<text x="${bx + barW / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${label}</text>`,
        );
      });
      out.push(`<text x="${x0 + g * groupW + groupW / 2}" y="${topPad + panelH + 18}" text-anchor="middle">RTT ${rtt} ms</text>`);
    });
    out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${topPad + panelH}" y2="${topPad + panelH}" stroke="#333"/>`);
  });
  runtimes.forEach((runtime, i) => {
    const [lx, ly] = [left + i * 160, topPad + panelH + 44];
    const driver = runtime === "node" ? "Confluent" : "FFI";
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[runtime]}"/>`,
      `<text x="${lx + 18}" y="${ly}">${LABEL[runtime]} (${driver})</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
