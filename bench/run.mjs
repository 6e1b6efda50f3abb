// npm run bench [-- --quick] [-- --only W1,W3,P] [-- --runs N] [-- --no-write]
// EDGEQ_BUNDLE=path/index.js runs a bundle built before instead of building one.
//
// Builds the worker, runs it in one workerd through Miniflare's Node API
// (bench/server.mjs, a child process) with persistent state in a temp dir
// and no local tracing, and drives it over HTTP with keep-alive connections
// from this process. Each run starts on fresh state and measures the
// runtime's limits and then the workloads; figures are medians of the runs,
// ratios are taken to the limits measured in the same run.
import { rmSync } from "node:fs";
import { buildWorker, startServer, stopServer, tempDir, versions } from "./harness.mjs";
import { median } from "./http.mjs";
import { formatTable, writeReport } from "./report.mjs";
import * as W from "./workloads.mjs";
import * as WT from "./workloads-topics.mjs";
import { consumeWorkloads } from "./workloads-consume.mjs";
import * as WS from "./workloads-sqs.mjs";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag("--quick");
const runs = Number(option("--runs") ?? (quick ? 1 : 3));
const T = quick ? 0.25 : 1;
const only = option("--only")?.split(",");
const want = (w) => !only || only.includes(w);
const HARD_LIMIT_MS = (quick ? 5 : 45) * 60_000;

const hardStop = setTimeout(() => {
  console.error(`bench: gave up after ${HARD_LIMIT_MS / 60_000} min`);
  process.exit(2);
}, HARD_LIMIT_MS);
hardStop.unref();

const startedAt = new Date();
console.error(`bench: building the worker`);
const bundle = process.env.EDGEQ_BUNDLE ?? buildWorker();
const perRun = [];
for (let run = 1; run <= runs; run++) {
  const persist = tempDir("edgeq-bench-state-");
  const server = await startServer({ bundle, persist, limits: true });
  const rows = [];
  try {
    console.error(`bench: run ${run}/${runs}: limits`);
    const lim = await W.limits(server, T);
    rows.push(...lim);
    for (const [name, fn] of [
      ["W1", () => W.w1(server, T, lim)],
      ["W2", () => W.w2(server, T, lim)],
      ["W3", () => W.w3(server, T, lim)],
      ["W4", () => W.w4?.(server, T, lim) ?? []],
      ["W5", () => W.w5?.(server, T, lim) ?? []],
      ["W6", () => W.w6?.(server, T, lim) ?? []],
      ["W7", () => W.w7(server, T, lim)],
      ["W8", () => W.w8(server, T)],
      ["W9", () => W.w9(server, T)],
      ["T1", () => WT.topics(server, T)],
      ["Q1", () => WS.sqsWorkload(server, T)],
      ["P", async () => (await import("./workloads-push.mjs")).push(server, T)],
      ["S", () => consumeWorkloads(server, T)],
    ]) {
      if (!want(name)) continue;
      console.error(`bench: run ${run}/${runs}: ${name}`);
      rows.push(...(await fn()));
    }
  } finally {
    await stopServer(server);
    rmSync(persist, { recursive: true, force: true });
  }
  perRun.push(rows);
}

/** Medians over the runs, row by row (rows are matched by workload and case). */
const NUMERIC = ["value", "p50", "p95", "p99", "limitValue", "ratio"];
const merged = perRun[0].map((row) => {
  const same = perRun.map((rows) => rows.find((r) => r.workload === row.workload && r.case === row.case)).filter(Boolean);
  const out = { ...row, runs: same.length };
  for (const k of NUMERIC) if (row[k] !== undefined) out[k] = median(same.map((r) => r[k]));
  if (row.value !== undefined) out.values = same.map((r) => r.value);
  if (row.ratio !== undefined) out.ratios = same.map((r) => r.ratio);
  return out;
});

for (const row of merged) {
  const { detail, key, ...line } = row;
  console.log(JSON.stringify(line));
}
console.log(formatTable(merged));
const meta = { startedAt, seconds: (Date.now() - startedAt.getTime()) / 1000, runs, quick, versions: versions(), args };
if (!flag("--no-write")) writeReport(merged, meta);
console.error(`bench: done in ${Math.round(meta.seconds)} s`);
