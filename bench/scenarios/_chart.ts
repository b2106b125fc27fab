/**
 * `bench/chart.svg`: the ratio shared ÷ per-message publishes/s per runtime
 * and RTT, one panel per caller count, bars on a log scale, with the 100×
 * target drawn in. Hand-written SVG, no dependency (not part of kshare's API).
 *
 * @module
 */
import type { RuntimeName } from "../_child.ts";
import { type PublishPair, publishPairs } from "./_report.ts";
import type { Results } from "./_results.ts";

const COLORS: Record<RuntimeName, string> = { deno: "#2f6f4f", bun: "#c47f17", node: "#3b6bb5" };
const LABELS: Record<RuntimeName, string> = { deno: "Deno (FFI)", bun: "Bun (FFI)", node: "Node (Confluent)" };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The chart of `results` (kshare's defaults), as SVG text. */
export function renderChart(results: Results): string {
  const { runtimes } = results.plan;
  const { rtts, callers } = results.plan.publish;
  const pairs = publishPairs(results).filter((p) => p.variant === "defaults");
  const ratios = pairs.map((p) => p.ratio).filter((r): r is number => r !== undefined && r > 0);
  const top = 10 ** Math.max(3, Math.ceil(Math.log10(Math.max(1, ...ratios))));
  const bottom = 10 ** Math.min(0, Math.floor(Math.log10(Math.min(1, ...ratios))));

  const panelW = 400;
  const panelH = 260;
  const left = 60;
  const topPad = 70;
  const gap = 40;
  const width = left + callers.length * (panelW + gap) + 10;
  const height = topPad + panelH + 70;
  const y = (v: number) => topPad + panelH * (1 - (Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom)));

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="15" font-weight="bold">Shared producer ÷ producer per message: publishes/s (kshare's defaults, log scale)</text>`,
    `<text x="${left}" y="38" fill="#555">${
      esc(`${results.startedAt.slice(0, 10)}, ${results.machine.cores} cores; dashed: the 100× target of issue 5 at RTT 0`)
    }</text>`,
  );
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
        const pair: PublishPair | undefined = pairs.find((p) => p.runtime === runtime && p.rttMs === rtt && p.callers === count);
        const bx = gx + i * barW;
        if (pair?.ratio === undefined) {
          out.push(`<text x="${bx + barW / 2}" y="${topPad + panelH - 4}" text-anchor="middle" fill="#999">–</text>`);
          return;
        }
        const v = Math.max(bottom, pair.ratio);
        const label = pair.ratio >= 10 ? Math.round(pair.ratio).toString() : pair.ratio.toFixed(1);
        out.push(
          `<rect x="${bx + 2}" y="${y(v)}" width="${barW - 4}" height="${topPad + panelH - y(v)}" fill="${COLORS[runtime]}"><title>${
            esc(`${LABELS[runtime]}, RTT ${rtt} ms, ${count} caller(s): ${label}×`)
          }</title></rect>`,
          `<text x="${bx + barW / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${label}</text>`,
        );
      });
      out.push(`<text x="${x0 + g * groupW + groupW / 2}" y="${topPad + panelH + 18}" text-anchor="middle">RTT ${rtt} ms</text>`);
    });
    out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${topPad + panelH}" y2="${topPad + panelH}" stroke="#333"/>`);
  });
  runtimes.forEach((runtime, i) => {
    const lx = left + i * 160;
    const ly = topPad + panelH + 44;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[runtime]}"/>`,
      `<text x="${lx + 18}" y="${ly}">${esc(LABELS[runtime])}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
