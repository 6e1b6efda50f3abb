// The table (stdout and BENCHMARKS.md) and the targets of issues 7 and 17.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./harness.mjs";

/** Targets of issues 7 and 17 (medians of 3 runs, this machine, Miniflare direct). */
const TARGETS = [
  { workload: "W1", match: /c32$/, text: "≥ 0.5 × no-op DO RPC", met: (r) => r.ratio >= 0.5 },
  { workload: "W2", match: /^enqueue batch 100, c8$/, text: "≥ 30,000 msg/s", met: (r) => r.value >= 30_000 },
  { workload: "W3", match: /4 consumers$/, text: "≥ 15,000 msg/s", met: (r) => r.value >= 15_000 },
  { workload: "W4", match: /^200 msg\/s, enqueue sent/, text: "p50 < 5 ms, p99 < 20 ms", met: (r) => r.p50 < 5 && r.p99 < 20 },
  { workload: "W5", match: /lost/, text: "0 lost", met: (r) => r.value === 0 },
  { workload: "W5", match: /drain time/, text: "within 5% of expected", met: (r) => Math.abs(r.ratio - 1) <= 0.05 },
  { workload: "W7", match: /rows written per message, batched/, text: "≤ 3 rows/msg", met: (r) => r.value <= 3 },
  { workload: "W7", match: /idle long-poll/, text: "0", met: (r) => r.value === 0 },
  // Issue 17 §3: consume streams, each beside its floor in the same run (bench/workloads-consume.mjs).
  { workload: "S1", match: /prefetch 10, draining a backlog/, text: "≥ 10,000 msg/s", met: (r) => r.value >= 10_000 },
  {
    workload: "S2",
    match: /end to end/,
    text: "p50 ≤ 2 ms, p99 ≤ 10 ms (≤ 1.5 × the floor's p99 if that is above 10 ms)",
    met: (r) => r.p50 <= 2 && r.p99 <= (r.limitValue > 10 ? 1.5 * r.limitValue : 10),
  },
];

export function targetOf(row) {
  const t = TARGETS.find((t) => t.workload === row.workload && t.match.test(row.case));
  if (!t) return { text: "", verdict: "" };
  if (row.value === null || row.value === undefined) return { text: t.text, verdict: "skipped" };
  return { text: t.text, verdict: t.met(row) ? "met" : "MISSED" };
}

const fmt = (x, digits = 0) => {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(Math.abs(x) < 10 ? Math.max(digits, 2) : 1);
};

function cells(r) {
  const t = targetOf(r);
  const latency = [r.p50, r.p95, r.p99].some((x) => x !== undefined)
    ? [r.p50, r.p95, r.p99].filter((x) => x !== undefined).map((x) => fmt(x)).join(" / ")
    : "";
  return [
    r.workload,
    r.case,
    r.value === null ? (r.note?.startsWith("skipped") ? "skipped" : "–") : `${fmt(r.value)} ${r.unit}`,
    r.values && r.values.length > 1 ? r.values.map((v) => fmt(v)).join(" / ") : "",
    latency,
    r.limit ? `${r.limit}: ${fmt(r.limitValue)}` : "",
    r.ratio !== undefined && r.limit ? fmt(r.ratio, 3) : "",
    t.text ? `${t.text}: ${t.verdict}` : "",
  ];
}

const HEADER = ["workload", "case", "median", "each run", "p50 / p95 / p99 ms", "limit (same run)", "ratio", "target"];

export function formatTable(rows) {
  const all = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ")).join("\n");
}

export function markdownTable(rows) {
  const esc = (s) => String(s).replace(/\|/g, "\\|");
  const lines = [`| ${HEADER.join(" | ")} |`, `|${HEADER.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${cells(r).map(esc).join(" | ")} |`);
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.workload}, ${r.case}: ${r.note}`);
  return [...lines, "", ...notes].join("\n");
}

const BEGIN = "<!-- bench:begin (written by npm run bench; edit outside these markers) -->";
const END = "<!-- bench:end -->";

/** Rewrites the generated part of BENCHMARKS.md; the notes around it are kept. */
export function writeReport(rows, meta) {
  const file = path.join(ROOT, "BENCHMARKS.md");
  const v = meta.versions;
  const generated = [
    BEGIN,
    "",
    `Run ${meta.startedAt.toISOString().replace(/\.\d+Z$/, "Z")} with \`npm run bench${meta.args.length ? ` -- ${meta.args.join(" ")}` : ""}\`` +
      ` (${meta.runs} run${meta.runs > 1 ? "s" : ""}${meta.quick ? ", --quick: shortened workloads" : ""}, ${Math.round(meta.seconds)} s).`,
    `Node ${v.node}, workerd ${v.workerd}, miniflare ${v.miniflare}, wrangler ${v.wrangler}; one workerd through Miniflare's Node API, state on disk, no local tracing.`,
    `Figures are medians of ${meta.runs} run${meta.runs > 1 ? "s" : ""}; each ratio is a figure over the limit measured in the same run (median of the per-run ratios).`,
    "",
    markdownTable(rows),
    "",
    END,
  ].join("\n");
  const before = existsSync(file) ? readFileSync(file, "utf8") : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const start = before.indexOf(BEGIN);
  const end = before.indexOf(END);
  const next =
    start >= 0 && end > start
      ? before.slice(0, start) + generated + before.slice(end + END.length)
      : `${before.trimEnd()}\n\n${generated}\n`;
  writeFileSync(file, next);
}
