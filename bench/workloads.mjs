// The workloads of issue 7 (W1-W7) and the limits they are compared with;
// W8 (receive cost with many messages in flight) is edgeq's own.
// Each function takes the running server and a time scale (1 for the full
// run, less for --quick) and returns result rows:
//   { workload, case, value, unit, p50?, p95?, p99?, limit?, limitValue?, ratio?, note? }
// Every loop is bounded in steps and time.
import { request, closedLoop, median, openLoop, percentile } from "./http.mjs";
import { api, workerdCpuMs } from "./harness.mjs";

const NOTE = "x".repeat(48);
/** A message body of about 100 bytes, like the limits worker's rows. */
export const body = (n) => ({ n, sku: "sku-000-000", qty: 1, note: NOTE });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let queueCounter = 0;
const freshQueue = (prefix) => `${prefix}-${Date.now().toString(36)}-${(queueCounter++).toString(36)}`;

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.text ? JSON.parse(res.text) : null;
}

// ---------------------------------------------------------------- limits

/**
 * W4 at 200 msg/s sends the worker this many requests a second: each
 * message's enqueue, and the long-poll that gets it (and acks the one before).
 */
const W4_REQUESTS_PER_SEC = 400;

/** GET a path of the limits worker; anything but 200 stops the run. */
async function limitsGet(server, path) {
  const r = await request("GET", server.limitsUrl + path);
  if (r.status !== 200) throw new Error(`limits ${path} answered ${r.status}: ${r.text}`);
}

export async function limits(server, T) {
  const L = server.limitsUrl;
  const get = (p) => limitsGet(server, p);
  const run = (concurrency, path, perStep, seconds) =>
    closedLoop({
      concurrency,
      durationMs: seconds * 1000 * T,
      warmupMs: 300,
      maxSteps: 2_000_000,
      step: async () => (await get(path), perStep),
    });
  const open = (path, rate, seconds) => openLoop({ rate, durationMs: seconds * 1000 * T, step: () => get(path) });
  const out = {};
  out.noopWorkerC32 = await run(32, "/noop", 1, 3);
  out.rpcC1 = await run(1, "/rpc?object=rpc", 1, 2);
  out.rpcC32 = await run(32, "/rpc?object=rpc", 1, 3);
  // W1's floor: the bare insert of one row per request, with edgeq's group commit (no timer).
  out.insertGroupC32 = await run(32, "/insert-after-sync?n=1&object=group1", 1, 3);
  // W4's floor: its request rate at 200 msg/s (each message an enqueue and a long-poll that acks, each
  // of which writes), bare: empty RPCs, and RPCs that insert one row with edgeq's group commit.
  out.rpcOpenW4 = await open("/rpc?object=open", W4_REQUESTS_PER_SEC, 10);
  out.insertOpenW4 = await open("/insert-after-sync?n=1&object=open1", W4_REQUESTS_PER_SEC, 10);
  out.insertEach100C8 = await run(8, "/insert-each?n=100&object=each100", 100, 2);
  out.insertSet100C8 = await run(8, "/insert-set?n=100&object=set100", 100, 2);
  out.insertEach1000C4 = await run(4, "/insert-each?n=1000&object=each1000", 1000, 2);
  out.insertSet1000C4 = await run(4, "/insert-set?n=1000&object=set1000", 1000, 2);
  const row = (key, c, name, unit) => ({
    workload: "limit",
    case: name,
    value: out[key].perSec,
    unit,
    p50: out[key].p50,
    p99: out[key].p99,
    key,
  });
  const rpcC32 = row("rpcC32", 32, "no-op DO RPC, c32", "req/s");
  const openRow = (key, what) => ({
    workload: "limit",
    case: `${what}, open loop at ${W4_REQUESTS_PER_SEC} req/s: p99`,
    value: out[key].p99,
    unit: "ms",
    p50: out[key].p50,
    p95: out[key].p95,
    p99: out[key].p99,
    note: `${out[key].steps} requests in ${out[key].seconds.toFixed(1)} s, sent on schedule whatever the answers (W4's request rate at 200 msg/s), latency from sent to answered`,
    key,
  });
  const probe = JSON.parse((await request("GET", `${L}/rows-written-probe?object=probe`)).text);
  const p = probe["two indexes"];
  const probeRow = {
    workload: "limit",
    case: "rowsWritten of one insert into a table with one index that covers it",
    value: p.insert,
    unit: "rows/row",
    note:
      `index entries count: per row, insert ${p.insert}, update of an indexed column ${p.updateIndexed}, ` +
      `update into a partial index ${p.updateIntoPartial}, out of it ${p.updateOutOfPartial}, update of an unindexed column ${p.updateUnindexed}, ` +
      `delete ${p.delete} (no index: every figure 1)`,
    key: "rowsWrittenProbe",
  };
  return [
    probeRow,
    row("noopWorkerC32", 32, "no-op Worker, c32", "req/s"),
    row("rpcC1", 1, "no-op DO RPC, c1", "req/s"),
    rpcC32,
    withLimit(row("insertGroupC32", 32, "DO RPC inserting one row, group commit, c32", "req/s"), rpcC32),
    openRow("rpcOpenW4", "no-op DO RPC"),
    openRow("insertOpenW4", "DO RPC inserting one row, group commit"),
    row("insertEach100C8", 8, "SQLite insert, row by row, 100/request, c8", "rows/s"),
    row("insertSet100C8", 8, "SQLite insert, json_each, 100/request, c8", "rows/s"),
    row("insertEach1000C4", 4, "SQLite insert, row by row, 1000/request, c4", "rows/s"),
    row("insertSet1000C4", 4, "SQLite insert, json_each, 1000/request, c4", "rows/s"),
  ];
}

const byKey = (limitRows, key) => limitRows.find((r) => r.key === key);
const withLimit = (row, limitRow) => ({
  ...row,
  limit: limitRow.case,
  limitValue: limitRow.value,
  ratio: row.value / limitRow.value,
});

// ---------------------------------------------------------------- W1, W2

/**
 * W1 takes turns with its limit: windows of single enqueues alternate with
 * windows of the no-op RPC at the same concurrency (the first pair RPC
 * first, the next enqueue first, and so on), and its ratio is the median of
 * each window's rate over its pair's. The limits measured at the start of
 * the run are half a minute or more away from W1, and on a shared machine
 * the runtime's own rate moves by a third in that time (BENCHMARKS.md).
 */
const W1_PAIRS = 4;

export async function w1(server, T, lim) {
  const q = api(server);
  const rows = [];
  const noop = async () => (await limitsGet(server, "/rpc?object=rpc"), 1);
  for (const [concurrency, limitKey] of [
    [1, "rpcC1"],
    [32, "rpcC32"],
  ]) {
    const queue = freshQueue("w1");
    let n = 0;
    const enqueue = async () => (expectStatus(await q.send(queue, { body: body(n++) }), 201, "enqueue"), 1);
    const window = (step) => closedLoop({ concurrency, durationMs: 1250 * T, warmupMs: 200, maxSteps: 1_000_000, step });
    const pairs = [];
    for (let i = 0; i < W1_PAIRS; i++) {
      const first = i % 2 === 0 ? await window(noop) : await window(enqueue);
      const second = i % 2 === 0 ? await window(enqueue) : await window(noop);
      pairs.push(i % 2 === 0 ? { rpc: first, enqueue: second } : { rpc: second, enqueue: first });
    }
    const seconds = (runs) => runs.reduce((s, r) => s + r.seconds, 0);
    const units = (runs) => runs.reduce((s, r) => s + r.units, 0);
    const enqueues = pairs.map((p) => p.enqueue);
    const rpcs = pairs.map((p) => p.rpc);
    const latencies = enqueues.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const floor = concurrency === 32 ? byKey(lim, "insertGroupC32") : undefined;
    const start = byKey(lim, limitKey);
    const value = units(enqueues) / seconds(enqueues);
    const rpcRate = units(rpcs) / seconds(rpcs);
    const each = pairs.map((p) => p.enqueue.perSec / p.rpc.perSec);
    rows.push({
      workload: "W1",
      case: `enqueue single, c${concurrency}`,
      value,
      unit: "msg/s",
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      limit: `${start.case}, in turn with W1`,
      limitValue: rpcRate,
      ratio: median(each),
      note:
        `${W1_PAIRS} pairs of ${(1.25 * T).toFixed(2)} s windows, W1's and the no-op RPC's in turn; ratio: the median pair's ` +
        `(${each.map((r) => r.toFixed(2)).join(" / ")}); to the no-op RPC measured at the start of the run (${Math.round(start.value)}/s): ` +
        `${(value / start.value).toFixed(3)}` +
        (floor
          ? `; the limit "${floor.case}" is a bare one-row insert per RPC with group commit (its ratio is to the no-op RPC at the start)`
          : ""),
    });
  }
  return rows;
}

const batchOf = (size, start) => ({ messages: Array.from({ length: size }, (_, i) => ({ body: body(start + i) })) });

/** Enqueue batches of 100 for a while; resolves the loop's result. */
async function enqueueBatches(server, queue, concurrency, durationMs, maxMessages = Infinity) {
  const q = api(server);
  let n = 0;
  return closedLoop({
    concurrency,
    durationMs,
    maxSteps: Math.ceil(maxMessages / 100),
    step: async () => {
      const res = await q.send(queue, batchOf(100, n));
      n += 100;
      expectStatus(res, 201, "enqueue batch");
      return 100;
    },
  });
}

export async function w2(server, T, lim, { partitions = 1, workload = "W2", queue: given } = {}) {
  const rows = [];
  for (const concurrency of workload === "W2" ? [1, 8] : [8]) {
    const queue = given ?? freshQueue("w2");
    const r = await enqueueBatches(server, queue, concurrency, 5000 * T);
    const partitionsNote = workload === "W2" ? "" : `${partitions} partition${partitions > 1 ? "s" : ""}, `;
    rows.push(
      withLimit(
        {
          workload,
          case: `enqueue batch 100, ${partitionsNote}c${concurrency}`,
          value: r.perSec,
          unit: "msg/s",
          p50: r.p50,
          p99: r.p99,
        },
        byKey(lim, concurrency === 1 ? "insertSet1000C4" : "insertSet100C8"),
      ),
    );
  }
  return rows;
}

// ---------------------------------------------------------------- W3

/** Drains `total` messages with `consumers` loops of receive (max 100) + ack. */
export async function drain(server, queue, { consumers, total, timeoutMs, receiveBody = { max: 100 } }) {
  const q = api(server);
  let acked = 0;
  let emptyPolls = 0;
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  await Promise.all(
    Array.from({ length: consumers }, async () => {
      while (acked < total && performance.now() < deadline) {
        const got = expectStatus(await q.receive(queue, receiveBody), 200, "receive").messages;
        if (got.length === 0) {
          emptyPolls += 1;
          await sleep(2);
          continue;
        }
        const results = expectStatus(await q.ack(queue, got.map((m) => m.receipt)), 200, "ack").results;
        acked += results.filter((r) => r.ok).length;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { acked, seconds, perSec: acked / seconds, emptyPolls, complete: acked >= total };
}

export async function w3(
  server,
  T,
  lim,
  { partitions = 1, workload = "W3", makeQueue = () => freshQueue("w3"), consumerCounts = [1, 4] } = {},
) {
  const total = Math.max(2000, Math.round(20_000 * T));
  const rows = [];
  for (const consumers of consumerCounts) {
    const queue = await makeQueue();
    await enqueueBatches(server, queue, 8, 120_000, total);
    const r = await drain(server, queue, { consumers, total, timeoutMs: 120_000 });
    if (!r.complete) throw new Error(`${workload}: drained ${r.acked} of ${total} in time`);
    const partitionsNote = workload === "W3" ? "" : `${partitions} partition${partitions > 1 ? "s" : ""}, `;
    rows.push(
      withLimit(
        {
          workload,
          case: `drain ${total}, receive 100 + ack, ${partitionsNote}${consumers} consumer${consumers > 1 ? "s" : ""}`,
          value: r.perSec,
          unit: "msg/s",
        },
        byKey(lim, "insertSet100C8"),
      ),
    );
  }
  return rows;
}

// ---------------------------------------------------------------- W7

const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - a[k]]));

/** One full life (enqueue, receive, ack) of `total` messages, `size` at a time; the partition's meter per message. */
async function life(server, size, total) {
  const q = api(server);
  const queue = freshQueue("w7");
  expectStatus(await q.stats(queue).then(async () => q.send(queue, { body: "warm" })), 201, "enqueue");
  // The warm-up message is consumed first, so the measured life starts on a queue that exists.
  const warm = expectStatus(await q.receive(queue, { max: 1 }), 200, "receive").messages;
  expectStatus(await q.ack(queue, warm.map((m) => m.receipt)), 200, "ack");
  const m0 = await server.meter(queue);
  for (let i = 0; i < total; i += size) {
    const res = size === 1 ? await q.send(queue, { body: body(i) }) : await q.send(queue, batchOf(size, i));
    expectStatus(res, 201, "enqueue");
  }
  const m1 = await server.meter(queue);
  const receipts = [];
  while (receipts.length < total) {
    const got = expectStatus(await q.receive(queue, { max: size }), 200, "receive").messages;
    if (got.length === 0) throw new Error("W7: queue ran dry");
    receipts.push(...got.map((m) => m.receipt));
  }
  const m2 = await server.meter(queue);
  for (let i = 0; i < receipts.length; i += size) expectStatus(await q.ack(queue, receipts.slice(i, i + size)), 200, "ack");
  const m3 = await server.meter(queue);
  const per = (d) => ({
    rowsWritten: d.rowsWritten / total,
    rowsRead: d.rowsRead / total,
    requests: d.requests / total,
    statements: d.statements / total,
  });
  return { enqueue: per(diff(m0, m1)), receive: per(diff(m1, m2)), ack: per(diff(m2, m3)), life: per(diff(m0, m3)) };
}

/**
 * Whether a consumer waiting on an empty queue keeps its partition busy:
 * the meter is read just after the long-poll started and just before it
 * ends; any request, statement or alarm between the two is work.
 */
async function idleLongPoll(server, T) {
  const q = api(server);
  const queue = freshQueue("w7idle");
  expectStatus(await q.send(queue, { body: "warm" }), 201, "enqueue");
  const warm = expectStatus(await q.receive(queue, { max: 1 }), 200, "receive").messages;
  expectStatus(await q.ack(queue, warm.map((m) => m.receipt)), 200, "ack");
  const waitMs = Math.max(1500, Math.round(4000 * T));
  const t0 = performance.now();
  const polling = q.receive(queue, { max: 1, waitMs });
  await sleep(300);
  const m1 = await server.meter(queue);
  await sleep(waitMs - 700);
  const m2 = await server.meter(queue);
  const res = await polling;
  const elapsed = performance.now() - t0;
  expectStatus(res, 200, "receive");
  const work = diff(m1, m2);
  return { waitMs, elapsedMs: elapsed, longPoll: elapsed >= waitMs * 0.8, work, windowMs: waitMs - 700 };
}

export async function w7(server, T) {
  const single = await life(server, 1, Math.max(50, Math.round(200 * T)));
  const batched = await life(server, 100, Math.max(500, Math.round(2000 * T)));
  const idle = await idleLongPoll(server, T);
  const rows = [];
  for (const [name, r] of [
    ["single", single],
    ["batched 100", batched],
  ]) {
    rows.push({
      workload: "W7",
      case: `rows written per message, ${name}`,
      value: r.life.rowsWritten,
      unit: "rows/msg",
      note: `enqueue ${r.enqueue.rowsWritten.toFixed(2)} + receive ${r.receive.rowsWritten.toFixed(2)} + ack ${r.ack.rowsWritten.toFixed(2)}; rows read ${r.life.rowsRead.toFixed(2)}/msg; statements ${r.life.statements.toFixed(2)}/msg`,
      detail: r,
    });
    rows.push({
      workload: "W7",
      case: `DO requests per message, ${name}`,
      value: r.life.requests,
      unit: "req/msg",
    });
  }
  const idleWork = idle.work.requests + idle.work.statements + idle.work.alarms;
  rows.push({
    workload: "W7",
    case: `idle long-poll: DO requests + statements + alarms in ${idle.windowMs} ms`,
    value: idle.longPoll ? idleWork : null,
    unit: "ops",
    note: idle.longPoll
      ? `requests ${idle.work.requests}, statements ${idle.work.statements}, alarms ${idle.work.alarms}, rows read ${idle.work.rowsRead}`
      : `skipped: receive with waitMs ${idle.waitMs} answered after ${Math.round(idle.elapsedMs)} ms (long-poll not available)`,
    detail: idle,
  });
  return rows;
}

// ---------------------------------------------------------------- features

/** Whether receive waits (long-poll): an empty queue must hold a waitMs 400 receive for most of it. */
export async function hasLongPoll(server) {
  const q = api(server);
  const queue = freshQueue("probe-lp");
  const t0 = performance.now();
  const res = await q.receive(queue, { max: 1, waitMs: 400 });
  return res.status === 200 && performance.now() - t0 >= 300;
}

/** Whether queues take a configuration (PUT /v1/queues/:queue) with this setting. */
export async function canConfigure(server, setting) {
  const q = api(server);
  const queue = freshQueue("probe-cfg");
  const res = await q.configure(queue, setting);
  if (res.status !== 200 && res.status !== 201) return false;
  const [key, value] = Object.entries(setting)[0];
  return JSON.parse(res.text)?.config?.[key] === value || JSON.parse(res.text)?.[key] === value;
}

const skipped = (workload, cases, why) =>
  cases.map((c) => ({ workload, case: c, value: null, unit: "", note: `skipped: ${why}` }));

// ---------------------------------------------------------------- W4

/**
 * Producers send single messages at a fixed rate (open loop: on schedule,
 * whatever the answers) while consumers long-poll; the latency of each
 * message is from its enqueue being sent to the receive that got it being
 * answered. Consumers ack what they got with their next receive, as the
 * client's `consume` does; one case at 200 msg/s acks with requests of
 * their own instead, as a consumer does that receives and acks by hand.
 */
export async function w4(server, T, lim = []) {
  const cases = [
    "200 msg/s, enqueue sent to receive answered",
    "200 msg/s, acks sent on their own",
    "500 msg/s, enqueue sent to receive answered",
  ];
  if (!(await hasLongPoll(server))) return skipped("W4", cases, "receive with waitMs does not wait (long-poll missing)");
  const q = api(server);
  const rows = [];
  for (const [rate, name, ackAlone] of [
    [200, cases[0], false],
    [200, cases[1], true],
    [500, cases[2], false],
  ]) {
    const queue = freshQueue("w4");
    expectStatus(await q.send(queue, { body: "warm" }), 201, "enqueue");
    const total = Math.round(rate * 10 * T);
    const sentAt = new Map();
    const latencies = [];
    let received = 0;
    let ackFailed = 0;
    let producing = true;
    const consumers = Array.from({ length: 4 }, async () => {
      const stopAt = performance.now() + 10_000 * T + 30_000;
      let unacked = [];
      while ((producing || received < total) && performance.now() < stopAt) {
        const res = await q.receive(queue, { max: 10, waitMs: 1000, ...(unacked.length > 0 ? { ack: unacked } : {}) });
        const answered = performance.now();
        const { messages: got, ackResults = [] } = expectStatus(res, 200, "receive");
        ackFailed += ackResults.filter((r) => !r.ok).length;
        for (const m of got) {
          const s = sentAt.get(m.body?.n);
          if (s !== undefined) {
            latencies.push(answered - s);
            received += 1;
          }
        }
        unacked = got.map((m) => m.receipt);
        if (ackAlone && unacked.length > 0) void q.ack(queue, unacked.splice(0));
      }
      if (unacked.length > 0) await q.ack(queue, unacked);
    });
    await sleep(200); // consumers are waiting before the first message
    const cpu0 = workerdCpuMs(server);
    const t0 = performance.now();
    const sends = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      sentAt.set(i, performance.now());
      sends.push(q.send(queue, { body: { n: i } }));
    }
    const answers = await Promise.all(sends);
    producing = false;
    await Promise.all(consumers);
    const cpu1 = workerdCpuMs(server);
    const cpuPerMessage = cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / total;
    const failed = answers.filter((a) => a.status !== 201).length;
    latencies.sort((a, b) => a - b);
    // At 200 msg/s the p99 is set beside the p99 of bare one-row-insert RPCs at the same request rate, same run.
    const floor = rate * 2 === W4_REQUESTS_PER_SEC && !ackAlone ? byKey(lim, "insertOpenW4") : undefined;
    const p99 = percentile(latencies, 99);
    rows.push({
      ...(floor && p99 !== null ? { limit: floor.case, limitValue: floor.value, ratio: p99 / floor.value } : {}),
      workload: "W4",
      case: name,
      value: received / ((performance.now() - t0) / 1000),
      unit: "msg/s",
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99,
      note:
        `${received} of ${total} received${failed ? `, ${failed} enqueues failed` : ""}${ackFailed ? `, ${ackFailed} acks failed` : ""}; ` +
        `4 consumers, receive max 10, waitMs 1000, ${ackAlone ? "each batch acked by a request of its own" : "each batch acked with the next receive"}` +
        (cpuPerMessage === null ? "" : `; workerd CPU ${cpuPerMessage.toFixed(2)} ms per message (${((cpuPerMessage * rate) / 10).toFixed(0)} % of a core)`) +
        (floor ? "; ratio: this p99 over the limit's p99" : ""),
    });
  }
  return rows;
}

// ---------------------------------------------------------------- W5

/**
 * Flash sale: a burst of 5,000 messages; consumers limited by the queue's
 * deliveryRatePerSec to a tenth of the burst per scaled minute (a minute
 * scaled to a second: 500/s). Every message must be processed and none
 * lost; the drain time is compared with the expected one, which counts the
 * token bucket's one second of burst (it starts full): (N - rate) / rate.
 */
export async function w5(server, T) {
  const cases = ["flash sale: messages lost", "flash sale: drain time, measured / expected"];
  const burst = Math.round(5000 * Math.max(T, 0.25));
  const rate = burst / 10;
  if (!(await canConfigure(server, { deliveryRatePerSec: rate }))) {
    return skipped("W5", cases, "PUT /v1/queues/:queue with deliveryRatePerSec is not available");
  }
  const longPoll = await hasLongPoll(server);
  const q = api(server);
  const queue = freshQueue("w5");
  expectStatus(await q.configure(queue, { deliveryRatePerSec: rate }), 201, "configure");
  for (let i = 0; i < burst; i += 100) {
    expectStatus(await q.send(queue, { messages: Array.from({ length: Math.min(100, burst - i) }, (_, k) => ({ body: { n: i + k } })) }), 201, "enqueue");
  }
  const acked = new Set();
  let deliveries = 0;
  const t0 = performance.now();
  let last = t0;
  const stopAt = t0 + (burst / rate) * 1000 * 2 + 10_000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (acked.size < burst && performance.now() < stopAt) {
        const res = await q.receive(queue, longPoll ? { max: 100, waitMs: 1000 } : { max: 100 });
        const got = expectStatus(res, 200, "receive").messages;
        if (got.length === 0) {
          if (!longPoll) await sleep(20);
          continue;
        }
        deliveries += got.length;
        const results = expectStatus(await q.ack(queue, got.map((m) => m.receipt)), 200, "ack").results;
        results.forEach((r, i) => r.ok && acked.add(got[i].body.n));
        last = performance.now();
      }
    }),
  );
  const drainS = (last - t0) / 1000;
  const expectedS = (burst - rate) / rate;
  return [
    { workload: "W5", case: cases[0], value: burst - acked.size, unit: "msgs", note: `${burst} enqueued, ${acked.size} acked, ${deliveries} deliveries` },
    {
      workload: "W5",
      case: cases[1],
      value: drainS,
      unit: "s",
      limit: "expected (N - rate) / rate",
      limitValue: expectedS,
      ratio: drainS / expectedS,
      note: `burst ${burst}, deliveryRatePerSec ${rate}, 4 consumers${longPoll ? " long-polling" : " polling"}`,
    },
  ];
}

// ---------------------------------------------------------------- W6

/** W2 and W3 on queues spread over 1, 4 and 16 partitions. */
export async function w6(server, T, lim) {
  const counts = [1, 4, 16];
  if (!(await canConfigure(server, { partitions: 4 }))) {
    return skipped("W6", counts.map((p) => `${p} partitions`), "PUT /v1/queues/:queue with partitions is not available");
  }
  const q = api(server);
  const rows = [];
  for (const partitions of counts) {
    const make = async () => {
      const queue = freshQueue(`w6p${partitions}`);
      const res = await q.configure(queue, { partitions });
      if (res.status !== 200 && res.status !== 201) throw new Error(`configure partitions answered ${res.status}: ${res.text}`);
      return queue;
    };
    rows.push(...(await w2(server, T, lim, { partitions, workload: "W6", queue: await make() })));
    rows.push(...(await w3(server, T, lim, { partitions, workload: "W6", makeQueue: make, consumerCounts: [4] })));
  }
  return rows;
}

// ---------------------------------------------------------------- W8

/**
 * What a receive costs as messages pile up in flight (not a workload of
 * issue 7): a backlog, then receives of 100 with long leases and no acks,
 * one at a time; the median time of 20 receives at three in-flight counts.
 * Before the last, the oldest message is nacked with a long delay, so that
 * it waits at the head of the queue, unleased, ahead of the leased ones.
 */
export async function w8(server, T) {
  const q = api(server);
  const queue = freshQueue("w8");
  const steps = [0, Math.round(10_000 * T), Math.round(20_000 * T)];
  const backlog = steps[2] + 2_000;
  for (let n = 0; n < backlog; n += 100) expectStatus(await q.send(queue, batchOf(100, n)), 201, "enqueue");
  const receiveMs = async () => {
    const res = expectStatus(await q.receive(queue, { max: 100, visibilityTimeoutMs: 3_600_000 }), 200, "receive");
    if (res.messages.length !== 100) throw new Error(`W8: a receive got ${res.messages.length} of 100`);
    return res;
  };
  const rows = [];
  let inFlight = 0;
  let oldest = null;
  for (const at of steps) {
    for (; inFlight < at; inFlight += 100) oldest ??= (await receiveMs()).messages[0].receipt;
    const retrying = at === steps[2] && oldest !== null;
    if (retrying) expectStatus(await q.nack(queue, [oldest], { delayMs: 3_600_000 }), 200, "nack");
    const ms = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await receiveMs();
      ms.push(performance.now() - t0);
      inFlight += 100;
    }
    ms.sort((a, b) => a - b);
    rows.push({
      workload: "W8",
      case: `receive 100 with ${at.toLocaleString("en-US")} in flight${retrying ? ", the oldest retrying" : ""}`,
      value: percentile(ms, 50),
      unit: "ms",
      note: `20 receives, one at a time, leases of an hour, nothing acked`,
    });
  }
  // Delayed messages ahead of the ready ones: the leased prefix passes them once, then each receive starts after them.
  const delayedQueue = freshQueue("w8d");
  const delayed = Math.round(20_000 * T);
  for (let n = 0; n < delayed; n += 100) {
    const batch = batchOf(Math.min(100, delayed - n), n);
    for (const m of batch.messages) m.delayMs = 3_600_000;
    expectStatus(await q.send(delayedQueue, batch), 201, "enqueue");
  }
  for (let n = 0; n < 2_000; n += 100) expectStatus(await q.send(delayedQueue, batchOf(100, n)), 201, "enqueue");
  const ms = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const res = expectStatus(await q.receive(delayedQueue, { max: 100, visibilityTimeoutMs: 3_600_000 }), 200, "receive");
    ms.push(performance.now() - t0);
    if (res.messages.length !== 100) throw new Error(`W8: a receive got ${res.messages.length} of 100`);
  }
  ms.sort((a, b) => a - b);
  rows.push({
    workload: "W8",
    case: `receive 100 with ${delayed.toLocaleString("en-US")} delayed messages ahead`,
    value: percentile(ms, 50),
    unit: "ms",
    note: `20 receives, one at a time, leases of an hour, nothing acked; the delayed messages are due in an hour`,
  });
  return rows;
}

// ---------------------------------------------------------------- W9

/**
 * What one request costs the runtime (edgeq's own, no target): workerd's CPU
 * time (user + system, from /proc) per request, one request at a time, for
 * each step of a message's life, beside the limits worker's no-op Worker,
 * no-op Durable Object RPC and one-row insert (an RPC that inserts one row
 * and commits: the least a request that stores something costs). Rounds of
 * every kind, interleaved; the median round. Linux only (skipped elsewhere).
 */
export async function w9(server, T) {
  const kinds = [
    "limit: no-op Worker",
    "limit: no-op DO RPC",
    "limit: DO RPC inserting one row",
    "enqueue, single",
    "receive max 1 (no wait)",
    "receive max 1, waitMs (long-poll, ready)",
    "ack 1",
  ];
  const caseOf = (kind) => `workerd CPU per request, c1: ${kind}`;
  if (workerdCpuMs(server) === null || !server.limitsUrl) return skipped("W9", kinds.map(caseOf), "no /proc or no limits worker");
  const q = api(server);
  const queue = freshQueue("w9");
  const n = Math.max(50, Math.round(300 * T));
  expectStatus(await q.send(queue, { body: "creates the queue" }), 201, "enqueue");
  const receipts = [];
  const steps = {
    [kinds[0]]: () => request("GET", `${server.limitsUrl}/noop`),
    [kinds[1]]: () => request("GET", `${server.limitsUrl}/rpc`),
    [kinds[2]]: () => request("GET", `${server.limitsUrl}/insert-set?n=1`),
    [kinds[3]]: (i) => q.send(queue, { body: body(i) }),
    [kinds[4]]: async () => receipts.push(...expectStatus(await q.receive(queue, { max: 1 }), 200, "receive").messages.map((m) => m.receipt)),
    [kinds[5]]: async () =>
      receipts.push(...expectStatus(await q.receive(queue, { max: 1, waitMs: 1000 }), 200, "receive").messages.map((m) => m.receipt)),
    [kinds[6]]: () => q.ack(queue, [receipts.shift()]),
  };
  const perRound = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let round = 0; round < 3; round++) {
    for (const kind of kinds) {
      // Every receive finds a message (the round enqueues twice what it receives); the acks take all it leased.
      const count = kind === kinds[6] ? receipts.length : n;
      const cpu0 = workerdCpuMs(server);
      for (let i = 0; i < count; i++) await steps[kind](i);
      perRound[kind].push(((workerdCpuMs(server) - cpu0) * 1000) / count);
      if (kind === kinds[3]) for (let i = 0; i < n; i++) await q.send(queue, { body: body(i) }); // enough for both receives
    }
  }
  const rpc = median(perRound[kinds[1]]);
  return kinds.map((kind) => ({
    workload: "W9",
    case: caseOf(kind),
    value: median(perRound[kind]),
    unit: "µs",
    limit: "no-op DO RPC",
    limitValue: rpc,
    ratio: median(perRound[kind]) / rpc,
    note: `${n} requests a round, 3 rounds interleaved, median round (rounds: ${perRound[kind].map((v) => v.toFixed(0)).join(" / ")} µs)`,
  }));
}
