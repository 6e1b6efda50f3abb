// Concurrent enqueues over HTTP against edgeq in plain workerd with its
// default flags (vitest's runner Worker changes how promises cross
// requests): each request is answered with its own message, maxDepth holds
// across them, and producers that leave mid-request change nothing for the
// others. Each request sends its own RPC; they meet in the partition's
// group commit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "direct-test-admin-token";
let worker;

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "direct-test-token-secret" } });
});

afterAll(async () => {
  await worker?.stop();
});

let counter = 0;
const uniqueQueue = () => `enq-${Date.now().toString(36)}-${(counter++).toString(36)}`;

async function call(method, path, body, signal) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  return { status: res.status, json: await res.json() };
}

const enqueue = (queue, body, signal) => call("POST", `/v1/queues/${queue}/messages`, { body }, signal);

/** Every message of a queue, leased and acked, in order. */
async function drain(queue) {
  const got = [];
  for (;;) {
    const { json } = await call("POST", `/v1/queues/${queue}/messages/receive`, { max: 100, visibilityTimeoutMs: 60_000 });
    if (json.messages.length === 0) return got;
    got.push(...json.messages);
    await call("POST", `/v1/queues/${queue}/messages/ack`, { receipts: json.messages.map((m) => m.receipt) });
  }
}

describe("concurrent enqueues over HTTP", () => {
  it("concurrent enqueues are each answered with their own message, none lost or doubled", async () => {
    const queue = uniqueQueue();
    expect((await enqueue(queue, "warm")).status).toBe(201);
    const n = 64;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => enqueue(queue, { i })));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    const seqs = answers.map((a) => a.json.messages[0].seq);
    expect(new Set(seqs).size).toBe(n);
    const messages = await drain(queue);
    const bySeq = new Map(messages.map((m) => [m.seq, m]));
    // Each answer names the message its own request sent.
    answers.forEach((a, i) => expect(bySeq.get(a.json.messages[0].seq)?.body).toEqual({ i }));
    expect(messages).toHaveLength(n + 1);
  });

  it("maxDepth holds under concurrent requests: exactly the room is stored, the rest refused with 429", async () => {
    const queue = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${queue}`, { maxDepth: 10 })).status).toBeLessThan(300);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => enqueue(queue, { i })));
    const stored = answers.filter((a) => a.status === 201);
    expect(stored).toHaveLength(10);
    expect(answers.filter((a) => a.status === 429).every((a) => a.json.error.code === "QUEUE_FULL")).toBe(true);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30);
    const messages = await drain(queue);
    expect(messages.map((m) => m.seq).sort((a, b) => a - b)).toEqual(stored.map((a) => a.json.messages[0].seq).sort((a, b) => a - b));
  });

  it("producers that leave mid-request hold up nobody, and every answered enqueue is stored", async () => {
    const queue = uniqueQueue();
    expect((await enqueue(queue, "warm")).status).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        const abort = new AbortController();
        const sent = enqueue(queue, { i }, abort.signal);
        if (i % 2 === 1) setTimeout(() => abort.abort(), i % 4 === 1 ? 0 : 5 + (i % 5) * 5);
        return sent.catch(() => null); // aborted: no answer
      }),
    );
    // The others go on: a round of enqueues after them is answered at once.
    const started = Date.now();
    const later = await Promise.all(Array.from({ length: 16 }, (_, i) => enqueue(queue, { later: i })));
    expect(later.map((a) => a.status)).toEqual(later.map(() => 201));
    expect(Date.now() - started).toBeLessThan(2_000);
    const answered = [...answers, ...later].filter((a) => a?.status === 201);
    expect(answered.length).toBeGreaterThanOrEqual(24 + 16);
    const stored = new Set((await drain(queue)).map((m) => m.id));
    for (const a of answered) expect(stored.has(a.json.messages[0].id)).toBe(true);
  });
});
