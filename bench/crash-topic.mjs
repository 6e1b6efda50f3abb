// The crash test's topic (bench/crash.mjs): a producer publishes to a topic
// with two subscriptions (one takes every message, one only those its
// filter takes) while the runtime is killed again and again, and a consumer
// drains each subscribed queue. Once the outbox is empty and the queues are
// drained it checks, for each queue: every message whose publish was
// answered 201 is there (lost: 0), and no message is stored twice
// (duplicated: 0: two copies are two different queue message ids for one
// published message; a redelivery of one copy is not a duplicate).
import { request } from "./http.mjs";
import { AUTH } from "./harness.mjs";

export const TOPIC = "crash-topic";
const QUEUES = ["crash-fan-all", "crash-fan-even"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const parse = (res) => {
  try {
    return JSON.parse(res.text);
  } catch {
    return null;
  }
};

/** Whether the queue at `index` takes message `n`. */
const takes = (index, n) => index === 0 || n % 2 === 0;

/**
 * The topic's part of the run. `client()` answers the running server's URL
 * (null while it is down); `running()` whether to go on.
 */
export function topicWorkload({ client, running, leaseMs }) {
  const published = new Set(); // answered 201
  const uncertain = new Set(); // no answer: may be stored
  const copies = QUEUES.map(() => new Map()); // n -> Set of queue message ids
  let next = 0;
  let failed = 0;
  const api = (url, method, path, body) => request(method, `${url}${path}`, { body, headers: AUTH, timeoutMs: 30_000 });

  async function configure(url) {
    for (const queue of QUEUES) {
      const res = await api(url, "PUT", `/v1/queues/${queue}`, { visibilityTimeoutMs: leaseMs, maxAttempts: 1000, backoffBaseMs: 100, backoffMaxMs: 500 });
      if (res.status !== 200 && res.status !== 201) throw new Error(`PUT /v1/queues/${queue} answered ${res.status}: ${res.text}`);
    }
    const res = await api(url, "PUT", `/v1/topics/${TOPIC}`, {
      subscriptions: [{ queue: QUEUES[0] }, { queue: QUEUES[1], filter: { even: ["yes"] } }],
    });
    if (res.status !== 200 && res.status !== 201) throw new Error(`PUT /v1/topics/${TOPIC} answered ${res.status}: ${res.text}`);
  }

  async function producer() {
    while (running()) {
      const url = client();
      if (!url) {
        await sleep(20);
        continue;
      }
      const size = 1 + Math.floor(Math.random() * 20);
      const ns = Array.from({ length: size }, () => next++);
      const messages = ns.map((n) => ({ body: { n }, attributes: { even: n % 2 === 0 ? "yes" : "no" } }));
      const res = await api(url, "POST", `/v1/topics/${TOPIC}/messages`, size === 1 ? messages[0] : { messages });
      if (res.status === 201) for (const n of ns) published.add(n);
      else {
        failed += 1;
        if (res.status === 0 || res.status >= 500) for (const n of ns) uncertain.add(n);
        await sleep(20);
      }
    }
  }

  /** One receive and ack on the queue at `index`; answers how many it got. */
  async function consumeOnce(index) {
    const url = client();
    if (!url) return 0;
    const queue = QUEUES[index];
    const res = await api(url, "POST", `/v1/queues/${queue}/messages/receive`, { max: 10, visibilityTimeoutMs: leaseMs });
    const messages = res.status === 200 ? parse(res)?.messages ?? [] : [];
    if (res.status !== 200) failed += 1;
    for (const m of messages) {
      const seen = copies[index].get(m.body.n) ?? new Set();
      seen.add(m.id);
      copies[index].set(m.body.n, seen);
    }
    if (messages.length > 0) await api(url, "POST", `/v1/queues/${queue}/messages/ack`, { receipts: messages.map((m) => m.receipt) });
    return messages.length;
  }

  async function consumer(index) {
    while (running()) if ((await consumeOnce(index)) === 0) await sleep(20);
  }

  /** Drains the outbox and both queues (until `until`), then checks; answers the summary and the failures. */
  async function drainAndCheck(until) {
    const url = client();
    let drained = false;
    while (Date.now() < until) {
      const got = (await consumeOnce(0)) + (await consumeOnce(1));
      if (got > 0) continue;
      const topic = parse(await api(url, "GET", `/v1/topics/${TOPIC}/stats`));
      const depths = await Promise.all(QUEUES.map(async (q) => parse(await api(url, "GET", `/v1/queues/${q}/stats`))));
      if (topic?.pending === 0 && depths.every((s) => s && s.ready + s.inFlight + s.delayed === 0)) {
        drained = true;
        break;
      }
      await sleep(100);
    }
    const failures = [];
    if (!drained) failures.push("topic: the outbox or its queues did not drain in time");
    const parts = QUEUES.map((queue, index) => {
      const lost = [...published].filter((n) => takes(index, n) && !copies[index].has(n));
      const duplicated = [...copies[index]].filter(([, ids]) => ids.size > 1).map(([n]) => n);
      const strangers = [...copies[index].keys()].filter((n) => !takes(index, n) || (!published.has(n) && !uncertain.has(n)));
      if (lost.length > 0) failures.push(`topic: ${queue} lost ${lost.length} published messages, e.g. ${lost.slice(0, 5).join(", ")}`);
      if (duplicated.length > 0) failures.push(`topic: ${queue} holds ${duplicated.length} messages twice, e.g. ${duplicated.slice(0, 5).join(", ")}`);
      if (strangers.length > 0) failures.push(`topic: ${queue} holds ${strangers.length} messages it should not`);
      return `${queue}: ${copies[index].size} (lost: ${lost.length}, duplicated: ${duplicated.length})`;
    });
    const line = `topic: published ${published.size} (unanswered: ${uncertain.size}), ${parts.join(", ")}, failedRequests: ${failed}`;
    return { line, failures };
  }

  return { configure, loops: () => [producer(), consumer(0), consumer(1)], drainAndCheck };
}
