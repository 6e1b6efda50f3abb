/**
 * The partition's side of long-poll, driven with raw waiter sockets: who is
 * woken, how many, and what wakes them.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { receiveMessages } from "../worker/service";
import { partition, send, stats, uniqueQueue } from "./helpers";
import { item, lease, store } from "./stub-calls";

type Stub = ReturnType<typeof partition>;


/** A waiter socket as the Worker opens it, counting the "ready"s it gets. */
async function openWaiter(stub: Stub, want = 1) {
  const waiter = crypto.randomUUID().replace(/-/g, "");
  const res = await stub.fetch(`https://partition/waiters?waiter=${waiter}&want=${want}`, {
    headers: { upgrade: "websocket" },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const w = { waiter, ws, readies: 0 };
  ws.addEventListener("message", () => {
    w.readies += 1;
  });
  return w;
}

/** Lets notifications in flight arrive (a wake is a message over a local socket). */
const settle = () => new Promise((r) => setTimeout(r, 100));
const readies = (ws: { readies: number }[]) => ws.map((w) => w.readies);

afterEach(() => {
  vi.useRealTimers();
});

describe("waiters", () => {
  it("refuses what is not a waiter's upgrade", async () => {
    const stub = partition(uniqueQueue());
    expect((await stub.fetch("https://partition/waiters?waiter=abcdefgh&want=1")).status).toBe(404);
    expect((await stub.fetch("https://partition/other", { headers: { upgrade: "websocket" } })).status).toBe(404);
    const bad = await stub.fetch("https://partition/waiters?waiter=x&want=0", { headers: { upgrade: "websocket" } });
    expect(bad.status).toBe(400);
  });

  it("one message wakes one waiter; a woken waiter that leaves passes its claim on", async () => {
    const stub = partition(uniqueQueue());
    const ws = [await openWaiter(stub), await openWaiter(stub), await openWaiter(stub)];
    await store(stub, [item("m")]);
    await settle();
    expect(readies(ws)).toEqual([1, 0, 0]); // the oldest waiter first
    ws[0].ws.close(1000, "gone");
    await vi.waitFor(() => expect(readies(ws)).toEqual([1, 1, 0]));
    const leased = await lease(stub, 1, 30_000, ws[1].waiter);
    expect(leased.map((m) => m.body)).toEqual(['"m"']);
    await settle();
    expect(readies(ws)).toEqual([1, 1, 0]);
  });

  it("a woken waiter that finds nothing waits again; one that leased is not woken again", async () => {
    const stub = partition(uniqueQueue());
    const [a, b] = [await openWaiter(stub), await openWaiter(stub)];
    await store(stub, [item(1)]);
    await settle();
    expect(readies([a, b])).toEqual([1, 0]);
    expect(await lease(stub, 1, 30_000)).toHaveLength(1); // a consumer that did not wait was faster
    expect(await lease(stub, 1, 30_000, a.waiter)).toEqual([]);
    await store(stub, [item(2)]);
    await settle();
    expect(readies([a, b])).toEqual([2, 0]);
    expect(await lease(stub, 1, 30_000, a.waiter)).toHaveLength(1);
    await store(stub, [item(3)]);
    await settle();
    expect(readies([a, b])).toEqual([2, 1]);
  });

  it("a waiter is promised up to what it asked for", async () => {
    const stub = partition(uniqueQueue());
    const [a, b] = [await openWaiter(stub, 3), await openWaiter(stub, 1)];
    await store(stub, [item(1), item(2), item(3)]);
    await settle();
    expect(readies([a, b])).toEqual([1, 0]);
    await store(stub, [item(4)]);
    await settle();
    expect(readies([a, b])).toEqual([1, 1]); // 4 ready, 3 promised to a: one left for b
  });

  it("a waiter that connects while a message is ready is woken at once", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item("early")]);
    const a = await openWaiter(stub);
    await vi.waitFor(() => expect(a.readies).toBe(1));
  });

  it("messages of one group wake one waiter; the ack of the head wakes the next", async () => {
    const stub = partition(uniqueQueue());
    const [a, b] = [await openWaiter(stub), await openWaiter(stub)];
    await store(stub, [item(1, { groupId: "g" }), item(2, { groupId: "g" })]);
    await settle();
    expect(readies([a, b])).toEqual([1, 0]);
    const [head] = await lease(stub, 5, 30_000, a.waiter);
    expect(head.body).toBe("1");
    await settle();
    expect(readies([a, b])).toEqual([1, 0]);
    await stub.ack([{ seq: head.seq, token: head.leaseToken }]);
    await vi.waitFor(() => expect(readies([a, b])).toEqual([1, 1]));
  });

  it("a nack, a redrive and a resume wake waiters; a paused queue wakes none", async () => {
    const stub = partition(uniqueQueue());
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, maxAttempts: 1 });
    await store(stub, [item("n"), item("d")]);
    const leased = await lease(stub, 2, 30_000);
    const a = await openWaiter(stub);
    await stub.nack([{ seq: leased[0].seq, token: leased[0].leaseToken }], 0, "try again"); // max 1: dead letter
    await stub.nack([{ seq: leased[1].seq, token: leased[1].leaseToken }], 0, "try again");
    await settle();
    expect(a.readies).toBe(0);
    expect(await stub.redrive(null)).toEqual({ redriven: 2, remaining: 0 });
    await vi.waitFor(() => expect(a.readies).toBe(1));

    const q = uniqueQueue();
    const p = partition(q);
    await p.configure({ ...DEFAULT_QUEUE_CONFIG, paused: true });
    const b = await openWaiter(p);
    await store(p, [item("held")]);
    await settle();
    expect(b.readies).toBe(0);
    await p.configure({ ...DEFAULT_QUEUE_CONFIG, paused: false });
    await vi.waitFor(() => expect(b.readies).toBe(1));

    const c = uniqueQueue();
    const r = partition(c);
    await store(r, [item("retry")]);
    const [m] = await lease(r, 1, 30_000);
    const w = await openWaiter(r);
    await r.nack([{ seq: m.seq, token: m.leaseToken }], 0, null);
    await vi.waitFor(() => expect(w.readies).toBe(1));
  });

  it("an expired lease wakes a waiter once its backoff ends (by the alarm)", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item("x")]);
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    await lease(stub, 1, 1_000);
    const a = await openWaiter(stub);
    vi.setSystemTime(start + 1_001);
    await runDurableObjectAlarm(stub); // the lease ends: retry after a backoff of 0.5..1 s
    await settle();
    expect(a.readies).toBe(0);
    vi.setSystemTime(start + 5_000);
    await runDurableObjectAlarm(stub);
    await vi.waitFor(() => expect(a.readies).toBe(1));
  });

  it("waiters keep no storage: the attachment is all", async () => {
    const stub = partition(uniqueQueue());
    await store(stub, [item("x")]);
    await lease(stub, 1, 30_000);
    const before = await runInDurableObject(stub, (_, state) => state.storage.sql.databaseSize);
    await openWaiter(stub);
    await openWaiter(stub);
    await store(stub, [item("y")]);
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
    const ns = env.QUEUE_PARTITION;
    const leaving = {
      ...env,
      QUEUE_PARTITION: {
        idFromName: (name: string) => ns.idFromName(name),
        get: (id: DurableObjectId) => {
          const stub = ns.get(id);
          return new Proxy(stub, {
            get(target, key) {
              if (key === "receive") {
                return async (...args: Parameters<Stub["receive"]>) => {
                  const leased = await target.receive(...args);
                  controller.abort();
                  return leased;
                };
              }
              return (...args: unknown[]) => (target as any)[key](...args);
            },
          });
        },
      },
    } as unknown as Env;
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
