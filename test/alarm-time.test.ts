import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { FIXTURE_TIMES, buildFixture, expectUntouched, inspect, useFakeClock } from "./fixture";
import { call, get, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();
const { retentionMs } = DEFAULT_QUEUE_CONFIG;

const alarmOf = async (q: string) => (await inspect(q)).alarm;
const fire = (q: string) => runDurableObjectAlarm(partition(q));

describe("the alarm", () => {
  it("is set to the retention of the first message when nothing else is due", async () => {
    const q = uniqueQueue("alarm");
    const t0 = clock.now();
    await send(q, { body: "x" });
    expect(await alarmOf(q)).toBe(t0 + retentionMs);
  });

  it("is set to the earliest delayed message, and moves only earlier", async () => {
    const q = uniqueQueue("alarm");
    const t0 = clock.now();
    await send(q, { body: "in 1 min", delayMs: 60_000 });
    expect(await alarmOf(q)).toBe(t0 + 60_000);
    await send(q, { body: "in 2 min", delayMs: 120_000 });
    expect(await alarmOf(q)).toBe(t0 + 60_000);
    await send(q, { messages: [{ body: "in 5 s", delayMs: 5_000 }, { body: "now" }] });
    expect(await alarmOf(q)).toBe(t0 + 5_000);
  });

  it("is set to the end of a lease after a receive", async () => {
    const q = uniqueQueue("alarm");
    await send(q, { body: "x" });
    const [m] = await receive(q, { visibilityTimeoutMs: 2_000 });
    expect(await alarmOf(q)).toBe(m.leaseExpiresAt);
  });

  it("is set to the retry time after a nack", async () => {
    const q = uniqueQueue("alarm");
    await send(q, { body: "x" });
    const [m] = await receive(q, { visibilityTimeoutMs: 60_000 });
    clock.advance(1_000);
    await settle(q, "nack", { receipts: [m.receipt], delayMs: 3_000 });
    expect(await alarmOf(q)).toBe(clock.now() + 3_000);
  });

  it("is set to the new end of a lease that extend shortened", async () => {
    const q = uniqueQueue("alarm");
    await send(q, { body: "x" });
    const [m] = await receive(q, { visibilityTimeoutMs: 60_000 });
    const [r] = await settle(q, "extend", { receipts: [m.receipt], visibilityTimeoutMs: 1_000 });
    expect(await alarmOf(q)).toBe(r.leaseExpiresAt);
  });

  it("makes a delayed message ready when it runs, then sets itself to the next due time", async () => {
    const q = uniqueQueue("alarm");
    const t0 = clock.now();
    const [first] = (await send(q, { body: "a", delayMs: 1_000 })).messages;
    await send(q, { body: "b", delayMs: 9_000 });
    clock.advance(1_000);
    expect(await fire(q)).toBe(true);
    expect(await stats(q)).toMatchObject({ ready: 1, delayed: 1 });
    expect(await alarmOf(q)).toBe(t0 + 9_000);
    expect((await receive(q)).map((m) => m.id)).toEqual([first.id]);
  });

  it("ends an expired lease: the attempt counts and the message waits out its backoff", async () => {
    const q = uniqueQueue("alarm");
    const [{ id }] = (await send(q, { body: "x" })).messages;
    const [m] = await receive(q, { visibilityTimeoutMs: 5_000 });
    clock.advance(5_000);
    expect(await fire(q)).toBe(true);
    const state = await inspect(q);
    expect(state.messages[0]).toMatchObject({ id, attempts: 1, lease_token: null, last_error: "lease expired" });
    const retryAt = state.messages[0].visible_at;
    expect(retryAt - m.leaseExpiresAt).toBeGreaterThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs / 2);
    expect(retryAt - m.leaseExpiresAt).toBeLessThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs);
    // Next due: the retry, not a busy loop at "now".
    expect(state.alarm).toBe(retryAt);
    expect(await stats(q)).toMatchObject({ delayed: 1, inFlight: 0 });
  });

  it("is idempotent: run twice at the same time, the second run changes nothing", async () => {
    const fx = await buildFixture("alarmfx");
    clock.advance(FIXTURE_TIMES.leaseMs); // the leased message's lease ends, the retrying one is due
    // The alarm may be set for earlier; fire it at this time, twice.
    await fire(fx.queue);
    const once = await inspect(fx.queue);
    expect(once.alarm).not.toBeNull();
    expect(once.alarm!).toBeGreaterThan(clock.now());
    await runDurableObjectAlarmAt(fx.queue);
    const twice = await inspect(fx.queue);
    expectUntouched(once, twice);
    expect(twice.alarm).toBe(once.alarm);
  });

  it("never loops: after it runs, the next alarm lies in the future or there is none", async () => {
    const q = uniqueQueue("alarm");
    await send(q, { body: "x" });
    const [m] = await receive(q);
    await settle(q, "nack", { receipts: [m.receipt], delayMs: 0 }); // due at once
    await fire(q);
    const alarm = await alarmOf(q);
    expect(alarm).toBe(clock.now() + retentionMs); // only the retention of the ready message is left
    const [again] = await receive(q);
    await settle(q, "ack", { receipts: [again.receipt] });
    clock.advance(retentionMs);
    await fire(q);
    expect(await alarmOf(q)).toBeNull();
  });

  it("dead-letters unconsumed messages past the retention with reason 'expired'", async () => {
    const fx = await buildFixture("alarmfx");
    const t0 = clock.now();
    clock.advance(retentionMs - 1);
    await fire(fx.queue);
    // Nothing is older than the retention yet; only the leases and delays have moved on.
    expect((await stats(fx.queue)).deadLetters).toBe(1);
    clock.set(t0 + retentionMs);
    await fire(fx.queue);
    const state = await inspect(fx.queue);
    expect(state.messages).toEqual([]);
    const reasons = Object.fromEntries(state.deadLetters.map((d) => [d.id, d.reason]));
    expect(reasons).toEqual({
      [fx.ids.dead]: "max_attempts",
      [fx.ids.retrying]: "expired",
      [fx.ids.leased]: "expired",
      [fx.ids.ready]: "expired",
      [fx.ids.delayed]: "expired",
    });
    const page = await get(`/v1/queues/${fx.queue}/dead-letters`);
    expect(page.json.deadLetters.filter((d: { reason: string }) => d.reason === "expired")).toHaveLength(4);
    expect(await stats(fx.queue)).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLetters: 5 });
    expect(state.alarm).toBeNull();
  });

  it("expires the unleased messages behind a leased one older than the retention, and then waits for its lease", async () => {
    const q = uniqueQueue("alarm");
    expect((await call("PUT", `/v1/queues/${q}`, { retentionMs: 60_000 })).status).toBe(201); // created
    const [{ id: held }] = (await send(q, { body: "held" })).messages;
    const [leased] = await receive(q, { visibilityTimeoutMs: 3_600_000 });
    expect(leased.id).toBe(held);
    clock.advance(10_000);
    const [{ id: behind }] = (await send(q, { body: "behind" })).messages;
    clock.advance(60_000);
    await fire(q);
    const state = await inspect(q);
    expect(state.deadLetters.map((d) => [d.id, d.reason])).toEqual([[behind, "expired"]]);
    expect(state.messages.map((m) => m.id)).toEqual([held]);
    // Nothing unleased is left to expire: the next alarm is the lease's end, not a retention already past.
    expect(state.alarm).toBe(leased.leaseExpiresAt);
  });

  it("expires a message by its own enqueue time: a younger one stays", async () => {
    const q = uniqueQueue("alarm");
    const [{ id: old }] = (await send(q, { body: "old" })).messages;
    clock.advance(60_000);
    const [{ id: young }] = (await send(q, { body: "young" })).messages;
    clock.advance(retentionMs - 60_000);
    expect(await fire(q)).toBe(true);
    const state = await inspect(q);
    expect(state.deadLetters.map((d) => [d.id, d.reason])).toEqual([[old, "expired"]]);
    expect(state.messages.map((m) => m.id)).toEqual([young]);
    expect(state.alarm).toBe(clock.now() + 60_000);
  });
});

/** Runs the alarm handler now, whether or not an alarm is scheduled (an at-least-once redelivery). */
async function runDurableObjectAlarmAt(queue: string) {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(partition(queue), (instance) => (instance as unknown as { alarm(): Promise<void> }).alarm());
}
