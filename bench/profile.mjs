// npm run bench:profile [-- enqueue|enqueue32|batch|drain|life|w4|w4-alloc|stream|stream-e2e] : where the time goes.
// Runs edgeq with workerd's inspector on, drives one workload for a few
// seconds while V8's sampling profiler runs in the worker's isolate (the
// Worker and its Durable Objects share it), and prints self time by function
// and by source file, and the longest stretches the isolate spent in one
// function (a garbage collection pause shows there). `w4` runs the W4
// workload (long-poll end to end) and also samples the isolate's heap;
// `w4-alloc` runs it under V8's sampling heap profiler instead and prints
// who allocates (objects that garbage collection took included).
// EDGEQ_PROFILE_OUT=file.json also saves the raw CPU profile (for callers of
// native functions, or Chrome's DevTools). A development aid for
// BENCHMARKS.md, not a benchmark.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { AUTH, buildWorker, startServer, stopServer, tempDir } from "./harness.mjs";
import { closedLoop, request } from "./http.mjs";
import { body, drain, w4 } from "./workloads.mjs";
import { s1, s1Backlog, s2 } from "./workloads-consume.mjs";

const arg = process.argv[2] ?? "enqueue";
const alloc = arg.endsWith("-alloc");
const which = alloc ? arg.slice(0, -"-alloc".length) : arg;
const PORT = 9300 + Math.floor(Math.random() * 500);
const bundle = process.env.EDGEQ_BUNDLE ?? buildWorker();
const persist = tempDir("edgeq-profile-");
const server = await startServer({ bundle, persist, inspectorPort: PORT });

const ws = new WebSocket(`ws://127.0.0.1:${PORT}/core:user:edgeq`);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let nextId = 1;
const waiting = new Map();
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.id && waiting.has(m.id)) {
    waiting.get(m.id)(m.result);
    waiting.delete(m.id);
  }
};
const cdp = (method, params = {}) =>
  new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

const send = (queue, payload) => request("POST", `${server.url}/v1/queues/${queue}/messages`, { body: payload, headers: AUTH });
const batch = (n) => ({ messages: Array.from({ length: 100 }, (_, i) => ({ body: body(n + i) })) });
let n = 0;
const workloads = {
  enqueue: () =>
    closedLoop({ concurrency: 8, durationMs: 4000, maxSteps: 100_000, step: async () => (await send("p", { body: body(n++) }), 1) }),
  // W1's concurrency: concurrent requests share the partition's group commits.
  enqueue32: () =>
    closedLoop({ concurrency: 32, durationMs: 4000, maxSteps: 100_000, step: async () => (await send("p", { body: body(n++) }), 1) }),
  batch: () =>
    closedLoop({ concurrency: 8, durationMs: 4000, maxSteps: 10_000, step: async () => (await send("p", batch((n += 100))), 100) }),
  drain: async () => {
    for (let i = 0; i < 100; i++) await send("p", batch(i * 100));
    return drain(server, "p", { consumers: 4, total: 10_000, timeoutMs: 60_000 });
  },
  life: async () => {
    // One message's life, one request at a time: enqueue, receive (a long-poll that finds it ready), ack.
    const t0 = performance.now();
    let lives = 0;
    while (performance.now() - t0 < 4000 && lives < 20_000) {
      await send("life", { body: body(n++) });
      const got = JSON.parse((await request("POST", `${server.url}/v1/queues/life/messages/receive`, { body: { max: 1, waitMs: 1000 }, headers: AUTH })).text);
      await request("POST", `${server.url}/v1/queues/life/messages/ack`, { body: { receipts: got.messages.map((m) => m.receipt) }, headers: AUTH });
      lives += 1;
    }
    return { perSec: lives / ((performance.now() - t0) / 1000) };
  },
  // S1 and S2 (bench/workloads-consume.mjs): a consume stream draining a backlog, and end to end at 500 msg/s.
  stream: () => s1(server, 1),
  "stream-e2e": () => s2(server, 0.5).then((r) => (console.log(`p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`), { perSec: 500 })),
  w4: async () => {
    const heap = [];
    const timer = setInterval(() => cdp("Runtime.getHeapUsage").then((h) => heap.push(h.usedSize / 1e6)), 1000);
    const rows = await w4(server, 1);
    clearInterval(timer);
    for (const r of rows) console.log(`${r.case}: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
    console.log(`heap used, sampled each second: ${Math.min(...heap).toFixed(0)} to ${Math.max(...heap).toFixed(0)} MB`);
    return { perSec: rows[0].value };
  },
};
if (which === "stream") {
  // Fill before profiling: only the stream's drain is profiled.
  const backlog = await s1Backlog(server, 1);
  workloads.stream = () => s1(server, 1, backlog);
}
if (which === "drain") {
  // Fill before profiling: only the drain is profiled.
  for (let i = 0; i < 100; i++) await send("p", batch(i * 100));
  workloads.drain = () => drain(server, "p", { consumers: 4, total: 10_000, timeoutMs: 60_000 });
}
await send("p", { body: "warm" });
if (alloc) {
  await cdp("HeapProfiler.enable");
  await cdp("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    // EDGEQ_ALLOC_OLD=1: leave out what died young, keeping what a scavenge promoted (what fills the old generation).
    includeObjectsCollectedByMinorGC: !process.env.EDGEQ_ALLOC_OLD,
  });
  const result = await workloads[which]();
  const { profile } = await cdp("HeapProfiler.stopSampling");
  if (process.env.EDGEQ_PROFILE_OUT) writeFileSync(process.env.EDGEQ_PROFILE_OUT, JSON.stringify(profile));
  ws.close();
  await stopServer(server);
  rmSync(persist, { recursive: true, force: true });
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const k = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
    total += node.selfSize;
    bySite.set(k, (bySite.get(k) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(profile.head);
  console.log(`${which}: ${Math.round(result.perSec)} msg/s; ${(total / 1e6).toFixed(1)} MB allocated (sampled)`);
  console.log("\nallocated by function (objects since collected included):");
  for (const [k, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)}% ${k}`);
  }
  process.exit(0);
}
await cdp("Profiler.enable");
await cdp("Profiler.setSamplingInterval", { interval: 200 });
await cdp("Profiler.start");
const result = await workloads[which]();
const { profile } = await cdp("Profiler.stop");
ws.close();
await stopServer(server);
rmSync(persist, { recursive: true, force: true });

if (process.env.EDGEQ_PROFILE_OUT) writeFileSync(process.env.EDGEQ_PROFILE_OUT, JSON.stringify(profile));
const total = profile.endTime - profile.startTime; // µs
const sampleUs = total / profile.samples.length;
const selfBy = (key) => {
  const m = new Map();
  for (const node of profile.nodes) {
    const k = key(node.callFrame);
    m.set(k, (m.get(k) ?? 0) + node.hitCount * sampleUs);
  }
  return [...m].sort((a, b) => b[1] - a[1]);
};
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`${which}: ${Math.round(result.perSec)} msg/s; profile ${(total / 1e6).toFixed(1)} s, ${profile.samples.length} samples`);
// esbuild marks where each source file starts in the bundle: `// worker/produce.ts`.
const starts = [];
readFileSync(bundle, "utf8")
  .split("\n")
  .forEach((line, i) => {
    const m = /^\/\/ ((?:node_modules\/)?[\w@./-]+\.[cm]?[jt]s)$/.exec(line);
    if (m) starts.push([i, m[1].replace(/^node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*$/, "$1")]);
  });
const moduleAt = (f) => {
  if (!f.url) return f.functionName.startsWith("(") ? f.functionName : "(native: workerd APIs, SQLite, RPC)";
  let name = "?";
  for (const [line, file] of starts) {
    if (line > f.lineNumber) break;
    name = file;
  }
  return name;
};
console.log("\nself time by source file (of wall time, isolate thread):");
for (const [k, us] of selfBy(moduleAt).slice(0, 25)) console.log(pct(us), k);
console.log("\nself time by function (of wall time, isolate thread):");
for (const [k, us] of selfBy((f) => `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`).slice(0, 30))
  console.log(pct(us), k);

// The longest runs of consecutive samples in one function: a pause of the isolate (a garbage collection) shows here.
const nodeById = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
const runs = [];
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i];
  const f = nodeById.get(profile.samples[i]);
  const k = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
  const last = runs.at(-1);
  // A gap between samples (the thread was out of V8) is no time spent in the function: count at most 1 ms per sample.
  const us = Math.min(profile.timeDeltas[i], 1000);
  if (last && last.k === k) last.us += us;
  else runs.push({ k, us, at });
}
console.log("\nlongest stretches in one function (idle excluded):");
for (const r of runs.filter((r) => r.k !== "(idle) :0").sort((a, b) => b.us - a.us).slice(0, 5)) {
  console.log(`${(r.us / 1000).toFixed(1).padStart(7)} ms ${r.k} at ${((r.at - profile.startTime) / 1e6).toFixed(2)} s`);
}
