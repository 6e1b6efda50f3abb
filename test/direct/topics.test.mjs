// Topics in plain workerd (Miniflare's Node API, default flags): the fan-out
// reaches the Worker's own EdgeqService through ctx.exports there too; with
// auto-create off, a subscribed queue that does not exist fails delivery,
// which is retried until the queue is created; and the runtime killed
// (SIGKILL, Node and workerd together) in the middle of fan-outs, three
// times, leaves each subscribed queue with exactly one copy of each message.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startServer, stopServer } from "../../bench/harness.mjs";
import { bundleWorker, startLocalWorker } from "../../scripts/local-edgeq.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** Calls edgeq at `url`; a request to a killed runtime answers status 0. */
async function call(url, token, method, path, body) {
  try {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, text };
  } catch (err) {
    return { status: 0, json: null, text: String(err) };
  }
}

/** Every message stored in a queue (peek: nothing leased). */
async function contents(api, queue) {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const res = await api("GET", `/v1/queues/${queue}/messages?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    if (res.status === 404) return out;
    expect(res.status, res.text).toBe(200);
    out.push(...res.json.messages);
    cursor = res.json.cursor;
    if (!cursor) return out;
  }
  return out;
}

describe("topics in plain workerd, auto-create off", () => {
  const TOKEN = "direct-topics-admin-token";
  let worker;
  const api = (method, path, body) => call(worker.url, TOKEN, method, path, body);

  beforeAll(async () => {
    worker = await startLocalWorker({
      bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "direct-topics-secret", EDGEQ_AUTO_CREATE_QUEUES: "false" },
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it("a subscribed queue that does not exist fails delivery with QUEUE_NOT_FOUND, retried until it is created", async () => {
    const [t, a, missing] = [unique("t"), unique("a"), unique("missing")];
    expect((await api("PUT", `/v1/queues/${a}`, {})).status).toBe(201);
    expect((await api("PUT", `/v1/topics/${t}`, { subscriptions: [{ queue: a }, { queue: missing }] })).status).toBe(201);
    expect((await api("POST", `/v1/topics/${t}/messages`, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] })).status).toBe(201);

    // The queue that exists gets its copies through ctx.exports, with no request from the test.
    let stats;
    for (let i = 0; i < 100; i++) {
      stats = (await api("GET", `/v1/topics/${t}/stats`)).json;
      if (stats.subscriptions[0].delivered === 3 && stats.subscriptions[1].failures > 0) break;
      await sleep(50);
    }
    expect((await contents(api, a)).map((m) => m.body)).toEqual([1, 2, 3]);
    expect(stats.subscriptions[1]).toMatchObject({ queue: missing, delivered: 0, pending: 3 });
    expect(stats.subscriptions[1].lastError).toMatch(/^QUEUE_NOT_FOUND: /);
    expect(stats.subscriptions[1].retryAt).toBeGreaterThan(Date.now() - 5_000);
    expect(stats.pending).toBe(3);
    expect((await api("GET", `/v1/queues/${missing}`)).status).toBe(404);

    // Once the queue exists, the next retry delivers, in order.
    expect((await api("PUT", `/v1/queues/${missing}`, {})).status).toBe(201);
    for (let i = 0; i < 200 && (await api("GET", `/v1/topics/${t}/stats`)).json.pending > 0; i++) await sleep(100);
    expect((await contents(api, missing)).map((m) => m.body)).toEqual([1, 2, 3]);
    expect((await api("GET", `/v1/topics/${t}/stats`)).json.subscriptions[1]).toMatchObject({ delivered: 3, failures: 0, lastError: null });
  });
});

describe("topics: the runtime killed in the middle of fan-outs", () => {
  let dir;
  let bundle;
  let server = null;
  // A runtime killed under a request answers it with status 0 (server is null meanwhile).
  const api = (method, path, body) =>
    server === null ? Promise.resolve({ status: 0, json: null, text: "down" }) : call(server.url, ADMIN_TOKEN, method, path, body);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgeq-topic-crash-"));
    bundle = await bundleWorker(dir);
  });
  afterAll(async () => {
    if (server) await stopServer(server).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const kill = async () => {
    const child = server.child;
    server = null;
    const exited = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", r)));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    await exited;
  };

  it("each subscribed queue ends with exactly one copy of each message, kill after kill", async () => {
    const persist = join(dir, "state");
    server = await startServer({ bundle, persist, detached: true });
    const [t, a, b] = ["crash-topic", "crash-fan-a", "crash-fan-b"];
    expect((await api("PUT", `/v1/queues/${b}`, { partitions: 3, dedupWindowMs: 0 })).status).toBe(201);
    expect((await api("PUT", `/v1/topics/${t}`, { subscriptions: [{ queue: a }, { queue: b, filter: { even: ["yes"] } }] })).status).toBe(201);

    const stored = new Set(); // answered 201
    const uncertain = new Set(); // no answer: may be stored
    let next = 0;
    const outboxSeen = [];
    const pad = "x".repeat(1000);
    for (let round = 0; round < 3; round++) {
      // Four lanes publish batches of 100 until the runtime dies under them. It dies the moment the
      // fourth to eighth publish is answered: that publish's fan-out has just begun, others are under way.
      let answered = 0;
      let dying = null;
      const killAfter = 4 + Math.floor(Math.random() * 5);
      const lanes = [0, 1, 2, 3].map(async () => {
        for (;;) {
          const batch = Array.from({ length: 100 }, () => next++);
          const messages = batch.map((n) => ({ body: n, attributes: { even: n % 2 === 0 ? "yes" : "no", pad } }));
          const res = await api("POST", `/v1/topics/${t}/messages`, { messages });
          for (const n of batch) (res.status === 201 ? stored : uncertain).add(n);
          if (res.status !== 201) return;
          if (++answered === killAfter) dying = kill();
        }
      });
      // Meanwhile: is the outbox seen holding messages (a fan-out under way)?
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const res = await api("GET", `/v1/topics/${t}/stats`);
          if (res.status === 200 && res.json.pending > 0) outboxSeen.push(res.json.pending);
          await sleep(2);
        }
      })();
      while (dying === null) await sleep(1);
      await dying;
      sampling = false;
      await Promise.all([...lanes, sampler]);
      server = await startServer({ bundle, persist, detached: true });
    }
    // The fan-outs under way when the runtime died go on after the restart.
    let stats;
    for (let i = 0; i < 300; i++) {
      stats = (await api("GET", `/v1/topics/${t}/stats`)).json;
      if (stats?.pending === 0) break;
      await sleep(100);
    }
    expect(stats.pending).toBe(0);
    expect(outboxSeen.length, "stats that found the outbox holding messages").toBeGreaterThanOrEqual(1);

    const copies = async (queue) => {
      const count = new Map();
      for (const m of await contents(api, queue)) count.set(m.body, (count.get(m.body) ?? 0) + 1);
      return count;
    };
    const [inA, inB] = [await copies(a), await copies(b)];
    for (const [queue, count, takes] of [
      [a, inA, () => true],
      [b, inB, (n) => n % 2 === 0],
    ]) {
      const twice = [...count].filter(([, c]) => c > 1).map(([n]) => n);
      expect(twice, `${queue}: messages stored twice`).toEqual([]);
      const lost = [...stored].filter((n) => takes(n) && !count.has(n));
      expect(lost, `${queue}: acknowledged messages missing`).toEqual([]);
      const strangers = [...count.keys()].filter((n) => !takes(n) || (!stored.has(n) && !uncertain.has(n)));
      expect(strangers, `${queue}: messages it should not hold`).toEqual([]);
    }
    expect(stats.subscriptions.map((s) => s.failures)).toEqual([0, 0]);
    await stopServer(server);
    server = null;
  }, 120_000);
});
