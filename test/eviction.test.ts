import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FIXTURE_STATS, FIXTURE_TIMES, buildFixture, inspect, useFakeClock } from "./fixture";
import { call, get, partition, post, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();
const evict = (q: string) => evictDurableObject(partition(q));

describe("eviction", () => {
  it("loses nothing: every message in every state, the leases and the alarm come back from storage", async () => {
    const fx = await buildFixture("evict");
    const before = await inspect(fx.queue);
    await evict(fx.queue);
    const after = await inspect(fx.queue);
    expect(after).toEqual(before);
    expect(await stats(fx.queue)).toMatchObject(FIXTURE_STATS);
  });

  it("keeps the lease: the receipt still acks after eviction, and the message stays invisible", async () => {
    const fx = await buildFixture("evict");
    await evict(fx.queue);
    expect((await receive(fx.queue, { max: 100 })).map((m) => m.id)).toEqual([fx.ids.ready]);
    await evict(fx.queue);
    expect(await settle(fx.queue, "ack", { receipts: [fx.leasedReceipt] })).toEqual([
      { receipt: fx.leasedReceipt, ok: true },
    ]);
    expect(await settle(fx.queue, "ack", { receipts: [fx.retryingStaleReceipt] })).toMatchObject([
      { ok: false, code: "LEASE_LOST" },
    ]);
  });

  it("keeps delays and retries: they become ready on time after eviction, through the alarm", async () => {
    const fx = await buildFixture("evict");
    await evict(fx.queue);
    clock.advance(FIXTURE_TIMES.retryDelayMs);
    expect(await runDurableObjectAlarm(partition(fx.queue))).toBe(true);
    expect(await stats(fx.queue)).toMatchObject({ ready: 2, delayed: 1 });
    await evict(fx.queue);
    clock.advance(FIXTURE_TIMES.delayMs - FIXTURE_TIMES.retryDelayMs);
    const ids = (await receive(fx.queue, { max: 100 })).map((m) => m.id);
    expect(ids).toEqual([fx.ids.retrying, fx.ids.ready, fx.ids.delayed]);
  });

  it("keeps dead letters, and they can be listed and redriven after eviction", async () => {
    const fx = await buildFixture("evict");
    await evict(fx.queue);
    const page = await get(`/v1/queues/${fx.queue}/dead-letters`);
    expect(page.json.deadLetters).toEqual([
      expect.objectContaining({ id: fx.ids.dead, attempts: 5, reason: "max_attempts", lastError: "failure 5" }),
    ]);
    expect((await post(`/v1/queues/${fx.queue}/dead-letters/redrive`, {})).json).toEqual({ redriven: 1, remaining: 0 });
  });

  it("keeps dedup ids: the same dedup id after eviction stores nothing", async () => {
    const q = uniqueQueue("evict");
    const [first] = (await send(q, { body: "once", dedupId: "order-1" })).messages;
    await evict(q);
    const [second] = (await send(q, { body: "twice", dedupId: "order-1" })).messages;
    expect(second).toEqual({ id: first.id, seq: first.seq, duplicate: true });
    expect((await inspect(q)).messages).toHaveLength(1);
  });

  it("a 201 means committed: an eviction right after the answer finds the messages stored", async () => {
    const q = uniqueQueue("evict");
    const res = await post(`/v1/queues/${q}/messages`, {
      messages: Array.from({ length: 100 }, (_, i) => ({ body: { i }, delayMs: i % 2 ? 1_000 : 0 })),
    });
    expect(res.status).toBe(201);
    await evict(q);
    const state = await inspect(q);
    expect(state.messages.map((m) => m.id)).toEqual(res.json.messages.map((m: { id: string }) => m.id));
    expect(state.alarm).toBe(clock.now() + 1_000);
  });

  it("acks and nacks are committed too: after eviction the acked message is gone, the nacked one waits", async () => {
    const q = uniqueQueue("evict");
    await send(q, { messages: [{ body: "ack me" }, { body: "nack me" }] });
    const [a, n] = await receive(q, { max: 2 });
    await settle(q, "ack", { receipts: [a.receipt] });
    await settle(q, "nack", { receipts: [n.receipt], delayMs: 30_000, error: "later" });
    await evict(q);
    const state = await inspect(q);
    expect(state.messages).toEqual([
      expect.objectContaining({ id: n.id, lease_token: null, visible_at: clock.now() + 30_000, last_error: "later" }),
    ]);
    expect(state.alarm).toBe(clock.now() + 30_000);
  });

  it("a lease outlives an eviction: the leased message is not delivered again, its receipt still acks, a stale one does not", async () => {
    const q = uniqueQueue("evict");
    await send(q, { messages: [{ body: "leased" }, { body: "ready" }] });
    const [leased] = await receive(q, { max: 1 });
    await evict(q);
    const again = await receive(q, { max: 10 });
    expect(again.map((m) => m.body)).toEqual(["ready"]);
    expect(await stats(q)).toMatchObject({ inFlight: 2, ready: 0 });
    const forged = leased.receipt.replace(/[^.]+$/, "AAAAAAAAAAAAAAAAAAAAAA");
    expect(await settle(q, "ack", { receipts: [forged] })).toEqual([{ receipt: forged, ok: false, code: "LEASE_LOST" }]);
    await evict(q);
    expect(await settle(q, "ack", { receipts: [leased.receipt, again[0].receipt] })).toEqual([
      { receipt: leased.receipt, ok: true },
      { receipt: again[0].receipt, ok: true },
    ]);
    expect((await inspect(q)).messages).toEqual([]);
  });

  it("finds the leases again after eviction: each ends on time, an extended one later, and maxInFlight still counts them", async () => {
    const q = uniqueQueue("evict");
    expect((await call("PUT", `/v1/queues/${q}`, { maxInFlight: 2 })).status).toBe(201);
    await send(q, { messages: [{ body: "a" }, { body: "b" }, { body: "c" }] });
    const [a, b] = await receive(q, { max: 2, visibilityTimeoutMs: 10_000 });
    await settle(q, "extend", { receipts: [b.receipt], visibilityTimeoutMs: 60_000 });
    await evict(q);
    // Two leases held: the third message waits for room.
    expect(await receive(q, { max: 10 })).toEqual([]);

    clock.advance(10_000);
    expect(await runDurableObjectAlarm(partition(q))).toBe(true);
    let rows = (await inspect(q)).messages;
    expect(rows.find((m) => m.id === a.id)).toMatchObject({ lease_token: null, attempts: 1, last_error: "lease expired" });
    expect(rows.find((m) => m.id === b.id)).toMatchObject({ lease_ends_at: clock.now() + 50_000 });
    expect(rows.find((m) => m.id === b.id)!.lease_token).not.toBeNull();

    await evict(q);
    clock.advance(50_000);
    expect(await runDurableObjectAlarm(partition(q))).toBe(true);
    rows = (await inspect(q)).messages;
    expect(rows.find((m) => m.id === b.id)).toMatchObject({ lease_token: null, attempts: 1, last_error: "lease expired" });
    expect(await stats(q)).toMatchObject({ inFlight: 0 });
  });
});
