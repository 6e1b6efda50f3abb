// npm run test:crash — proves that nothing acknowledged is lost.
//
// Runs edgeq in workerd (bench/server.mjs: Miniflare's Node API, state on
// disk) in a process group of its own, with producers and consumers driving
// it over HTTP, and SIGKILLs the whole group (Node and workerd) at random
// moments, EDGEQ_CRASH_KILLS times (default 10), restarting it on the same
// state each time. Half the consumers ack each batch by a request of its
// own; the others long-poll and ack each batch with their next receive
// (`ack` on the receive, which a one-partition long-poll hands to the
// partition with its wait). Then it drains the queue and checks:
//   - every message whose enqueue was answered 201 was delivered, or is a
//     dead letter for a known reason (lost: 0);
//   - no message was delivered by a receive sent after its ack was answered
//     200 with ok (deliveredAfterAck: 0);
//   - the dead letters and the queue's stats agree with what happened;
//   - a topic with two subscriptions, published to all along
//     (bench/crash-topic.mjs): each subscribed queue holds every message
//     whose publish was answered 201, once (lost: 0, duplicated: 0).
// Prints one summary line and exits non-zero on any failure; bounded to
// 5 minutes.
import { rmSync } from "node:fs";
import { topicWorkload } from "./crash-topic.mjs";
import { AUTH, api, buildWorker, startServer, stopServer, tempDir } from "./harness.mjs";
import { request, resetConnections } from "./http.mjs";

const KILLS = Number(process.env.EDGEQ_CRASH_KILLS ?? 10);
const PRODUCERS = 3;
const CONSUMERS = 4;
const QUEUE = "crash";
const LEASE_MS = 2000;
const DEADLINE = Date.now() + 5 * 60_000 - 15_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
  console.error(`crash: ${msg}`);
  process.exitCode = 1;
};
const hardStop = setTimeout(() => {
  console.error("crash: did not finish within 5 minutes");
  if (server) killGroup(server);
  process.exit(2);
}, 5 * 60_000);
hardStop.unref();

const bundle = buildWorker();
const persist = tempDir("edgeq-crash-state-");
let server = null;
let q = null;

function killGroup(s) {
  try {
    process.kill(-s.child.pid, "SIGKILL");
  } catch {}
}

async function start() {
  server = await startServer({ bundle, persist, detached: true });
  q = api(server);
}

// ------------------------------------------------------------ what happened
const enqueued = new Set(); // answered 201
const uncertain = new Set(); // sent, no answer (might be stored)
const deliveries = new Map(); // id -> count
const ackedAt = new Map(); // id -> when an ack answered 200 with ok
const ackUncertain = new Set();
const deliveredAfterAck = [];
let nextId = 0;
let running = true;
let requestsFailed = 0;
let ackedWithReceive = 0; // acks answered ok on a receive (`ackResults`)

const parse = (res) => {
  try {
    return JSON.parse(res.text);
  } catch {
    return null;
  }
};

async function producer(p) {
  while (running && Date.now() < DEADLINE) {
    if (!q) {
      await sleep(20);
      continue;
    }
    const size = 1 + Math.floor(Math.random() * 20);
    const ids = Array.from({ length: size }, () => `m-${p}-${nextId++}`);
    const res = await q.send(QUEUE, size === 1 ? { body: { id: ids[0] } } : { messages: ids.map((id) => ({ body: { id } })) });
    if (res.status === 201) for (const id of ids) enqueued.add(id);
    else {
      requestsFailed += 1;
      if (res.status === 0 || res.status >= 500) for (const id of ids) uncertain.add(id);
      await sleep(20);
    }
  }
}

/** Records a receive's messages; `sentAt` is when that receive was sent. */
function delivered(messages, sentAt) {
  for (const m of messages) {
    const id = m.body.id;
    deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
    const acked = ackedAt.get(id);
    if (acked !== undefined && acked < sentAt) deliveredAfterAck.push(id);
  }
}

/** Records the answer to acks of `messages`: the ack endpoint's or a receive's (`ackResults`). */
function ackAnswered(messages, status, results) {
  const answered = performance.now();
  if (status === 200) {
    results.forEach((r, i) => {
      if (r.ok) ackedAt.set(messages[i].body.id, answered);
    });
  } else {
    requestsFailed += 1;
    for (const m of messages) ackUncertain.add(m.body.id);
  }
}

async function consumeOnce() {
  // The runtime may be killed (and `q` cleared) between the receive and the
  // ack: both go to the server the receive went to, and fail like any request to a dead one.
  const client = q;
  if (!client) return 0;
  const sentAt = performance.now();
  const res = await client.receive(QUEUE, { max: 10, visibilityTimeoutMs: LEASE_MS });
  if (res.status !== 200) {
    requestsFailed += 1;
    await sleep(20);
    return 0;
  }
  const messages = parse(res).messages;
  delivered(messages, sentAt);
  if (messages.length === 0) return 0;
  const ack = await client.ack(QUEUE, messages.map((m) => m.receipt));
  ackAnswered(messages, ack.status, ack.status === 200 ? parse(ack).results : []);
  return messages.length;
}

/** A long-poll that acks the consumer's last batch (`state.unacked`) with it. */
async function consumeAcking(state) {
  const client = q;
  if (!client) return 0;
  const carried = state.unacked;
  state.unacked = [];
  const sentAt = performance.now();
  const res = await client.receive(QUEUE, {
    max: 10,
    visibilityTimeoutMs: LEASE_MS,
    waitMs: 300,
    ...(carried.length > 0 ? { ack: carried.map((m) => m.receipt) } : {}),
  });
  const body = res.status === 200 ? parse(res) : null;
  if (carried.length > 0) ackAnswered(carried, res.status, body?.ackResults ?? []);
  ackedWithReceive += (body?.ackResults ?? []).filter((r) => r.ok).length;
  if (!body) {
    if (carried.length === 0) requestsFailed += 1;
    await sleep(20);
    return 0;
  }
  delivered(body.messages, sentAt);
  state.unacked = body.messages;
  return body.messages.length;
}

async function consumer(index) {
  const acking = index % 2 === 1;
  const state = { unacked: [] };
  while (running && Date.now() < DEADLINE) {
    if (!q) {
      await sleep(20);
      continue;
    }
    if ((await (acking ? consumeAcking(state) : consumeOnce())) === 0) await sleep(10);
  }
  // The last batch of an acking consumer is acked on its own (or, if that fails, comes back after its lease).
  if (state.unacked.length > 0 && q) {
    const ack = await q.ack(QUEUE, state.unacked.map((m) => m.receipt));
    ackAnswered(state.unacked, ack.status, ack.status === 200 ? parse(ack).results : []);
  }
}

// ------------------------------------------------------------ the run
const t0 = Date.now();
await start();
const config = await q.configure(QUEUE, { visibilityTimeoutMs: LEASE_MS, maxAttempts: 1000, backoffBaseMs: 100, backoffMaxMs: 500 });
if (config.status !== 200 && config.status !== 201) throw new Error(`PUT /v1/queues/${QUEUE} answered ${config.status}: ${config.text}`);
const topic = topicWorkload({ client: () => (q ? server.url : null), running: () => running && Date.now() < DEADLINE, leaseMs: LEASE_MS });
await topic.configure(server.url);

const loops = [
  ...Array.from({ length: PRODUCERS }, (_, p) => producer(p)),
  ...Array.from({ length: CONSUMERS }, (_, c) => consumer(c)),
  ...topic.loops(),
];
let kills = 0;
while (kills < KILLS && Date.now() < DEADLINE - 60_000) {
  await sleep(300 + Math.random() * 1500);
  killGroup(server);
  kills += 1;
  q = null;
  await new Promise((r) => (server.child.exitCode !== null || server.child.signalCode !== null ? r() : server.child.once("exit", r)));
  resetConnections();
  await start();
}
running = false;
await Promise.all(loops);

// The test's own check: EDGEQ_CRASH_SABOTAGE=purge deletes the ready messages
// behind its back before the drain, and the run must then fail (lost > 0).
if (process.env.EDGEQ_CRASH_SABOTAGE === "purge") {
  const res = await request("POST", `${server.url}/v1/queues/${QUEUE}/purge`, { headers: AUTH });
  console.error(`crash: sabotage: purge answered ${res.status} ${res.text}`);
}

// ------------------------------------------------------------ drain and check
// Leases held by consumers at a kill end after LEASE_MS; everything comes back.
const drainUntil = Math.min(DEADLINE, Date.now() + 60_000);
let stats = null;
while (Date.now() < drainUntil) {
  const got = await consumeOnce();
  if (got > 0) continue;
  const res = await q.stats(QUEUE);
  stats = res.status === 200 ? parse(res) : null;
  if (stats && stats.ready + stats.inFlight + stats.delayed === 0) break;
  await sleep(100);
}

const topicResult = await topic.drainAndCheck(Math.min(DEADLINE, Date.now() + 60_000));
for (const failure of topicResult.failures) fail(failure);

const deadLetters = [];
for (let cursor = null, pages = 0; pages < 1000; pages++) {
  const res = await q.deadLetters(QUEUE, cursor);
  if (res.status !== 200) throw new Error(`dead letters answered ${res.status}`);
  const page = parse(res);
  deadLetters.push(...page.deadLetters);
  cursor = page.cursor;
  if (!cursor) break;
}
const dead = new Map(deadLetters.map((d) => [d.body.id, d.reason]));

const lost = [...enqueued].filter((id) => !deliveries.has(id) && !dead.has(id));
const unknownDead = deadLetters.filter((d) => !["max_attempts", "expired"].includes(d.reason) || !(enqueued.has(d.body.id) || uncertain.has(d.body.id)));
const strangers = [...deliveries.keys()].filter((id) => !enqueued.has(id) && !uncertain.has(id));
const redelivered = [...deliveries.values()].filter((n) => n > 1).length;
const acked = ackedAt.size;
const neverAcked = [...deliveries.keys()].filter((id) => !ackedAt.has(id) && !ackUncertain.has(id) && !dead.has(id));

if (!stats) fail("no stats after the drain");
else {
  if (stats.ready + stats.inFlight + stats.delayed !== 0) fail(`queue not drained: ${JSON.stringify({ ready: stats.ready, inFlight: stats.inFlight, delayed: stats.delayed })}`);
  if (stats.deadLetters !== deadLetters.length) fail(`stats say ${stats.deadLetters} dead letters, the list has ${deadLetters.length}`);
  const t = stats.totals;
  if (t) {
    // Totals are durable counters written in the same transactions: between what was answered and what was attempted.
    const within = (name, value, lo, hi) => (value < lo || value > hi) && fail(`stats totals.${name} ${value} not within [${lo}, ${hi}]`);
    within("enqueued", t.enqueued, enqueued.size, enqueued.size + uncertain.size);
    within("acked", t.acked, acked, acked + ackUncertain.size);
    within("deadLettered", t.deadLettered, deadLetters.length, deadLetters.length);
  }
}
if (lost.length > 0) fail(`lost ${lost.length} acknowledged messages, e.g. ${lost.slice(0, 5).join(", ")}`);
if (deliveredAfterAck.length > 0) fail(`${deliveredAfterAck.length} messages delivered after their ack was answered, e.g. ${deliveredAfterAck.slice(0, 5).join(", ")}`);
if (unknownDead.length > 0) fail(`${unknownDead.length} dead letters without a known reason or message`);
if (strangers.length > 0) fail(`${strangers.length} delivered messages were never sent`);
if (neverAcked.length > 0) fail(`${neverAcked.length} delivered messages were neither acked nor dead letters at the end`);
if (kills < KILLS) fail(`only ${kills} of ${KILLS} kills fitted in the time`);

console.log(
  `kills: ${kills}, enqueued: ${enqueued.size}, delivered: ${deliveries.size}, acked: ${acked} (with a receive: ${ackedWithReceive}), lost: ${lost.length}, ` +
    `redelivered: ${redelivered}, deliveredAfterAck: ${deliveredAfterAck.length}, deadLetters: ${deadLetters.length}, ` +
    `unansweredEnqueues: ${uncertain.size} (stored: ${[...uncertain].filter((id) => deliveries.has(id)).length}), ` +
    `failedRequests: ${requestsFailed}, seconds: ${Math.round((Date.now() - t0) / 1000)}`,
);
console.log(topicResult.line);
await stopServer(server);
rmSync(persist, { recursive: true, force: true });
process.exit(process.exitCode ?? 0);
