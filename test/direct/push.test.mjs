// Push to a real HTTP endpoint: a Node server on loopback receives what
// edgeq, in plain workerd, POSTs from its partitions' alarms. Some requests
// fail with 500, some with 429 and Retry-After, some never answer, some
// find no server. Signatures are checked with the `standardwebhooks`
// package (and with edgeq's own `verify` helper, which a receiver uses);
// the delivery rate and maxInFlight are watched from the receiving side.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verify, WebhookVerificationError } from "../../client/verify.ts";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "push-test-admin-token";
let worker;
let server;
let base;

/**
 * What the server received, by queue. How it answers is said by the path:
 * /ok, /fail-first/<n>/<status>[/<retry-after>] (that answer for the
 * queue's first n requests), /hold/<ms> (answer 204 after ms), /hang (never).
 */
const log = new Map();
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const delivery = JSON.parse(body);
      const list = log.get(delivery.queue) ?? [];
      const entry = { at: Date.now(), headers: req.headers, body, delivery, path: req.url };
      list.push(entry);
      log.set(delivery.queue, list);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const answer = (status, headers = {}) => {
        inFlight -= 1;
        res.writeHead(status, headers).end();
      };
      const parts = req.url.split("/").filter(Boolean);
      if (parts[0] === "fail-first" && list.length <= Number(parts[1])) {
        const retryAfter = parts[3] === undefined ? {} : { "retry-after": parts[3] === "date" ? new Date(Date.now() + 2000).toUTCString() : parts[3] };
        return answer(Number(parts[2]), retryAfter);
      }
      if (parts[0] === "hold") return setTimeout(() => answer(204), Number(parts[1]));
      if (parts[0] === "hang") return;
      answer(204);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "push-test-token-secret" } });
});

afterAll(async () => {
  await worker?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

let counter = 0;
const uniqueQueue = () => `push-${Date.now().toString(36)}-${(counter++).toString(36)}`;

async function call(method, path, body) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` is truthy (polling); fails after `ms`. */
async function until(check, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(25);
  }
}

const received = (queue) => log.get(queue) ?? [];
const messagesReceived = (queue) => received(queue).flatMap((r) => r.delivery.messages);
const stats = async (queue) => (await call("GET", `/v1/queues/${queue}/stats`)).json;

async function pushTo(queue, path, settings = {}, push = {}) {
  const res = await call("PUT", `/v1/queues/${queue}`, { ...settings, push: { url: `${base}${path}`, ...push } });
  expect(res.status).toBe(201);
  return res.json.push.signingSecret;
}

const enqueue = async (queue, messages) => {
  const res = await call("POST", `/v1/queues/${queue}/messages`, { messages });
  expect(res.status).toBe(201);
  return res.json.messages;
};

describe("push to an endpoint on loopback", () => {
  it("delivers signed batches that standardwebhooks and edgeq's verify accept", async () => {
    const q = uniqueQueue();
    const secret = await pushTo(q, "/ok", {}, { batchSize: 3, headers: { authorization: "Bearer for-the-endpoint" } });
    const sent = await enqueue(q, [{ body: { n: 1 } }, { body: { n: 2 }, attributes: { a: "b" } }, { body: "three" }, { body: [4] }]);
    await until(() => messagesReceived(q).length === 4);
    const webhook = new Webhook(secret);
    for (const r of received(q)) {
      expect(r.headers.authorization).toBe("Bearer for-the-endpoint");
      expect(webhook.verify(r.body, r.headers)).toEqual(r.delivery);
      expect(await verify(secret, r.headers, r.body)).toEqual(r.delivery);
    }
    expect(messagesReceived(q).map((m) => m.id)).toEqual(sent.map((m) => m.id));
    expect(received(q)[0].delivery.messages[1]).toMatchObject({ body: { n: 2 }, attributes: { a: "b" }, attempts: 1 });
    // verify refuses a tampered body, another secret and a stale timestamp.
    const [first] = received(q);
    await expect(verify(secret, first.headers, first.body.replace('"n":1', '"n":9'))).rejects.toBeInstanceOf(WebhookVerificationError);
    await expect(verify("whsec_" + btoa("another secret of 32 bytes......"), first.headers, first.body)).rejects.toThrow("no signature");
    await expect(verify(secret, first.headers, first.body, { now: Date.now() + 10 * 60_000 })).rejects.toThrow("timestamp");
    await until(async () => (await stats(q)).depth === 0);
  });

  it("retries batches that got 500 with the queue's backoff, under the same webhook-id, until they are acked", async () => {
    const q = uniqueQueue();
    await pushTo(q, "/fail-first/2/500", { backoffBaseMs: 200, backoffMaxMs: 400 }, { batchSize: 10 });
    await enqueue(q, [{ body: 1 }, { body: 2 }]);
    await until(() => received(q).length === 3);
    const [a, b, c] = received(q);
    expect(c.delivery.messages.map((m) => m.attempts)).toEqual([3, 3]);
    expect(new Set([a, b, c].map((r) => r.headers["webhook-id"])).size).toBe(1);
    // The backoff: at least half of 200 ms, then of 400 ms, between the tries.
    expect(b.at - a.at).toBeGreaterThanOrEqual(90);
    expect(c.at - b.at).toBeGreaterThanOrEqual(190);
    await until(async () => (await stats(q)).depth === 0);
    expect((await stats(q)).push).toMatchObject({ deliveries: 3, failures: { "5xx": 2 } });
  });

  it("a 429 with Retry-After pauses pushing that long; stats show it; then delivery goes on", async () => {
    const q = uniqueQueue();
    await pushTo(q, "/fail-first/1/429/2", { backoffBaseMs: 50, backoffMaxMs: 50 }, { batchSize: 1 });
    await enqueue(q, [{ body: 1 }]);
    await until(() => received(q).length === 1);
    const paused = await until(async () => (await stats(q)).push.pausedUntil);
    expect(paused).toBeGreaterThan(received(q)[0].at + 1500);
    await enqueue(q, [{ body: 2 }, { body: 3 }]);
    await sleep(1000);
    expect(received(q)).toHaveLength(1); // held back: nothing during the pause
    await until(() => messagesReceived(q).length === 4, 10_000);
    expect(received(q)[1].at).toBeGreaterThanOrEqual(paused - 50);
    expect((await stats(q)).push.pausedUntil).toBeNull();
  });

  it("a 503 with Retry-After as an HTTP date pauses until that date", async () => {
    const q = uniqueQueue();
    await pushTo(q, "/fail-first/1/503/date", { backoffBaseMs: 50, backoffMaxMs: 50 });
    await enqueue(q, [{ body: 1 }]);
    await until(() => received(q).length === 1);
    const paused = await until(async () => (await stats(q)).push.pausedUntil);
    // HTTP dates have whole seconds: the pause ends within a second of the two asked for.
    expect(paused - received(q)[0].at).toBeGreaterThan(900);
    expect(paused - received(q)[0].at).toBeLessThanOrEqual(2100);
    await until(() => received(q).length === 2, 10_000);
  });

  it("holds deliveryRatePerSec and maxInFlight, seen from the endpoint", async () => {
    const rated = uniqueQueue();
    await pushTo(rated, "/ok", { deliveryRatePerSec: 20 }, { batchSize: 1 });
    const started = Date.now();
    await enqueue(rated, Array.from({ length: 50 }, (_, i) => ({ body: i })));
    await until(() => messagesReceived(rated).length === 50);
    // One second's burst (20), then 20 a second: the last 30 take at least 1.5 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    const times = received(rated).map((r) => r.at);
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(20 + 20 + 1);

    maxInFlight = 0;
    const limited = uniqueQueue();
    await pushTo(limited, "/hold/50", { maxInFlight: 3 }, { batchSize: 1 });
    await enqueue(limited, Array.from({ length: 15 }, (_, i) => ({ body: i })));
    await until(() => messagesReceived(limited).length === 15);
    expect(maxInFlight).toBe(3);
  });

  it("keeps each group's order at the endpoint, failures and retries included", async () => {
    const q = uniqueQueue();
    await pushTo(q, "/fail-first/3/500", { backoffBaseMs: 20, backoffMaxMs: 40 }, { batchSize: 4 });
    const messages = Array.from({ length: 12 }, (_, i) => ({ body: { g: `g${i % 3}`, i }, groupId: `g${i % 3}` }));
    await enqueue(q, messages);
    await until(async () => (await stats(q)).depth === 0);
    // A group's messages were acked in enqueue order: each first arrived after the one before it was acked.
    const firstSeen = new Map();
    for (const r of received(q)) for (const m of r.delivery.messages) if (!firstSeen.has(m.body.i)) firstSeen.set(m.body.i, firstSeen.size);
    for (const g of ["g0", "g1", "g2"]) {
      const order = messages.filter((m) => m.body.g === g).map((m) => firstSeen.get(m.body.i));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
    for (const r of received(q)) expect(new Set(r.delivery.messages.map((m) => m.body.g)).size).toBe(r.delivery.messages.length);
  });

  it("an endpoint that never answers fails as timeout; one that is not there as a network error; both end as dead letters with that error", async () => {
    const slow = uniqueQueue();
    await pushTo(slow, "/hang", { maxAttempts: 1 }, { timeoutMs: 1000 });
    await enqueue(slow, [{ body: "slow" }]);
    const closed = createServer();
    await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = closed.address().port;
    await new Promise((resolve) => closed.close(resolve));
    const gone = uniqueQueue();
    const res = await call("PUT", `/v1/queues/${gone}`, { maxAttempts: 1, push: { url: `http://127.0.0.1:${port}/nobody` } });
    expect(res.status).toBe(201);
    await enqueue(gone, [{ body: "nowhere" }]);
    const deadOf = (q) => until(async () => (await call("GET", `/v1/queues/${q}/dead-letters`)).json.deadLetters[0]);
    expect((await deadOf(slow)).lastError).toBe("timeout");
    expect((await deadOf(gone)).lastError).toMatch(/^network error/);
    expect((await stats(slow)).push.failures.timeout).toBe(1);
    expect((await stats(gone)).push.failures.network).toBe(1);
  });
});
