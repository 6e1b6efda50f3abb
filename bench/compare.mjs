// npm run bench:compare -- <bundle A> <bundle B> [--only W1,W2] [--rounds N] [--quick]
//
// Two builds measured in one run: each round starts a fresh server for A and
// for B in turn (which goes first alternates), measures the runtime's limits
// quickly, then the workloads asked for. Prints each row's median per build
// and the ratio of B's median to A's. Build a bundle with
// `npx wrangler deploy bench/metered-worker.ts --dry-run --outdir DIR`
// (DIR/index.js) in the checkout you want to measure.
import { rmSync } from "node:fs";
import { startServer, stopServer, tempDir } from "./harness.mjs";
import { median } from "./http.mjs";
import * as W from "./workloads.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const bundles = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
if (bundles.length !== 2) {
  console.error("usage: npm run bench:compare -- <bundle A> <bundle B> [--only W1] [--rounds N] [--quick]");
  process.exit(2);
}
const rounds = Number(option("--rounds") ?? 3);
const T = args.includes("--quick") ? 0.25 : 1;
const only = (option("--only") ?? "W1").split(",");
const workloads = { W1: W.w1, W2: W.w2, W3: W.w3, W4: W.w4, W7: W.w7, W8: W.w8 };

const results = { A: [], B: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ["A", "B"] : ["B", "A"];
  for (const which of order) {
    const persist = tempDir("edgeq-compare-");
    const server = await startServer({ bundle: bundles[which === "A" ? 0 : 1], persist, limits: true });
    try {
      console.error(`compare: round ${round + 1}/${rounds}: ${which}`);
      const lim = await W.limits(server, 0.25);
      for (const name of only) results[which].push(...(await workloads[name](server, T, lim)));
    } finally {
      await stopServer(server);
      rmSync(persist, { recursive: true, force: true });
    }
  }
}

const keyOf = (r) => `${r.workload} ${r.case}`;
for (const key of [...new Set(results.A.map(keyOf))]) {
  const of = (which, field) => results[which].filter((r) => keyOf(r) === key).map((r) => r[field]).filter((v) => v !== undefined);
  const line = { row: key, unit: results.A.find((r) => keyOf(r) === key).unit };
  for (const field of ["value", "ratio", "p50", "p99"]) {
    const a = of("A", field);
    const b = of("B", field);
    if (a.length === 0 || b.length === 0) continue;
    line[field] = { A: median(a), B: median(b), BoverA: median(b) / median(a), A_each: a, B_each: b };
  }
  console.log(JSON.stringify(line));
}
