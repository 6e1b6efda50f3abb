// The workloads of issue 17 §3: consume streams (a WebSocket per partition,
// held by the partition), each beside its floor measured in the same
// workerd and the same run: a WebSocket held by a Durable Object of the
// limits worker that echoes every frame (bench/limits-worker.mjs, Echo).
//   S1: one consumer, prefetch 10, draining a backlog; floor: echo round
//       trips with 10 frames in flight.
//   S2: end to end at 500 msg/s (enqueue sent to message pushed) with one
//       streaming consumer; floor: echo round trips at 500 frames/s.
// The consumer is Node 22's WebSocket speaking the protocol by hand
// (docs/consume-protocol.md), acking as the client's consume() does: at
// once when the acks make half the prefetch, else within ACK_DELAY_MS, so
// that messages that come one by one share an ack frame.
import { api, AUTH } from "./harness.mjs";
import { percentile, request } from "./http.mjs";
import { body } from "./workloads.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
const freshQueue = (prefix) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** S2's rate, and its floor's. */
const S2_RATE = 500;

/** Opens a WebSocket; resolves it once open (rejects on error or after 10 s). */
function connect(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const timer = setTimeout(() => (ws.close(), reject(new Error(`${url}: no open in 10 s`))), 10_000);
    ws.addEventListener("open", () => (clearTimeout(timer), resolve(ws)));
    ws.addEventListener("error", () => (clearTimeout(timer), reject(new Error(`${url}: upgrade failed`))));
  });
}

const wsUrl = (httpUrl) => httpUrl.replace(/^http/, "ws");

/** A consume stream of `queue` with `prefetch`; `onMessages(messages, ack)` is called for each push. */
async function openStream(server, queue, prefetch, onMessages) {
  const token = AUTH.authorization.replace(/^Bearer /, "");
  const ws = await connect(`${wsUrl(server.url)}/v1/queues/${queue}/consume?prefetch=${prefetch}`, ["edgeq.v1", `bearer.${token}`]);
  const errors = [];
  const ack = acker(ws, prefetch);
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "messages") onMessages(frame.messages, ack);
    else if (frame.type === "error") errors.push(frame);
  });
  return { ws, errors };
}

/** As client/stream.ts. */
const ACK_DELAY_MS = 20;

let ackId = 0;

/** Acks for one stream, sent as consume() sends them; answers `ack(messages)`. */
function acker(ws, prefetch) {
  let pending = [];
  let timer = null;
  const flush = () => {
    clearTimeout(timer);
    timer = null;
    if (pending.length > 0) ws.send(JSON.stringify({ type: "ack", id: ++ackId, receipts: pending.splice(0) }));
  };
  return (messages) => {
    pending.push(...messages.map((m) => m.receipt));
    if (pending.length * 2 >= prefetch) flush();
    else timer ??= setTimeout(flush, ACK_DELAY_MS);
  };
}

async function enqueueBacklog(server, queue, total) {
  const q = api(server);
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < total) {
        const from = sent;
        sent += 100;
        const res = await q.send(queue, { messages: Array.from({ length: Math.min(100, total - from) }, (_, i) => ({ body: body(from + i) })) });
        if (res.status !== 201) throw new Error(`enqueue answered ${res.status}: ${res.text.slice(0, 200)}`);
      }
    }),
  );
}

/** Echo round trips through the limits worker's Durable Object, `inFlight` frames at a time, for `ms`. */
async function echoClosedLoop(server, inFlight, ms) {
  const ws = await connect(`${wsUrl(server.limitsUrl)}/echo?object=echo-closed`);
  const frame = JSON.stringify({ type: "ack", id: 1, receipts: Array.from({ length: 10 }, () => `0.12345.${"x".repeat(34)}`) });
  let echoed = 0;
  let stopAt = Infinity;
  const done = new Promise((resolve) => {
    ws.addEventListener("message", () => {
      echoed += 1;
      if (performance.now() < stopAt) ws.send(frame);
      else if (--inFlightLeft === 0) resolve();
    });
  });
  let inFlightLeft = inFlight;
  // Warm-up, then the measured window.
  for (let i = 0; i < inFlight; i++) ws.send(frame);
  await sleep(300);
  const e0 = echoed;
  const t0 = performance.now();
  stopAt = t0 + ms;
  await done;
  const seconds = (performance.now() - t0) / 1000;
  ws.close();
  return { perSec: (echoed - e0) / seconds };
}

/** Echo round trips at `rate` frames a second (open loop) for `ms`: latency from sent to echoed. */
async function echoOpenLoop(server, rate, ms) {
  const ws = await connect(`${wsUrl(server.limitsUrl)}/echo?object=echo-open`);
  const sentAt = new Map();
  const latencies = [];
  ws.addEventListener("message", (event) => {
    const n = JSON.parse(event.data).n;
    latencies.push(performance.now() - sentAt.get(n));
  });
  const total = Math.round((rate * ms) / 1000);
  const pad = "x".repeat(200);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt.set(i, performance.now());
    ws.send(JSON.stringify({ n: i, pad }));
  }
  const end = performance.now() + 5_000;
  while (latencies.length < total && performance.now() < end) await sleep(5);
  ws.close();
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, total, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
}

/** The backlog S1 drains: a fresh queue with `total` messages. */
export async function s1Backlog(server, T) {
  const total = Math.max(5_000, Math.round(20_000 * T));
  const queue = freshQueue("s1");
  await enqueueBacklog(server, queue, total);
  return { queue, total };
}

/** S1: one stream drains a backlog (made now unless given) with `prefetch` (default 10); each push acked in one frame as it arrives. */
export async function s1(server, T, backlog, prefetch = 10) {
  const { queue, total } = backlog ?? (await s1Backlog(server, T));
  let received = 0;
  let acked = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const t0 = performance.now();
  const { ws, errors } = await openStream(server, queue, prefetch, (messages, ack) => {
    received += messages.length;
    ack(messages);
  });
  ws.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type !== "results") return;
    acked += frame.results.filter((r) => r.ok).length;
    if (acked >= total) done();
  });
  const timeout = sleep(120_000).then(() => "timeout");
  if ((await Promise.race([finished, timeout])) === "timeout") throw new Error(`S1: acked ${acked} of ${total} in 120 s`);
  const seconds = (performance.now() - t0) / 1000;
  ws.close();
  if (errors.length > 0) throw new Error(`S1: error frames ${JSON.stringify(errors.slice(0, 3))}`);
  return { total, received, acked, seconds, perSec: acked / seconds };
}

/**
 * S2: single enqueues at S2_RATE a second (open loop) while one stream
 * (prefetch 10) acks each push; with `consumer: false`, the enqueues alone.
 */
export async function s2(server, T, { consumer = true } = {}) {
  const queue = freshQueue("s2");
  const q = api(server);
  const warm = await q.send(queue, { body: "warm" });
  if (warm.status !== 201) throw new Error(`S2: enqueue answered ${warm.status}`);
  const sentAt = new Map();
  const latencies = [];
  const onMessages = (messages, ack) => {
    const now = performance.now();
    for (const m of messages) {
      const s = sentAt.get(m.body?.n);
      if (s !== undefined) latencies.push(now - s);
    }
    ack(messages);
  };
  const { ws, errors } = consumer ? await openStream(server, queue, 10, onMessages) : { ws: null, errors: [] };
  await sleep(300);
  const total = Math.round(S2_RATE * 10 * T);
  const sends = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / S2_RATE - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt.set(i, performance.now());
    sends.push(request("POST", `${server.url}/v1/queues/${queue}/messages`, { body: { body: { n: i } }, headers: AUTH }));
  }
  const answers = await Promise.all(sends);
  const enqueueMs = answers.map((a) => a.ms).sort((x, y) => x - y);
  const end = performance.now() + 10_000;
  while (consumer && latencies.length < total && performance.now() < end) await sleep(5);
  ws?.close();
  if (errors.length > 0) throw new Error(`S2: error frames ${JSON.stringify(errors.slice(0, 3))}`);
  latencies.sort((a, b) => a - b);
  return {
    total,
    received: latencies.length,
    failed: answers.filter((a) => a.status !== 201).length,
    enqueueP50: percentile(enqueueMs, 50),
    enqueueP99: percentile(enqueueMs, 99),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

/** The rows of S1 and S2, each after its floor (the floor first, in the same run). */
export async function consumeWorkloads(server, T) {
  const rows = [];
  const echo10 = await echoClosedLoop(server, 10, 3_000 * T);
  const floor1 = {
    workload: "limit",
    case: "no-op WebSocket (DO) echo, 10 frames in flight",
    value: echo10.perSec,
    unit: "frames/s",
    key: "echoC10",
  };
  rows.push(floor1);
  const a = await s1(server, T);
  rows.push({
    workload: "S1",
    case: "stream: one consumer, prefetch 10, draining a backlog",
    value: a.perSec,
    unit: "msg/s",
    limit: floor1.case,
    limitValue: floor1.value,
    ratio: a.perSec / floor1.value,
    note: `${a.acked} of ${a.total} acked in ${a.seconds.toFixed(2)} s, acked as consume() acks; ratio: messages a second over echo round trips a second`,
  });
  // The same with a window of 100: what a round of the stream (an ack, a commit, a push) costs beside what a message does.
  const wide = await s1(server, T, undefined, 100);
  rows.push({
    workload: "S1",
    case: "stream: one consumer, prefetch 100, draining a backlog",
    value: wide.perSec,
    unit: "msg/s",
    note: `${wide.acked} of ${wide.total} acked in ${wide.seconds.toFixed(2)} s (no target: beside the row above, how much of it is per round)`,
  });
  const echoOpen = await echoOpenLoop(server, S2_RATE, 10_000 * T);
  const floor2 = {
    workload: "limit",
    case: `no-op WebSocket (DO) echo, open loop at ${S2_RATE} frames/s: p99`,
    value: echoOpen.p99,
    unit: "ms",
    p50: echoOpen.p50,
    p95: echoOpen.p95,
    p99: echoOpen.p99,
    note: `${echoOpen.count} of ${echoOpen.total} frames echoed, sent on schedule, latency from sent to echoed`,
    key: "echoOpen500",
  };
  rows.push(floor2);
  const b = await s2(server, T);
  rows.push({
    workload: "S2",
    case: `stream: end to end at ${S2_RATE} msg/s, one consumer`,
    value: b.p99,
    unit: "ms",
    p50: b.p50,
    p95: b.p95,
    p99: b.p99,
    limit: floor2.case,
    limitValue: floor2.value,
    ratio: b.p99 / floor2.value,
    note:
      `${b.received} of ${b.total} pushed${b.failed ? `, ${b.failed} enqueues failed` : ""}; single enqueues over HTTP on schedule, ` +
      `latency from the enqueue sent to its push received (the enqueue's own answer: p50 ${b.enqueueP50?.toFixed(2)} ms, p99 ${b.enqueueP99?.toFixed(2)} ms); ` +
      `prefetch 10, acked as consume() acks (at once at half the prefetch, else within ${ACK_DELAY_MS} ms); ratio: this p99 over the floor's p99`,
  });
  const alone = await s2(server, T, { consumer: false });
  rows.push({
    workload: "S2",
    case: `enqueue alone at ${S2_RATE} msg/s, no consumer: sent to answered`,
    value: alone.enqueueP99,
    unit: "ms",
    p50: alone.enqueueP50,
    p99: alone.enqueueP99,
    note: "no target: the enqueue's own latency at the same rate, without a consumer (a push is sent when the enqueue's commit is durable, as its answer is)",
  });
  return rows;
}
