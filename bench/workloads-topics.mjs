// T1: publishing to a topic with two subscriptions (edgeq's own workload,
// not one of issue 7's). Rows as in workloads.mjs:
//   - publish throughput, single messages at c32 and batches of 100 at c8,
//     while the fan-out runs; with the time the outbox then takes to empty;
//   - fan-out lag at an open-loop 200 msg/s: from the publish being sent to
//     its copy being stored in each queue (the copy's enqueuedAt, same clock),
//     and to a long-polling consumer getting it.
import { closedLoop, percentile, request } from "./http.mjs";
import { AUTH, api } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
const fresh = (prefix) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
const NOTE = "x".repeat(48);

function expectStatus(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.text ? JSON.parse(res.text) : null;
}

/** A topic with two subscriptions, each to a queue of its own. */
async function topicWithTwoQueues(server, prefix) {
  const [topic, a, b] = [fresh(`${prefix}t`), fresh(`${prefix}a`), fresh(`${prefix}b`)];
  for (const q of [a, b]) expectStatus(await api(server).configure(q, {}), 201, "PUT queue");
  const put = await request("PUT", `${server.url}/v1/topics/${topic}`, { body: { subscriptions: [{ queue: a }, { queue: b }] }, headers: AUTH });
  expectStatus(put, 201, "PUT topic");
  return { topic, queues: [a, b] };
}

const publish = (server, topic, body) => request("POST", `${server.url}/v1/topics/${topic}/messages`, { body, headers: AUTH });
const topicStats = async (server, topic) =>
  expectStatus(await request("GET", `${server.url}/v1/topics/${topic}/stats`, { headers: AUTH }), 200, "topic stats");

/** Waits for the outbox to empty; answers the ms it took (null past `timeoutMs`). */
async function outboxEmpties(server, topic, timeoutMs) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if ((await topicStats(server, topic)).pending === 0) return performance.now() - t0;
    await sleep(20);
  }
  return null;
}

async function throughput(server, T, { concurrency, size }) {
  const { topic, queues } = await topicWithTwoQueues(server, "t1p");
  let n = 0;
  const r = await closedLoop({
    concurrency,
    durationMs: 5000 * T,
    warmupMs: 300,
    maxSteps: 1_000_000,
    step: async () => {
      const body =
        size === 1 ? { body: { n: n++, note: NOTE } } : { messages: Array.from({ length: size }, () => ({ body: { n: n++, note: NOTE } })) };
      expectStatus(await publish(server, topic, body), 201, "publish");
      return size;
    },
  });
  const drainMs = await outboxEmpties(server, topic, 120_000);
  const depths = await Promise.all(queues.map(async (q) => expectStatus(await api(server).stats(q), 200, "stats").ready));
  return {
    workload: "T1",
    case: size === 1 ? `publish single, 2 subscriptions, c${concurrency}` : `publish batch ${size}, 2 subscriptions, c${concurrency}`,
    value: r.perSec,
    unit: "msg/s",
    p50: r.p50,
    p99: r.p99,
    note:
      `${r.units} published in ${r.seconds.toFixed(1)} s (warm-up included in the queues: ${depths.join(" / ")} copies); ` +
      (drainMs === null ? "the outbox did not empty within 120 s after" : `the outbox emptied ${Math.round(drainMs)} ms after the last publish`),
  };
}

async function lag(server, T, rate) {
  const { topic, queues } = await topicWithTwoQueues(server, "t1l");
  const total = Math.max(200, Math.round(rate * 10 * T));
  const stored = [];
  const received = [];
  let got = 0;
  let producing = true;
  const consumers = queues.flatMap((queue) =>
    [0, 1].map(async () => {
      const q = api(server);
      const stopAt = performance.now() + 10_000 * T + 60_000;
      let unacked = [];
      while ((producing || got < total * 2) && performance.now() < stopAt) {
        const res = await q.receive(queue, { max: 10, waitMs: 1000, ...(unacked.length > 0 ? { ack: unacked } : {}) });
        const now = Date.now();
        const { messages } = expectStatus(res, 200, "receive");
        for (const m of messages) {
          stored.push(m.enqueuedAt - m.body.sentAt);
          received.push(now - m.body.sentAt);
          got += 1;
        }
        unacked = messages.map((m) => m.receipt);
      }
      if (unacked.length > 0) await q.ack(queue, unacked);
    }),
  );
  await sleep(200);
  const t0 = performance.now();
  const sends = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    sends.push(publish(server, topic, { body: { n: i, sentAt: Date.now() } }));
  }
  const answers = await Promise.all(sends);
  producing = false;
  await Promise.all(consumers);
  const failed = answers.filter((a) => a.status !== 201).length;
  stored.sort((a, b) => a - b);
  received.sort((a, b) => a - b);
  const note = `${total} published at ${rate}/s (open loop${failed ? `, ${failed} failed` : ""}), ${got} of ${total * 2} copies received; 2 long-polling consumers per queue`;
  return [
    {
      workload: "T1",
      case: `fan-out lag at ${rate} msg/s, publish sent to copy stored`,
      value: percentile(stored, 99),
      unit: "ms",
      p50: percentile(stored, 50),
      p99: percentile(stored, 99),
      note: `${note}; the copy's enqueuedAt minus the publish's send time (one clock); value: p99`,
    },
    {
      workload: "T1",
      case: `fan-out lag at ${rate} msg/s, publish sent to copy received`,
      value: percentile(received, 99),
      unit: "ms",
      p50: percentile(received, 50),
      p99: percentile(received, 99),
      note: `${note}; value: p99`,
    },
  ];
}

/** T1's rows. */
export async function topics(server, T) {
  return [
    await throughput(server, T, { concurrency: 32, size: 1 }),
    await throughput(server, T, { concurrency: 8, size: 100 }),
    ...(await lag(server, T, 200)),
  ];
}
