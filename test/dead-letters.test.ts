import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { FIXTURE_STATS, buildFixture, callRaw, expectUntouched, inspect, useFakeClock, whereIs } from "./fixture";
import { call, get, post, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();

/** A queue with `n` dead letters (bodies 0..n-1), in the order they died. */
async function queueWithDeadLetters(n: number): Promise<{ q: string; ids: string[] }> {
  const q = uniqueQueue("dlq");
  const sent = (await send(q, { messages: Array.from({ length: n }, (_, i) => ({ body: i })) })).messages;
  for (let attempt = 1; attempt <= DEFAULT_QUEUE_CONFIG.maxAttempts; attempt++) {
    const got = await receive(q, { max: 100 });
    expect(got).toHaveLength(n);
    await settle(q, "nack", { receipts: got.map((m) => m.receipt), delayMs: 0, error: `e${attempt}` });
  }
  expect((await stats(q)).deadLetters).toBe(n);
  return { q, ids: sent.map((m) => m.id) };
}

describe("dead letters", () => {
  it("list in the order they died with every documented field", async () => {
    const { q, ids } = await queueWithDeadLetters(3);
    const res = await get(`/v1/queues/${q}/dead-letters`);
    expect(res.status).toBe(200);
    expect(res.json.cursor).toBeNull();
    expect(res.json.deadLetters.map((d: { id: string }) => d.id)).toEqual(ids);
    expect(res.json.deadLetters[1]).toEqual({
      id: ids[1],
      body: 1,
      attributes: {},
      attempts: 5,
      reason: "max_attempts",
      lastError: "e5",
      enqueuedAt: expect.any(Number),
      deadLetteredAt: clock.now(),
    });
  });

  it("page with limit and cursor, each dead letter exactly once, the last cursor null", async () => {
    const { q, ids } = await queueWithDeadLetters(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/queues/${q}/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.json.deadLetters.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.deadLetters.map((d: { id: string }) => d.id));
      cursor = res.json.cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it("a page that ends exactly at the last dead letter has a null cursor", async () => {
    const { q } = await queueWithDeadLetters(2);
    const res = await get(`/v1/queues/${q}/dead-letters?limit=2`);
    expect(res.json.deadLetters).toHaveLength(2);
    expect(res.json.cursor).toBeNull();
  });

  it("redrive all: ready again at the end of the queue with attempts 0", async () => {
    const { q, ids } = await queueWithDeadLetters(3);
    const [{ id: live }] = (await send(q, { body: "live" })).messages;
    const res = await post(`/v1/queues/${q}/dead-letters/redrive`, {});
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ redriven: 3, remaining: 0 });
    const state = await inspect(q);
    expect(state.deadLetters).toEqual([]);
    expect(state.messages.map((m) => m.id)).toEqual([live, ...ids]);
    for (const m of state.messages) {
      expect(m).toMatchObject({ attempts: 0, lease_token: null, visible_at: clock.now() });
    }
    for (const id of ids) expect(await whereIs(q, id)).toEqual({ live: 1, dead: 0 });
    expect(await stats(q)).toMatchObject({ ready: 4, deadLetters: 0 });
    const got = await receive(q, { max: 10 });
    expect(got.map((m) => [m.id, m.attempts])).toEqual([live, ...ids].map((id) => [id, 1]));
    expect(got.map((m) => m.body)).toEqual(["live", 0, 1, 2]);
  });

  it("redrive by ids moves only those; unknown ids count nothing", async () => {
    const { q, ids } = await queueWithDeadLetters(3);
    const res = await post(`/v1/queues/${q}/dead-letters/redrive`, { ids: [ids[2], ids[0], "no-such-id"] });
    expect(res.json).toEqual({ redriven: 2, remaining: 0 });
    const state = await inspect(q);
    expect(state.messages.map((m) => m.id)).toEqual([ids[0], ids[2]]);
    expect(state.deadLetters.map((d) => d.id)).toEqual([ids[1]]);
    expect((await post(`/v1/queues/${q}/dead-letters/redrive`, { ids: [ids[0]] })).json).toEqual({ redriven: 0, remaining: 0 });
  });

  it("redrive with no body at all redrives all", async () => {
    const { q } = await queueWithDeadLetters(2);
    const res = await callRaw("POST", `/v1/queues/${q}/dead-letters/redrive`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ redriven: 2, remaining: 0 });
  });

  it("a redriven message gets a full set of attempts again", async () => {
    const { q, ids } = await queueWithDeadLetters(1);
    await post(`/v1/queues/${q}/dead-letters/redrive`, {});
    for (let attempt = 1; attempt < DEFAULT_QUEUE_CONFIG.maxAttempts; attempt++) {
      const [m] = await receive(q);
      expect(m.attempts).toBe(attempt);
      await settle(q, "nack", { receipts: [m.receipt], delayMs: 0 });
    }
    expect(await whereIs(q, ids[0])).toEqual({ live: 1, dead: 0 });
  });

  it("delete removes every dead letter and nothing else", async () => {
    const fx = await buildFixture("dlqfx");
    const before = await inspect(fx.queue);
    const res = await call("DELETE", `/v1/queues/${fx.queue}/dead-letters`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deleted: 1 });
    const after = await inspect(fx.queue);
    expect(after.deadLetters).toEqual([]);
    expectUntouched(before, after, [fx.ids.dead]);
    expect(await whereIs(fx.queue, fx.ids.dead)).toEqual({ live: 0, dead: 0 });
    expect((await call("DELETE", `/v1/queues/${fx.queue}/dead-letters`)).json).toEqual({ deleted: 0 });
    expect(await stats(fx.queue)).toMatchObject({ ...FIXTURE_STATS, deadLetters: 0 });
  });

  it("redrive of the fixture moves only the dead message", async () => {
    const fx = await buildFixture("dlqfx");
    const before = await inspect(fx.queue);
    expect((await post(`/v1/queues/${fx.queue}/dead-letters/redrive`, {})).json).toEqual({ redriven: 1, remaining: 0 });
    const after = await inspect(fx.queue);
    expectUntouched(before, after, [fx.ids.dead]);
    expect(after.messages.at(-1)).toMatchObject({ id: fx.ids.dead, attempts: 0, lease_token: null });
    expect(await stats(fx.queue)).toMatchObject({ ...FIXTURE_STATS, ready: 2, deadLetters: 0 });
    // The stale receipt of its last life cannot touch the new one.
    expect(await settle(fx.queue, "ack", { receipts: [fx.deadStaleReceipt] })).toMatchObject([
      { ok: false, code: "NOT_FOUND" },
    ]);
  });
});
