import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { app } from "../worker/app";
import { ADMIN_TOKEN, BASE, call, get, partition, post, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { batchOf, item } from "./stub-calls";

const put = (q: string, body: unknown) => call("PUT", `/v1/queues/${q}`, body);
const del = (q: string) => call("DELETE", `/v1/queues/${q}`);

describe("PUT /v1/queues/:queue", () => {
  it("creates a queue with the defaults and the given settings, and answers the whole configuration", async () => {
    const q = uniqueQueue();
    const res = await put(q, { maxAttempts: 3, visibilityTimeoutMs: 10_000 });
    expect(res.status).toBe(201);
    expect(res.json.name).toBe(q);
    expect(res.json.config).toEqual({ ...DEFAULT_QUEUE_CONFIG, maxAttempts: 3, visibilityTimeoutMs: 10_000 });
    expect(typeof res.json.createdAt).toBe("number");
  });

  it("changes only the fields given; 200 on update", async () => {
    const q = uniqueQueue();
    await put(q, { maxAttempts: 3 });
    const res = await put(q, { backoffBaseMs: 50 });
    expect(res.status).toBe(200);
    expect(res.json.config).toMatchObject({ maxAttempts: 3, backoffBaseMs: 50 });
  });

  it("sets and clears limits (null is no limit)", async () => {
    const q = uniqueQueue();
    expect((await put(q, { maxDepth: 10, maxInFlight: 5, deliveryRatePerSec: 2.5 })).json.config).toMatchObject({
      maxDepth: 10,
      maxInFlight: 5,
      deliveryRatePerSec: 2.5,
    });
    expect((await put(q, { maxDepth: null, deliveryRatePerSec: null })).json.config).toMatchObject({
      maxDepth: null,
      maxInFlight: 5,
      deliveryRatePerSec: null,
    });
  });

  it.each([
    [{ maxAttempts: 0 }, "maxAttempts: must be an integer from 1 to 1000"],
    [{ maxAttempts: 1001 }, "maxAttempts: must be an integer from 1 to 1000"],
    [{ maxAttempts: 2.5 }, "maxAttempts: must be an integer from 1 to 1000"],
    [{ partitions: 65 }, "partitions: must be an integer from 1 to 64"],
    [{ visibilityTimeoutMs: 999 }, "visibilityTimeoutMs"],
    [{ retentionMs: 1000 }, "retentionMs"],
    [{ maxMessageBytes: 2 * 1024 * 1024 }, "maxMessageBytes"],
    [{ maxDepth: 0 }, "maxDepth: must be an integer from 1 to 1000000000 or null (no limit)"],
    [{ deliveryRatePerSec: 0 }, "deliveryRatePerSec: must be a number from 0.01"],
    [{ backoffBaseMs: 5000, backoffMaxMs: 1000 }, "backoffMaxMs (1000) must be at least backoffBaseMs (5000)"],
    [{ partitions: 4, maxInFlight: 2 }, "maxInFlight (2) must be at least partitions (4)"],
  ])("refuses %j with 422 INVALID_VALUE naming the field", async (body, message) => {
    const q = uniqueQueue();
    const res = await put(q, body);
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("INVALID_VALUE");
    expect(res.json.error.message).toContain(message);
    // Nothing was created.
    expect((await get(`/v1/queues/${q}`)).status).toBe(404);
  });

  it("checks a change against the stored values (backoffMaxMs below the stored base)", async () => {
    const q = uniqueQueue();
    await put(q, { backoffBaseMs: 10_000, backoffMaxMs: 60_000 });
    const res = await put(q, { backoffMaxMs: 5_000 });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain("backoffBaseMs (10000)");
    expect((await get(`/v1/queues/${q}`)).json.config.backoffMaxMs).toBe(60_000);
  });

  it.each([
    [{ maxAttempts: "3" }, "maxAttempts"],
    [{ paused: "yes" }, "paused"],
    [{ color: "blue" }, "color"],
    [[], "request"],
  ])("refuses the shape %j with 400 INVALID_REQUEST", async (body, field) => {
    const res = await put(uniqueQueue(), body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("INVALID_REQUEST");
    expect(res.json.error.message).toContain(field);
  });

  it("refuses a bad queue name", async () => {
    const res = await put("bad.name", {});
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe("INVALID_REQUEST");
  });

  it("pushes the change to the partition: the next operation uses it", async () => {
    const q = uniqueQueue();
    await send(q, { body: 1 });
    await put(q, { maxAttempts: 1, visibilityTimeoutMs: 5_000 });
    const [m] = await receive(q);
    expect(m.leaseExpiresAt - Date.now()).toBeLessThanOrEqual(5_000);
    await settle(q, "nack", { receipts: [m.receipt] });
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 0, deadLetters: 1 });
  });

  it("never drops or reorders stored messages when the configuration changes", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [1, 2, 3].map((body) => ({ body })) });
    await put(q, { retentionMs: 60_000, dedupWindowMs: 0, maxAttempts: 2 });
    const got = await receive(q, { max: 10 });
    expect(got.map((m) => m.body)).toEqual([1, 2, 3]);
  });

  it("ignores a late push of an older version in the partition", async () => {
    const q = uniqueQueue();
    const v1 = (await put(q, { maxAttempts: 3 })).json.config;
    await put(q, { maxAttempts: 7 });
    // A push of version 1 arriving after version 2 changes nothing.
    await partition(q).configure(v1, 1, 0);
    const m = (await send(q, { body: 1 })).messages[0];
    expect(m.id).toBeTruthy();
    const stored = await partition(q).configure({ ...v1, maxAttempts: 99 }, 0, 0);
    expect(stored.maxAttempts).toBe(7);
  });
});

describe("GET /v1/queues and /v1/queues/:queue", () => {
  it("answers the configuration and stats of one queue", async () => {
    const q = uniqueQueue();
    await put(q, { maxAttempts: 4 });
    await send(q, { messages: [{ body: 1 }, { body: 2, delayMs: 60_000 }] });
    const res = await get(`/v1/queues/${q}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: q, config: { maxAttempts: 4 }, stats: { ready: 1, delayed: 1 } });
  });

  it("404 QUEUE_NOT_FOUND for an unknown queue", async () => {
    const res = await get(`/v1/queues/${uniqueQueue()}`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("lists queues with configuration and stats, a page at a time", async () => {
    const prefix = uniqueQueue("list");
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const n of names) await put(n, {});
    await send(names[1], { body: "x" });
    const all: any[] = [];
    let cursor = `${prefix}`;
    for (;;) {
      const res = await get(`/v1/queues?limit=2&cursor=${cursor}`);
      expect(res.status).toBe(200);
      all.push(...res.json.queues);
      if (res.json.cursor === null || !res.json.cursor.startsWith(prefix)) break;
      cursor = res.json.cursor;
    }
    const mine = all.filter((x) => x.name.startsWith(prefix));
    expect(mine.map((x) => x.name)).toEqual(names);
    expect(mine[1]).toMatchObject({ config: { partitions: 1 }, stats: { ready: 1 } });
    const bare = await get(`/v1/queues?limit=1&cursor=${prefix}&stats=false`);
    expect(bare.json.queues[0].stats).toBeUndefined();
  });
});

describe("DELETE /v1/queues/:queue", () => {
  it("deletes every message in every partition, the alarm and the registry entry", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 3 });
    await send(q, { messages: Array.from({ length: 9 }, (_, i) => ({ body: i, key: `k${i}` })) });
    await send(q, { body: "later", delayMs: 60_000 });
    const [leased] = await receive(q);
    expect((await del(q)).status).toBe(200);
    expect((await get(`/v1/queues/${q}`)).status).toBe(404);
    for (let p = 0; p < 3; p++) {
      expect(await partition(q, p).stats()).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLetters: 0 });
    }
    // The old receipt finds nothing.
    const res = await post(`/v1/queues/${q}/messages/ack`, { receipts: [leased.receipt] });
    expect(res.status === 404 || res.json.results[0].ok === false).toBe(true);
  });

  it("a DELETE that did not finish leaves a tombstone: the queue is gone for readers, and repeating the DELETE finishes it", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 2 });
    await send(q, { messages: [{ body: 1, key: "a" }, { body: 2, key: "b" }] });
    // As if the DELETE had stopped after marking the registry entry.
    const reg = env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry"));
    expect(await reg.delete(q)).not.toBeNull();
    expect((await get(`/v1/queues/${q}`)).status).toBe(404);
    expect((await get(`/v1/queues?cursor=${q.slice(0, -1)}&stats=false`)).json.queues.map((x: any) => x.name)).not.toContain(q);
    expect((await del(q)).status).toBe(200);
    expect((await del(q)).status).toBe(404);
    for (const p of [0, 1]) expect((await partition(q, p).stats()).ready).toBe(0);
  });

  it("a queue created again outranks whatever its partitions kept from before", async () => {
    const q = uniqueQueue();
    await put(q, { maxAttempts: 9 });
    const reg = env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry"));
    await reg.delete(q); // tombstone; the partition still has maxAttempts 9 at its version
    const res = await put(q, { maxAttempts: 2 });
    expect(res.status).toBe(201);
    const stored = await partition(q).configure({ ...DEFAULT_QUEUE_CONFIG, maxAttempts: 9 }, 1, 0);
    expect(stored.maxAttempts).toBe(2);
  });

  it("404 for an unknown queue", async () => {
    const res = await del(uniqueQueue());
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("a deleted partition refuses enqueues until configured again, so a stale view stores nothing unseen", async () => {
    const q = uniqueQueue();
    await put(q, { maxAttempts: 2 });
    await del(q);
    const outcome = await partition(q).enqueue(batchOf([item(1)]));
    expect(outcome).toEqual({ ok: false, code: "UNCONFIGURED" });
  });

  it("an isolate that still caches a deleted queue re-resolves it (re-created with defaults under auto-create)", async () => {
    const q = uniqueQueue();
    await put(q, { maxAttempts: 2 });
    await send(q, { body: "old" }); // caches the queue in this isolate
    // Another isolate deletes it: only the registry and partitions change, not this cache.
    const record = await env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry")).delete(q);
    expect(record).not.toBeNull();
    await partition(q).destroy();
    await send(q, { body: "new" });
    const res = await get(`/v1/queues/${q}`);
    expect(res.status).toBe(200);
    expect(res.json.config).toEqual(DEFAULT_QUEUE_CONFIG);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["new"]);
  });
});

describe("pause, resume, purge", () => {
  it("a paused queue accepts enqueues and delivers nothing until resumed", async () => {
    const q = uniqueQueue();
    await send(q, { body: 1 });
    const paused = await post(`/v1/queues/${q}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json.config.paused).toBe(true);
    await send(q, { body: 2 });
    expect(await receive(q, { max: 10 })).toEqual([]);
    expect((await post(`/v1/queues/${q}/resume`)).json.config.paused).toBe(false);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual([1, 2]);
  });

  it("pause of an unknown queue is 404", async () => {
    const res = await post(`/v1/queues/${uniqueQueue()}/pause`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("purge deletes ready and delayed messages in every partition, not leased ones", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 2 });
    await send(q, { messages: [{ body: "a", key: "a" }, { body: "b", key: "b" }, { body: "c", key: "c" }] });
    await send(q, { body: "d", delayMs: 60_000 });
    const [leased] = await receive(q);
    const res = await post(`/v1/queues/${q}/purge`);
    expect(res.status).toBe(200);
    expect(res.json.purged).toBe(3);
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 0, inFlight: 1 });
    expect((await settle(q, "ack", { receipts: [leased.receipt] }))[0].ok).toBe(true);
  });
});

describe("peek", () => {
  it("browses messages in order with their state, across partitions, without leasing", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 2 });
    await send(q, { messages: [1, 2, 3, 4].map((n) => ({ body: { n }, groupId: "g0" })) });
    await send(q, { messages: [5, 6].map((n) => ({ body: { n }, key: "other-key-1" })) });
    await send(q, { body: { n: 7 }, delayMs: 60_000, attributes: { a: "b" } });
    const [leased] = await receive(q);
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/queues/${q}/messages?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.json.messages);
      cursor = res.json.cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(seen.map((m) => m.body.n).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const g0 = seen.filter((m) => m.groupId === "g0");
    expect(g0.map((m) => m.body.n)).toEqual([1, 2, 3, 4]);
    const byState = Object.fromEntries(seen.map((m) => [m.body.n, m.state]));
    expect(byState[7]).toBe("delayed");
    expect(seen.find((m) => m.id === leased.id).state).toBe("inFlight");
    expect(seen.find((m) => m.body.n === 7).attributes).toEqual({ a: "b" });
    // Nothing was leased by looking.
    expect(await stats(q)).toMatchObject({ ready: 5, delayed: 1, inFlight: 1 });
  });
});

describe("EDGEQ_AUTO_CREATE_QUEUES=false", () => {
  const strict = { ...env, EDGEQ_AUTO_CREATE_QUEUES: "false" } as Env;
  const fetchStrict = (method: string, path: string, body?: unknown) =>
    app.fetch(
      new Request(`${BASE}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      strict,
      createExecutionContext(),
    );

  it.each([
    ["POST", "/messages", { body: 1 }],
    ["POST", "/messages/receive", {}],
    ["GET", "/messages", undefined],
    ["POST", "/messages/ack", { receipts: ["0.1.AAAAAAAAAAAAAAAAAAAAAA"] }],
    ["GET", "/stats", undefined],
    ["GET", "/dead-letters", undefined],
    ["GET", "", undefined],
    ["DELETE", "", undefined],
    ["POST", "/pause", undefined],
    ["POST", "/purge", undefined],
  ])("%s <queue>%s on an unknown queue is 404 QUEUE_NOT_FOUND", async (method, suffix, body) => {
    const q = uniqueQueue();
    const res = await fetchStrict(method, `/v1/queues/${q}${suffix}`, body);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("a queue created with PUT works", async () => {
    const q = uniqueQueue();
    expect((await fetchStrict("PUT", `/v1/queues/${q}`, {})).status).toBe(201);
    expect((await fetchStrict("POST", `/v1/queues/${q}/messages`, { body: 1 })).status).toBe(201);
  });

  it("after a DELETE, a stale cache does not store into the deleted queue", async () => {
    const q = uniqueQueue();
    await fetchStrict("PUT", `/v1/queues/${q}`, {});
    await fetchStrict("POST", `/v1/queues/${q}/messages`, { body: 1 }); // cached
    await env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry")).delete(q);
    await partition(q).destroy();
    const res = await fetchStrict("POST", `/v1/queues/${q}/messages`, { body: 2 });
    expect(res.status).toBe(404);
    expect(await partition(q).stats()).toMatchObject({ ready: 0 });
  });
});
