/**
 * Consume streams inside workerd, through the Worker (SELF) and inside the
 * partition object: what is pushed and when, settling on the socket with
 * the same fencing as over HTTP, the credit kept across hibernation, what a
 * closing, expiring or orphaned stream gives back, and what an idle one costs.
 */
import { SELF, env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../client/protocol";
import { mintToken } from "../client/tokens";
import { ADMIN_TOKEN, BASE, call, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { openStream } from "./stream-socket";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rows = (q: string) =>
  runInDurableObject(partition(q), (_, state) =>
    state.storage.sql.exec<{ body: string; attempts: number; last_error: string | null }>("SELECT body, attempts, last_error FROM messages ORDER BY seq").toArray(),
  );

describe("consume streams: pushes and settling", () => {
  it("welcomes, pushes up to the prefetch, and pushes again as acks free credit", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const s = await openStream(q, { prefetch: 2, visibilityTimeoutMs: 45_000 });
    await s.until((t) => t.messages().length === 2);
    expect(s.frames[0]).toEqual({ type: "welcome", version: 1, queue: q, partition: 0, partitions: 1, prefetch: 2, visibilityTimeoutMs: 45_000 });
    const [first] = s.messages();
    expect(first).toMatchObject({ body: 1, attributes: {}, attempts: 1 });
    expect(first.receipt).toMatch(/^0\.\d+\.[A-Za-z0-9_-]{34}$/);
    expect(first.leaseExpiresAt - Date.now()).toBeGreaterThan(40_000);
    const receipts = s.messages().map((m) => m.receipt);
    expect(await s.settle("ack", receipts)).toEqual(receipts.map((receipt) => ({ receipt, ok: true })));
    await s.until((t) => t.messages().length === 3);
    expect(s.messages().map((m) => m.body)).toEqual([1, 2, 3]);
    expect(await stats(q)).toMatchObject({ inFlight: 1, ready: 0 });
    s.close();
  });

  it("an enqueue pushes to a waiting stream in its own commit", async () => {
    const q = uniqueQueue("st");
    const s = await openStream(q, { prefetch: 5 });
    await send(q, { body: "now" });
    // Leased by the time the enqueue answered.
    expect(await stats(q)).toMatchObject({ inFlight: 1, ready: 0 });
    await s.until((t) => t.messages().length === 1);
    s.close();
  });

  it("nack, extend and release on the socket do what they do over HTTP", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: "n" }, { body: "e" }, { body: "r" }] });
    const s = await openStream(q, { prefetch: 3 });
    await s.until((t) => t.messages().length === 3);
    const [n, e, r] = s.messages();
    expect(await s.settle("nack", [n.receipt], { delayMs: 60_000, error: "not yet" })).toEqual([{ receipt: n.receipt, ok: true }]);
    const [extended] = await s.settle("extend", [e.receipt], { visibilityTimeoutMs: 120_000 });
    expect(extended.ok).toBe(true);
    expect(extended.leaseExpiresAt! - Date.now()).toBeGreaterThan(110_000);
    expect(await s.settle("release", [r.receipt])).toEqual([{ receipt: r.receipt, ok: true }]);
    // Released: back untouched, and pushed again to the stream (its credit is free), the attempt not counted.
    await s.until((t) => t.messages().length === 4);
    expect(s.messages()[3]).toMatchObject({ body: "r", attempts: 1 });
    expect(await stats(q)).toMatchObject({ delayed: 1, inFlight: 2, ready: 0 });
    expect((await rows(q)).find((m) => m.body === '"n"')).toMatchObject({ attempts: 1, last_error: "not yet" });
    s.close();
  });

  it("settling is fenced as over HTTP: a stale receipt is LEASE_LOST, a settled one NOT_FOUND", async () => {
    const q = uniqueQueue("st");
    await send(q, { body: "x" });
    const [viaHttp] = await receive(q, { visibilityTimeoutMs: 1_000 });
    await sleep(1_100);
    const s = await openStream(q, { prefetch: 1 });
    // The expired lease was swept; the stream has the message under a new lease.
    await s.until((t) => t.messages().length === 1);
    expect(s.messages()[0].attempts).toBe(2);
    expect(await s.settle("ack", [viaHttp.receipt])).toEqual([{ receipt: viaHttp.receipt, ok: false, code: "LEASE_LOST" }]);
    const receipt = s.messages()[0].receipt;
    expect(await s.settle("ack", [receipt])).toEqual([{ receipt, ok: true }]);
    expect(await s.settle("ack", [receipt])).toEqual([{ receipt, ok: false, code: "NOT_FOUND" }]);
    // A receipt of the stream is a receipt: it settles over HTTP too.
    await send(q, { body: "y" });
    await s.until((t) => t.messages().length === 2);
    expect(await settle(q, "ack", { receipts: [s.messages()[1].receipt] })).toEqual([{ receipt: s.messages()[1].receipt, ok: true }]);
    s.close();
  });

  it("splits a push of large messages over frames", async () => {
    const q = uniqueQueue("st");
    const big = "x".repeat(250_000);
    for (const from of [0, 3]) await send(q, { messages: Array.from({ length: 3 }, (_, i) => ({ body: `${from + i}${big}` })) });
    const s = await openStream(q, { prefetch: 6 });
    await s.until((t) => t.messages().length === 6);
    const pushes = s.frames.filter((f) => f.type === "messages");
    expect(pushes.length).toBeGreaterThanOrEqual(2);
    expect(s.messages().map((m) => (m.body as string)[0])).toEqual(["0", "1", "2", "3", "4", "5"]);
    s.close();
  });

  it("bounds the settle frames awaiting their results; one past the bound is refused RATE_LIMITED, not queued", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    const s = await openStream(q, { prefetch: 2 });
    await s.until((t) => t.messages().length === 2);
    const [a, b] = s.messages();
    // The stream's owner id starts its lease tokens; as if it had the most frames awaiting their results already.
    const owner = a.receipt.split(".")[2].slice(0, 12);
    const pending = (n: number | null) =>
      runInDurableObject(partition(q), (instance) => {
        const frames = (instance as unknown as { streams: { pendingFrames: Map<string, number> } }).streams.pendingFrames;
        if (n === null) frames.delete(owner);
        else frames.set(owner, n);
      });
    await pending(LIMITS.maxPendingFrames);
    const from = s.frames.length;
    s.send({ type: "ack", id: 7, receipts: [a.receipt] });
    await s.until((t) => t.frames.length > from);
    expect(s.frames[from]).toMatchObject({ type: "error", id: 7, code: "RATE_LIMITED" });
    expect((await stats(q)).inFlight).toBe(2);
    await pending(null);
    // Many at once: each is answered, in order.
    const receipts = [a.receipt, b.receipt];
    const answers = await Promise.all(receipts.map((r) => s.settle("ack", [r])));
    expect(answers).toEqual(receipts.map((receipt) => [{ receipt, ok: true }]));
    s.close();
  });
});

describe("consume streams: what they hold, and giving it back", () => {
  it("a closed stream gives back what it holds at once, each a failed attempt", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: "a" }, { body: "b" }] });
    const s = await openStream(q, { prefetch: 2, visibilityTimeoutMs: 60_000 });
    await s.until((t) => t.messages().length === 2);
    s.close();
    await s.until((t) => t.closed !== null);
    await sleep(50);
    expect(await stats(q)).toMatchObject({ ready: 2, inFlight: 0, delayed: 0 });
    expect(await rows(q)).toEqual([
      { body: '"a"', attempts: 1, last_error: "consumer disconnected" },
      { body: '"b"', attempts: 1, last_error: "consumer disconnected" },
    ]);
    expect((await receive(q, { max: 2 })).map((m) => m.attempts)).toEqual([2, 2]);
  });

  it("the credit is counted from the leases: it holds across hibernation", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    const s = await openStream(q, { prefetch: 2 });
    await s.until((t) => t.messages().length === 2);
    await evictDurableObject(partition(q)); // its sockets hibernate
    await send(q, { messages: [{ body: 3 }, { body: 4 }] });
    await sleep(100);
    expect(s.messages()).toHaveLength(2);
    await s.settle("ack", [s.messages()[0].receipt]);
    await s.until((t) => t.messages().length === 3);
    await sleep(100);
    expect(s.messages().map((m) => m.body)).toEqual([1, 2, 3]);
    s.close();
  });

  it("an idle stream costs nothing: no alarm, no request, no statement", async () => {
    const q = uniqueQueue("st");
    await send(q, { body: "once" });
    const s = await openStream(q, { prefetch: 1 });
    await s.until((t) => t.messages().length === 1);
    await s.settle("ack", [s.messages()[0].receipt]);
    const stub = partition(q);
    // The counters' and the dedup window's sweep is all that is left to do: run it now.
    await runDurableObjectAlarm(stub);
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeNull();
    const before = await stub.meter();
    await sleep(1_000);
    const after = await stub.meter();
    expect({ requests: after.requests - before.requests, statements: after.statements - before.statements, alarms: after.alarms - before.alarms }).toEqual({
      requests: 0,
      statements: 0,
      alarms: 0,
    });
    // Still there: a ping is answered by the runtime without waking the object, and an enqueue is pushed.
    s.send("ping");
    await s.until((t) => t.pongs === 1);
    expect((await stub.meter()).requests - after.requests).toBe(0);
    await send(q, { body: "later" });
    await s.until((t) => t.messages().length === 2);
    s.close();
  });

  it("a stream lost with the object (a restart calls no close handler) is given back by the alarm, uncounted", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: "x" }, { body: "y" }] });
    const s = await openStream(q, { prefetch: 2, visibilityTimeoutMs: 60_000 });
    await s.until((t) => t.messages().length === 2);
    await evictDurableObject(partition(q), { webSockets: "close" });
    // The new instance finds leases of a stream with no socket and wakes now.
    const alarm = await runInDurableObject(partition(q), (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeLessThanOrEqual(0);
    await runDurableObjectAlarm(partition(q));
    expect(await stats(q)).toMatchObject({ ready: 2, inFlight: 0 });
    // The partition went away, not the consumer: the attempt does not count.
    expect((await receive(q, { max: 2 })).map((m) => m.attempts)).toEqual([1, 1]);
  });

  it("a stream whose token has expired is closed (4401) and gives back what it holds, uncounted", async () => {
    const q = uniqueQueue("st");
    await send(q, { body: "held" });
    const { token } = await mintToken("test-token-secret", { scopes: ["consume"], queues: [q], expiresInSeconds: 1 });
    const s = await openStream(q, { prefetch: 5, token, visibilityTimeoutMs: 60_000 });
    await s.until((t) => t.messages().length === 1);
    await sleep(1_100);
    s.send({ type: "prefetch", prefetch: 5 });
    await s.until((t) => t.closed !== null);
    expect(s.closed).toMatchObject({ code: 4401 });
    await sleep(50);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
    expect((await receive(q))[0].attempts).toBe(1);
  });

  it("a queue that starts to push closes its streams (4409), gives back what they held, and refuses new ones (409)", async () => {
    const q = uniqueQueue("st");
    await send(q, { body: "held" });
    const s = await openStream(q, { prefetch: 5, visibilityTimeoutMs: 60_000 });
    await s.until((t) => t.messages().length === 1);
    const res = await call("PUT", `/v1/queues/${q}`, { push: { url: "https://hooks.test/ok" } });
    expect(res.status, res.text).toBeLessThan(300);
    await s.until((t) => t.closed !== null);
    expect(s.closed).toMatchObject({ code: 4409 });
    const rows = await runInDurableObject(partition(q), (_, state) => state.storage.sql.exec<{ attempts: number }>("SELECT attempts FROM messages").toArray());
    expect(rows).toEqual([{ attempts: 0 }]);
    const again = await SELF.fetch(`${BASE}/v1/queues/${q}/consume`, { headers: { upgrade: "websocket", authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("CONFLICT");
  });

  it("tells streams when the queue gains partitions, and closes them (4404) when it is deleted", async () => {
    const q = uniqueQueue("st");
    const s = await openStream(q, { prefetch: 1 });
    expect((await call("PUT", `/v1/queues/${q}`, { partitions: 3 })).status).toBe(200);
    await s.until((t) => t.frames.some((f) => f.type === "partitions"));
    expect(s.frames.find((f) => f.type === "partitions")).toEqual({ type: "partitions", partitions: 3 });
    const other = await openStream(q, { partition: 2 });
    await other.until((t) => t.frames.length > 0);
    expect(other.frames[0]).toMatchObject({ type: "welcome", partition: 2, partitions: 3 });
    expect((await call("DELETE", `/v1/queues/${q}`)).status).toBeLessThan(300);
    await s.until((t) => t.closed !== null);
    expect(s.closed).toMatchObject({ code: 4404 });
  });
});

describe("consume streams: the upgrade", () => {
  const url = (q: string, query = "") => `${BASE}/v1/queues/${q}/consume${query}`;
  const upgrade = (headers: Record<string, string>) => ({ headers: { upgrade: "websocket", ...headers } });

  it("answers the version it speaks; a plain request is told to upgrade, after every other check", async () => {
    const q = uniqueQueue("st");
    const res = await SELF.fetch(url(q), upgrade({ "sec-websocket-protocol": `edgeq.v1, bearer.${ADMIN_TOKEN}` }));
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("edgeq.v1");
    res.webSocket!.accept();
    res.webSocket!.close();
    const plain = await SELF.fetch(url(q), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe("INVALID_REQUEST");
    const wrongPartition = await SELF.fetch(url(q, "?partition=3"), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(wrongPartition.status).toBe(422);
  });

  it("refuses a version it does not speak, a missing or bad token, and an origin CORS does not allow", async () => {
    const q = uniqueQueue("st");
    const status = async (headers: Record<string, string>) => {
      const res = await SELF.fetch(url(q), upgrade(headers));
      res.webSocket?.accept();
      res.webSocket?.close();
      return res.status === 101 ? 101 : `${res.status} ${((await res.json()) as { error: { code: string } }).error.code}`;
    };
    expect(await status({ "sec-websocket-protocol": `edgeq.v2, bearer.${ADMIN_TOKEN}` })).toBe("400 INVALID_REQUEST");
    expect(await status({ "sec-websocket-protocol": "edgeq.v1" })).toBe("401 UNAUTHORIZED");
    expect(await status({ "sec-websocket-protocol": "edgeq.v1, bearer." })).toBe("401 UNAUTHORIZED");
    expect(await status({ "sec-websocket-protocol": "edgeq.v1, bearer.not-the-token" })).toBe("401 UNAUTHORIZED");
    const publish = (await mintToken("test-token-secret", { scopes: ["publish"], queues: [q] })).token;
    expect(await status({ "sec-websocket-protocol": `edgeq.v1, bearer.${publish}` })).toBe("403 FORBIDDEN");
    expect(await status({ "sec-websocket-protocol": `edgeq.v1, bearer.${ADMIN_TOKEN}`, origin: "https://elsewhere.example" })).toBe("403 FORBIDDEN");
    // The header wins over a subprotocol token.
    expect(await status({ authorization: "Bearer nope", "sec-websocket-protocol": `edgeq.v1, bearer.${ADMIN_TOKEN}` })).toBe("401 UNAUTHORIZED");
    expect(env.QUEUE_PARTITION).toBeDefined();
  });
});
