import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { backoffMs } from "../durable-objects/partition/backoff";
import { inspect, useFakeClock, whereIs } from "./fixture";
import { get, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();
const policy = { backoffBaseMs: 1_000, backoffMaxMs: 300_000 };

describe("backoffMs", () => {
  it("doubles per attempt from the base: min(max, base * 2^(attempts-1)), between half and all of it", () => {
    expect(backoffMs(1, policy, () => 0)).toBe(500);
    expect(backoffMs(1, policy, () => 1)).toBe(1_000);
    expect(backoffMs(2, policy, () => 1)).toBe(2_000);
    expect(backoffMs(3, policy, () => 0.5)).toBe(3_000); // 4 s capped: 2 s fixed + 0.5 * 2 s
    expect(backoffMs(5, policy, () => 1)).toBe(16_000);
  });

  it("never waits more than the cap, however many attempts", () => {
    expect(backoffMs(9, policy, () => 1)).toBe(256_000);
    expect(backoffMs(10, policy, () => 1)).toBe(300_000);
    expect(backoffMs(10, policy, () => 0)).toBe(150_000);
    for (const attempts of [50, 1_000, Number.MAX_SAFE_INTEGER]) {
      const ms = backoffMs(attempts, policy, () => 0.999);
      expect(Number.isFinite(ms)).toBe(true);
      expect(ms).toBeLessThanOrEqual(300_000);
    }
  });

  it("treats attempts below 1 as the first", () => {
    expect(backoffMs(0, policy, () => 1)).toBe(1_000);
    expect(backoffMs(-3, policy, () => 1)).toBe(1_000);
  });

  it("spreads retries: with Math.random the delays differ and stay in [capped/2, capped]", () => {
    const delays = Array.from({ length: 200 }, () => backoffMs(4, policy));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8_000);
    expect(new Set(delays).size).toBeGreaterThan(20);
  });
});

describe("retries", () => {
  it("count deliveries in attempts, and each nack without a delay waits out the next backoff", async () => {
    const q = uniqueQueue("retry");
    const [{ id }] = (await send(q, { body: "x" })).messages;
    for (let attempt = 1; attempt < DEFAULT_QUEUE_CONFIG.maxAttempts; attempt++) {
      const [m] = await receive(q);
      expect(m).toMatchObject({ id, attempts: attempt });
      await settle(q, "nack", { receipts: [m.receipt] });
      const row = (await inspect(q)).messages[0];
      const wait = row.visible_at - clock.now();
      const capped = Math.min(DEFAULT_QUEUE_CONFIG.backoffMaxMs, DEFAULT_QUEUE_CONFIG.backoffBaseMs * 2 ** (attempt - 1));
      expect(wait).toBeGreaterThanOrEqual(capped / 2);
      expect(wait).toBeLessThanOrEqual(capped);
      clock.advance(wait - 1);
      expect(await receive(q)).toEqual([]);
      clock.advance(1);
    }
  });

  it("after maxAttempts deliveries move the message to the dead letters with its last error, in one step", async () => {
    const q = uniqueQueue("retry");
    const [{ id }] = (await send(q, { body: { poison: true }, attributes: { a: "1" } })).messages;
    for (let attempt = 1; attempt <= DEFAULT_QUEUE_CONFIG.maxAttempts; attempt++) {
      const [m] = await receive(q);
      expect(m.attempts).toBe(attempt);
      expect(await whereIs(q, id)).toEqual({ live: 1, dead: 0 });
      await settle(q, "nack", { receipts: [m.receipt], delayMs: 0, error: `boom ${attempt}` });
    }
    // Exactly one table holds it: never both, never neither.
    expect(await whereIs(q, id)).toEqual({ live: 0, dead: 1 });
    expect(await receive(q)).toEqual([]);
    const state = await inspect(q);
    expect(state.deadLetters).toEqual([
      expect.objectContaining({ id, attempts: 5, reason: "max_attempts", last_error: "boom 5", body: '{"poison":true}' }),
    ]);
    const page = await get(`/v1/queues/${q}/dead-letters`);
    expect(page.json.deadLetters).toEqual([
      {
        id,
        body: { poison: true },
        attributes: { a: "1" },
        attempts: 5,
        reason: "max_attempts",
        lastError: "boom 5",
        enqueuedAt: expect.any(Number),
        deadLetteredAt: clock.now(),
      },
    ]);
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLetters: 1 });
  });

  it("keep the last error given when a later nack gives none", async () => {
    const q = uniqueQueue("retry");
    await send(q, { body: "x" });
    const [m1] = await receive(q);
    await settle(q, "nack", { receipts: [m1.receipt], delayMs: 0, error: "first" });
    const [m2] = await receive(q);
    await settle(q, "nack", { receipts: [m2.receipt], delayMs: 0 });
    expect((await inspect(q)).messages[0].last_error).toBe("first");
  });

  it("in one nack batch: the exhausted message is dead-lettered, the other retried", async () => {
    const q = uniqueQueue("retry");
    const [{ id: old }] = (await send(q, { body: "old" })).messages;
    for (let i = 1; i < DEFAULT_QUEUE_CONFIG.maxAttempts; i++) {
      const [m] = await receive(q);
      await settle(q, "nack", { receipts: [m.receipt], delayMs: 0 });
    }
    const [{ id: young }] = (await send(q, { body: "young" })).messages;
    const got = await receive(q, { max: 2 });
    expect(got.map((m) => [m.id, m.attempts])).toEqual([
      [old, 5],
      [young, 1],
    ]);
    const results = await settle(q, "nack", { receipts: got.map((m) => m.receipt), delayMs: 0, error: "e" });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(await whereIs(q, old)).toEqual({ live: 0, dead: 1 });
    expect(await whereIs(q, young)).toEqual({ live: 1, dead: 0 });
    expect(await receive(q)).toEqual([expect.objectContaining({ id: young, attempts: 2 })]);
  });

  it("count leases that end without an ack, and the last one dead-letters with 'lease expired'", async () => {
    const q = uniqueQueue("retry");
    const [{ id }] = (await send(q, { body: "slow" })).messages;
    for (let attempt = 1; attempt <= DEFAULT_QUEUE_CONFIG.maxAttempts; attempt++) {
      clock.advance(DEFAULT_QUEUE_CONFIG.backoffMaxMs); // past any backoff
      const [m] = await receive(q, { visibilityTimeoutMs: 1_000 });
      expect(m).toMatchObject({ id, attempts: attempt });
      clock.advance(1_000);
      expect(await runDurableObjectAlarm(partition(q))).toBe(true);
    }
    expect(await whereIs(q, id)).toEqual({ live: 0, dead: 1 });
    expect((await inspect(q)).deadLetters[0]).toMatchObject({
      attempts: 5,
      reason: "max_attempts",
      last_error: "lease expired",
    });
  });
});
