/**
 * The partition's side of long-poll, driven with raw waiter sockets: who is
 * served, how much, with what lease, and what serves them.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import type { LeasedMessage } from "../durable-objects/contract";
import { receiveMessages } from "../worker/consume";
import { partition, send, stats, uniqueQueue } from "./helpers";
import { envWithPartitionMethod, item, lease, store } from "./stub-calls";

type Stub = ReturnType<typeof partition>;

/** A waiter socket as the Worker opens it, keeping what the partition pushes and whether it closed the socket. */
async function openWaiter(stub: Stub, want = 1, visibilityTimeoutMs = 30_000) {
  const waiter = crypto.randomUUID().replace(/-/g, "");
  const res = await stub.fetch(
    `https://partition/waiters?waiter=${waiter}&want=${want}&visibilityTimeoutMs=${visibilityTimeoutMs}`,
    { headers: { upgrade: "websocket" } },
  );
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const w = { waiter, ws, pushes: [] as LeasedMessage[][], closed: false };
  ws.addEventListener("message", (event) => {
    const push = JSON.parse(event.data as string) as { type: string; messages: LeasedMessage[] };
    expect(push.type).toBe("leased");
    w.pushes.push(push.messages);
  });
  ws.addEventListener("close", () => {
    w.closed = true;
  });
  return w;
}

type Waiter = Awaited<ReturnType<typeof openWaiter>>;

/** Lets pushes in flight arrive (a push is a message over a local socket). */
const settle = () => new Promise((r) => setTimeout(r, 100));
/** The bodies each waiter got, push by push. */
const bodies = (ws: Waiter[]) => ws.map((w) => w.pushes.map((p) => p.map((m) => JSON.parse(m.body))));
const ref = (m: LeasedMessage) => ({ seq: m.seq, token: m.leaseToken });

afterEach(() => {
  vi.useRealTimers();
});

describe("waiters", () => {
  it("refuses what is not a waiter's upgrade, and a waiter out of the receive's bounds", async () => {
    const stub = partition(uniqueQueue());
    const upgrade = { headers: { upgrade: "websocket" } };
    expect((await stub.fetch("https://partition/waiters?waiter=abcdefgh&want=1&visibilityTimeoutMs=30000")).status).toBe(404);
    expect((await stub.fetch("https://partition/other", upgrade)).status).toBe(404);
    for (const query of [
      "waiter=x&want=1&visibilityTimeoutMs=30000",
      "waiter=abcdefgh&want=0&visibilityTimeoutMs=30000",
      "waiter=abcdefgh&want=101&visibilityTimeoutMs=30000",
      "waiter=abcdefgh&want=1",
      "waiter=abcdefgh&want=1&visibilityTimeoutMs=999",
      "waiter=abcdefgh&want=1&visibilityTimeoutMs=43200001",
      "waiter=abcdefgh&want=1&visibilityTimeoutMs=1e4",
    ]) {
      expect((await stub.fetch(`https://partition/waiters?${query}`, upgrade)).status, query).toBe(400);
    }
    expect(await runInDurableObject(stub, (_, state) => state.getWebSockets().length)).toBe(0);
  });

  it("an enqueue leases to the oldest waiter in its own transaction and pushes a normal lease", async () => {
    const stub = partition(uniqueQueue());
    const ws = [await openWaiter(stub, 1, 45_000), await openWaiter(stub), await openWaiter(stub)];
    const before = Date.now();
    await store(stub, [item("m")]);
    // Leased by the time the enqueue answered: no second request, no second commit.
    expect(await stub.stats()).toMatchObject({ ready: 0, inFlight: 1 });
    await vi.waitFor(() => expect(ws[0].closed).toBe(true));
    expect(bodies(ws)).toEqual([[["m"]], [], []]);
    const [m] = ws[0].pushes[0];
    expect(m.attempts).toBe(1);
    expect(m.leaseExpiresAt).toBeGreaterThanOrEqual(before + 45_000);
    expect(m.leaseExpiresAt).toBeLessThanOrEqual(Date.now() + 45_000);
    // The receipt works like any receive's: extend, then ack; a second ack finds it gone.
    expect(await stub.extend([ref(m)], 60_000)).toMatchObject([{ ok: true }]);
    expect(await stub.ack([ref(m)])).toEqual([{ ok: true }]);
    expect(await stub.ack([ref(m)])).toEqual([{ ok: false, code: "NOT_FOUND" }]);
    await settle();
    expect(bodies(ws)).toEqual([[["m"]], [], []]);
  });

  it("a waiter gets up to what it asked for; the rest goes to the next", async () => {
    const stub = partition(uniqueQueue());
    const [a, b, c] = [await openWaiter(stub, 3), await openWaiter(stub, 2), await openWaiter(stub, 2)];
    await store(stub, [item(1), item(2), item(3), item(4)]);
    await vi.waitFor(() => expect(bodies([a, b, c])).toEqual([[[1, 2, 3]], [[4]], []]));
    // Each push is a lease of its own.
    expect(a.pushes[0][0].leaseToken).not.toBe(b.pushes[0][0].leaseToken);
  });

  it("the waiter that takes the last ready message is the last asked: more waiters cost no more statements", async () => {
    const statementsOfOneEnqueue = async (waiters: number) => {
      const stub = partition(uniqueQueue());
      const ws: Waiter[] = [];
      for (let i = 0; i < waiters; i++) ws.push(await openWaiter(stub, 2));
      const before = (await stub.meter()).statements;
      await store(stub, [item("m")]);
      const after = (await stub.meter()).statements;
      await vi.waitFor(() => expect(bodies(ws)[0]).toEqual([["m"]]));
      return after - before;
    };
    const one = await statementsOfOneEnqueue(1);
    expect(one).toBeGreaterThan(0);
    expect(await statementsOfOneEnqueue(4)).toBe(one);
  });

  it("a waiter that connects while a message is ready gets it at once", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item("early")]);
    const a = await openWaiter(stub);
    await vi.waitFor(() => expect(bodies([a])).toEqual([[["early"]]]));
  });

  it("messages of one group go to one waiter at a time; the ack of the head serves the next", async () => {
    const stub = partition(uniqueQueue());
    const [a, b] = [await openWaiter(stub, 5), await openWaiter(stub, 5)];
    await store(stub, [item(1, { groupId: "g" }), item(2, { groupId: "g" }), item(3, { groupId: "h" })]);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[1, 3]], []]));
    await settle();
    expect(bodies([a, b])).toEqual([[[1, 3]], []]);
    await stub.ack([ref(a.pushes[0][0])]);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[1, 3]], [[2]]]));
  });

  it("a nack, a redrive and a resume serve waiters; a paused queue pushes nothing", async () => {
    const stub = partition(uniqueQueue());
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, maxAttempts: 1 });
    await store(stub, [item("n"), item("d")]);
    const leased = await lease(stub, 2, 30_000);
    const a = await openWaiter(stub);
    await stub.nack([ref(leased[0])], 0, "try again"); // max 1: dead letter
    await stub.nack([ref(leased[1])], 0, "try again");
    await settle();
    expect(a.pushes).toEqual([]);
    expect(await stub.redrive(null)).toEqual({ redriven: 2, remaining: 0 });
    await vi.waitFor(() => expect(bodies([a])).toEqual([[["n"]]]));

    const p = partition(uniqueQueue());
    await p.configure({ ...DEFAULT_QUEUE_CONFIG, paused: true });
    const b = await openWaiter(p);
    await store(p, [item("held")]);
    await settle();
    expect(b.pushes).toEqual([]);
    expect(await p.stats()).toMatchObject({ ready: 1, inFlight: 0 });
    await p.configure({ ...DEFAULT_QUEUE_CONFIG, paused: false });
    await vi.waitFor(() => expect(bodies([b])).toEqual([[["held"]]]));

    const r = partition(uniqueQueue());
    await store(r, [item("retry")]);
    const [m] = await lease(r, 1, 30_000);
    const w = await openWaiter(r);
    await r.nack([ref(m)], 0, null);
    await vi.waitFor(() => expect(w.pushes.map((p) => p.map((x) => x.attempts))).toEqual([[2]]));
  });

  it("maxInFlight holds pushes back until an ack makes room", async () => {
    const stub = partition(uniqueQueue());
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, maxInFlight: 2 });
    await store(stub, [item(1)]);
    const [first] = await lease(stub, 1, 30_000);
    const [a, b] = [await openWaiter(stub, 5), await openWaiter(stub, 5)];
    await store(stub, [item(2), item(3), item(4)]);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[2]], []]));
    await settle();
    expect(bodies([a, b])).toEqual([[[2]], []]);
    expect(await stub.stats()).toMatchObject({ ready: 2, inFlight: 2 });
    await stub.ack([ref(first)]);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[2]], [[3]]]));
  });

  it("the delivery rate holds pushes back; the alarm serves the next token, and the bucket is saved with the push", async () => {
    const stub = partition(uniqueQueue());
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, deliveryRatePerSec: 1 });
    const a = await openWaiter(stub, 5);
    vi.setSystemTime(start + 1); // b waits after a (with the clock stopped, both would be as old)
    const b = await openWaiter(stub, 5);
    await store(stub, [item(1), item(2), item(3)]);
    // A full bucket holds one second's worth: one token.
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[1]], []]));
    const bucket = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'bucket'").one().value,
    );
    expect(JSON.parse(bucket)).toMatchObject({ tokens: 0 });
    // No token yet: the alarm is due when the next one is.
    await evictDurableObject(stub, { webSockets: "hibernate" });
    await store(stub, [item(4)]);
    await settle();
    expect(bodies([a, b])).toEqual([[[1]], []]);
    vi.setSystemTime(start + 1_001);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[[1]], [[2]]]));
  });

  it("an expired lease serves a waiter once its backoff ends (by the alarm); a pushed lease expires like any other", async () => {
    const stub = partition(uniqueQueue());
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    const first = await openWaiter(stub, 1, 1_000);
    await store(stub, [item("x")]);
    await vi.waitFor(() => expect(first.pushes).toHaveLength(1));
    const a = await openWaiter(stub);
    vi.setSystemTime(start + 1_001);
    await runDurableObjectAlarm(stub); // the pushed lease ends unacked: retry after a backoff of 0.5..1 s
    await settle();
    expect(a.pushes).toEqual([]);
    expect(await stub.ack([ref(first.pushes[0][0])])).toEqual([{ ok: false, code: "LEASE_LOST" }]);
    vi.setSystemTime(start + 5_000);
    await runDurableObjectAlarm(stub);
    await vi.waitFor(() => expect(a.pushes.map((p) => p.map((m) => [JSON.parse(m.body), m.attempts]))).toEqual([[["x", 2]]]));
  });

  it("a Worker that says done is never served again, and its socket is closed", async () => {
    const stub = partition(uniqueQueue());
    const [a, b] = [await openWaiter(stub), await openWaiter(stub)];
    a.ws.send("done");
    await vi.waitFor(() => expect(a.closed).toBe(true));
    await store(stub, [item("for b")]);
    await vi.waitFor(() => expect(bodies([a, b])).toEqual([[], [["for b"]]]));
  });

  it("waiters keep no storage: the attachment is all", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item("x")]);
    await lease(stub, 1, 30_000);
    const before = await runInDurableObject(stub, (_, state) => state.storage.sql.databaseSize);
    await openWaiter(stub);
    await openWaiter(stub);
    await settle();
    const tables = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((r) => r.name),
    );
    expect(tables.some((t) => /wait/i.test(t))).toBe(false);
    expect(await runInDurableObject(stub, (_, state) => state.storage.sql.databaseSize)).toBe(before);
  });
});

describe("release", () => {
  it("gives a lease back as if never taken, fenced by its token", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item(1), item(2)]);
    const [first] = await lease(stub, 1, 30_000);
    expect(await stub.releaseLeases([{ seq: first.seq, token: "wrong-token-wrong-token" }])).toEqual([
      { ok: false, code: "LEASE_LOST" },
    ]);
    expect(await stub.releaseLeases([{ seq: first.seq, token: first.leaseToken }])).toEqual([{ ok: true }]);
    expect(await stub.releaseLeases([{ seq: first.seq, token: first.leaseToken }])).toEqual([
      { ok: false, code: "LEASE_LOST" },
    ]);
    const again = await lease(stub, 1, 30_000);
    expect(again.map((m) => [m.seq, m.attempts])).toEqual([[first.seq, 1]]); // first in line, attempt not counted
  });

  it("a lease that lands after the consumer left is released", async () => {
    const q = uniqueQueue();
    await send(q, { body: "x" });
    const controller = new AbortController();
    // The consumer leaves while the partition is leasing: the answer comes back to nobody.
    const leaving = envWithPartitionMethod("receive", (receive) => async (...args: unknown[]) => {
      const leased = await receive(...args);
      controller.abort();
      return leased;
    });
    expect(await receiveMessages(leaving, q, { max: 1, signal: controller.signal })).toEqual([]);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it("a consumer already gone leases nothing", async () => {
    const q = uniqueQueue();
    await send(q, { body: "x" });
    const controller = new AbortController();
    controller.abort();
    expect(await receiveMessages(env, q, { max: 1, waitMs: 1_000, signal: controller.signal })).toEqual([]);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
  });
});
