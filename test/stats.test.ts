import { env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type QueueStats } from "../client/protocol";
import { latencyBucket, quantileMs } from "../durable-objects/partition/latency";
import { get, partition, post, receive, send, settle, uniqueQueue } from "./helpers";

/** A minute boundary well ahead of the real clock, so no alarm fires behind the test's back. */
const T0 = Math.ceil((Date.now() + 365 * 24 * 3600_000) / 60_000) * 60_000;
const at = (ms: number) => vi.setSystemTime(T0 + ms);
const MIN = 60_000;

async function stats(queue: string): Promise<QueueStats> {
  const res = await get(`/v1/queues/${queue}/stats`);
  expect(res.status).toBe(200);
  return res.json;
}

/** Creates the queue with settings of its own, written where the worker and partitions read them. */
async function createQueue(overrides: Partial<QueueConfig>): Promise<string> {
  const q = uniqueQueue("stats");
  const config = { ...DEFAULT_QUEUE_CONFIG, ...overrides };
  await env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry")).put(q, config);
  for (let p = 0; p < config.partitions; p++) await partition(q, p).configure(config);
  return q;
}

const bodies = (n: number) => ({ messages: Array.from({ length: n }, (_, i) => ({ body: { i } })) });
const receipts = (ms: { receipt: string }[]) => ({ receipts: ms.map((m) => m.receipt) });
/** The minute `k` minutes after T0, as the stats list it. */
const minuteAt = (s: QueueStats, k: number) => s.minutes.find((m) => m.minute === T0 + k * MIN)!;

/** True within the histograms' resolution (one bucket: 2^(1/4), 19 %). */
const near = (actual: number | null, expected: number) => {
  expect(actual).not.toBeNull();
  expect(actual!).toBeGreaterThanOrEqual(expected / 1.19);
  expect(actual!).toBeLessThanOrEqual(expected * 1.19);
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  at(0);
});
afterEach(() => vi.useRealTimers());

describe("stats against known traffic", () => {
  it("counts every state, minute, total, latency, trend and the status", async () => {
    const q = await createQueue({ maxAttempts: 2 });

    // Minute 0: 10 in; 10 delivered; 4 acked after 2 s of work; 3 nacked; 3 leases left to expire.
    await send(q, bodies(10));
    at(1_000);
    const first = await receive(q, { max: 10, visibilityTimeoutMs: 60_000 });
    expect(first).toHaveLength(10);
    at(3_000);
    await settle(q, "ack", receipts(first.slice(0, 4)));
    await settle(q, "nack", { ...receipts(first.slice(4, 7)), delayMs: 0, error: "boom" });

    // Minute 1: the 3 leases expire (retried); the 3 nacked ones fail again and die; the others are acked.
    // The leases ended at MIN + 1 s; their backoff (0.5..1 s) runs from there, so at MIN + 1.4 s
    // the expired ones still wait and only the 3 nacked ones are ready.
    at(MIN + 1_400);
    const second = await receive(q, { max: 10, visibilityTimeoutMs: 30_000 });
    expect(second).toHaveLength(3);
    at(MIN + 6_000);
    await settle(q, "nack", { ...receipts(second), error: "boom again" });
    at(MIN + 10_000);
    const third = await receive(q, { max: 10, visibilityTimeoutMs: 30_000 });
    expect(third).toHaveLength(3);
    at(MIN + 15_000);
    await settle(q, "ack", receipts(third));

    // Minute 2: 5 more in, nothing out.
    at(2 * MIN);
    await send(q, bodies(5));
    at(2 * MIN + 30_000);
    const s = await stats(q);

    expect(s).toMatchObject({
      ready: 5,
      delayed: 0,
      inFlight: 0,
      deadLetters: 3,
      depth: 5,
      oldestReadyAgeMs: 30_000,
      totals: { enqueued: 15, delivered: 16, acked: 7, retried: 6, deadLettered: 3 },
    });
    expect(s.minutes).toHaveLength(60);
    expect(s.minutes[59].minute).toBe(T0 + 2 * MIN);
    expect(minuteAt(s, -1)).toEqual({
      minute: T0 - MIN, enqueued: 0, delivered: 0, acked: 0, retried: 0, deadLettered: 0, purged: 0, depth: 0,
    });
    expect(minuteAt(s, 0)).toEqual({
      minute: T0, enqueued: 10, delivered: 10, acked: 4, retried: 3, deadLettered: 0, purged: 0, depth: 6,
    });
    expect(minuteAt(s, 1)).toEqual({
      minute: T0 + MIN, enqueued: 0, delivered: 6, acked: 3, retried: 3, deadLettered: 3, purged: 0, depth: 0,
    });
    expect(minuteAt(s, 2)).toEqual({
      minute: T0 + 2 * MIN, enqueued: 5, delivered: 0, acked: 0, retried: 0, deadLettered: 0, purged: 0, depth: 5,
    });
    expect(s.minutes.slice(0, 56).every((m) => m.enqueued + m.delivered + m.depth === 0)).toBe(true);

    // Enqueue to ack: 4 after 3 s, 3 after 75 s. Delivery to ack: 4 after 2 s, 3 after 5 s.
    expect(s.latency.windowMs).toBe(5 * MIN);
    expect(s.latency.enqueueToAck.count).toBe(7);
    near(s.latency.enqueueToAck.p50, 3_000);
    near(s.latency.enqueueToAck.p95, 75_000);
    near(s.latency.enqueueToAck.p99, 75_000);
    expect(s.latency.deliveryToAck.count).toBe(7);
    near(s.latency.deliveryToAck.p50, 2_000);
    near(s.latency.deliveryToAck.p95, 5_000);
    near(s.latency.deliveryToAck.p99, 5_000);

    // The five complete minutes before minute 2: 10 in, 7 acked + 3 dead: no net change.
    expect(s.trend).toEqual({
      windowMinutes: 5, inPerMinute: 2, outPerMinute: 2, netPerMinute: 0, drainEstimateMs: null,
    });
    expect(s.status).toBe("failing");
    expect(s.reason).toBe("3 messages dead-lettered in the last 5 minutes");

    // The dead letters keep their last error.
    const dead = await get(`/v1/queues/${q}/dead-letters`);
    expect(dead.json.deadLetters.map((d: { lastError: string }) => d.lastError)).toEqual([
      "boom again", "boom again", "boom again",
    ]);

    // Five minutes on, the dead letters are out of the window: the queue is ok again.
    at(7 * MIN);
    const later = await stats(q);
    expect(later.status).toBe("ok");
    expect(later.reason).toBeNull();
    expect(later.latency.enqueueToAck).toEqual({ count: 0, p50: null, p95: null, p99: null });
    expect(later.totals.acked).toBe(7);
  });

  it("is growing when the depth grew three minutes in a row, and estimates the drain once it shrinks", async () => {
    const q = await createQueue({});
    for (let k = 0; k < 3; k++) {
      at(k * MIN + 1_000);
      await send(q, bodies(10));
      expect((await stats(q)).status).toBe("ok"); // the current minute does not count yet
    }
    at(3 * MIN + 1_000);
    let s = await stats(q);
    expect(s.status).toBe("growing");
    expect(s.reason).toBe("depth grew by 30 over the last 3 minutes, every minute");
    expect(s.trend).toEqual({
      windowMinutes: 5, inPerMinute: 6, outPerMinute: 0, netPerMinute: 6, drainEstimateMs: null,
    });
    expect(s.minutes.slice(-4).map((m) => m.depth)).toEqual([10, 20, 30, 30]);

    // Minute 3: 25 processed. From minute 4 the depth no longer grows.
    const got = await receive(q, { max: 25 });
    await settle(q, "ack", receipts(got));
    at(4 * MIN + 1_000);
    s = await stats(q);
    expect(s.status).toBe("ok");
    expect(s.trend).toMatchObject({ inPerMinute: 6, outPerMinute: 5, netPerMinute: 1, drainEstimateMs: null });

    // Minute 8: the window holds minutes 3..7: 0 in, 25 out, 5 per minute; 5 left: one minute to empty.
    at(8 * MIN + 1_000);
    s = await stats(q);
    expect(s.depth).toBe(5);
    expect(s.trend).toEqual({
      windowMinutes: 5, inPerMinute: 0, outPerMinute: 5, netPerMinute: -5, drainEstimateMs: 60_000,
    });

    // Empty: nothing to drain.
    await settle(q, "ack", receipts(await receive(q, { max: 5 })));
    expect((await stats(q)).trend.drainEstimateMs).toBe(0);
  });

  it("is failing when most deliveries are retried", async () => {
    const q = await createQueue({});
    await send(q, bodies(10));
    const got = await receive(q, { max: 10 });
    await settle(q, "nack", { ...receipts(got), delayMs: 0 });
    let s = await stats(q);
    expect(s.status).toBe("failing");
    expect(s.reason).toBe("10 retries for 10 deliveries in the last 5 minutes");

    // 9 retries stay under the threshold of 10.
    const q2 = await createQueue({});
    await send(q2, bodies(9));
    await settle(q2, "nack", { ...receipts(await receive(q2, { max: 9 })), delayMs: 0 });
    expect((await stats(q2)).status).toBe("ok");

    at(5 * MIN);
    s = await stats(q);
    expect(s).toMatchObject({ status: "ok", ready: 10 });
  });

  it("merges the partitions of a queue", async () => {
    const q = await createQueue({ partitions: 3 });
    // A batch without routing keys goes to one partition; batches take turns.
    for (let b = 0; b < 3; b++) await send(q, bodies(3));
    const counts = await Promise.all([0, 1, 2].map(async (p) => (await partition(q, p).stats()).ready));
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(counts.reduce((a, b) => a + b)).toBe(9);
    at(2_000);
    const got = await receive(q, { max: 6 });
    at(4_000);
    await settle(q, "ack", receipts(got));
    const s = await stats(q);
    expect(s).toMatchObject({
      ready: 3,
      depth: 3,
      oldestReadyAgeMs: 4_000,
      totals: { enqueued: 9, delivered: 6, acked: 6, retried: 0, deadLettered: 0 },
    });
    expect(minuteAt(s, 0)).toMatchObject({ enqueued: 9, delivered: 6, acked: 6, depth: 3 });
    expect(s.latency.enqueueToAck.count).toBe(6);
    near(s.latency.enqueueToAck.p50, 4_000);
    near(s.latency.deliveryToAck.p99, 2_000);
  });

  it("counts a purge as out, so the depth history stays right", async () => {
    const q = await createQueue({});
    await send(q, bodies(10));
    at(MIN);
    await settle(q, "ack", receipts(await receive(q, { max: 2 })));
    expect((await post(`/v1/queues/${q}/purge`)).json).toEqual({ purged: 8 });
    const s = await stats(q);
    expect(s.depth).toBe(0);
    expect(minuteAt(s, 0)).toMatchObject({ enqueued: 10, depth: 10 });
    expect(minuteAt(s, 1)).toMatchObject({ acked: 2, purged: 8, depth: 0 });
    expect(s.totals.purged).toBe(8);
  });

  it("keeps an hour of minutes and lifetime totals; the counters survive eviction", async () => {
    const q = await createQueue({});
    await send(q, bodies(2));
    await evictDurableObject(partition(q));
    at(60 * MIN);
    await runDurableObjectAlarm(partition(q)); // prunes the minutes past the hour
    const s = await stats(q);
    expect(s.minutes[0].minute).toBe(T0 + MIN);
    expect(s.minutes.every((m) => m.enqueued === 0 && m.depth === 2)).toBe(true);
    expect(s.totals.enqueued).toBe(2);
  });
});

describe("latency histograms", () => {
  it("puts each latency in a log-spaced bucket whose upper bound holds it", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(1)).toBe(0);
    expect(latencyBucket(2)).toBe(4);
    expect(latencyBucket(1000)).toBe(40); // 2^(40/4) = 1024
    expect(latencyBucket(1025)).toBe(41);
    expect(latencyBucket(1e12)).toBe(120);
  });

  it("estimates quantiles within one bucket of the truth", () => {
    const histogram = new Map<number, number>();
    for (let ms = 1; ms <= 10_000; ms++) histogram.set(latencyBucket(ms), (histogram.get(latencyBucket(ms)) ?? 0) + 1);
    for (const q of [0.5, 0.9, 0.95, 0.99]) near(quantileMs(histogram, q), q * 10_000);
    expect(quantileMs(new Map(), 0.5)).toBeNull();
  });
});

describe("structured logs", () => {
  const lines = (spy: { mock: { calls: unknown[][] } }) =>
    spy.mock.calls.map((c) => String(c[0])).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

  it("writes one line per dead-lettered batch and per request that lost leases, none per message", async () => {
    const warn = vi.spyOn(console, "warn");
    const log = vi.spyOn(console, "log");
    try {
      const q = await createQueue({ maxAttempts: 1 });
      await send(q, bodies(20));
      const got = await receive(q, { max: 20, visibilityTimeoutMs: 1_000 });
      await settle(q, "nack", { ...receipts(got.slice(0, 10)), error: "bad input" });
      at(2_000); // the other leases ended
      const late = await settle(q, "ack", receipts(got.slice(10)));
      expect(late.every((r) => r.code === "LEASE_LOST")).toBe(true);

      const events = [...lines(warn), ...lines(log)];
      expect(events.filter((e) => e.event === "dead_lettered" && e.queue === q)).toEqual([
        expect.objectContaining({ level: "warn", partition: 0, count: 10, reason: "max_attempts", cause: "nack" }),
      ]);
      expect(events.filter((e) => e.event === "lease_lost" && e.queue === q)).toEqual([
        expect.objectContaining({ level: "info", count: 10, of: 10 }),
      ]);

      // The expired leases are dead-lettered by the alarm: one more line for the 10.
      await runDurableObjectAlarm(partition(q));
      const swept = [...lines(warn), ...lines(log)].filter((e) => e.event === "dead_lettered" && e.queue === q);
      expect(swept).toHaveLength(2);
      expect(swept[1]).toMatchObject({ count: 10, cause: "lease expired" });
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  it("writes one queue_full line per queue every 10 s, counting the refusals left out", async () => {
    const warn = vi.spyOn(console, "warn");
    try {
      const q = await createQueue({ maxDepth: 2 });
      await send(q, bodies(2));
      const refused = async () => expect((await post(`/v1/queues/${q}/messages`, { body: 1 })).status).toBe(429);
      await refused();
      await refused();
      await refused();
      at(11_000);
      await refused();
      const full = lines(warn).filter((e) => e.event === "queue_full" && e.queue === q);
      expect(full).toHaveLength(2);
      expect(full[0].suppressed).toBeUndefined();
      expect(full[1]).toMatchObject({ level: "warn", suppressed: 2 });
    } finally {
      warn.mockRestore();
    }
  });
});
