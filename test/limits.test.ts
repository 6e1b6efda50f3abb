import { evictDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { call, partition, post, receive, send, settle, stats, uniqueQueue } from "./helpers";

const put = async (q: string, body: unknown) => {
  const res = await call("PUT", `/v1/queues/${q}`, body);
  expect(res.status).toBeLessThan(300);
  return res;
};
const enqueue = (q: string, body: unknown) => post(`/v1/queues/${q}/messages`, body);
const many = (n: number, key?: (i: number) => string) => ({
  messages: Array.from({ length: n }, (_, i) => ({ body: i, ...(key ? { key: key(i) } : {}) })),
});
const ack = (q: string, ms: { receipt: string }[]) =>
  ms.length === 0 ? Promise.resolve([]) : settle(q, "ack", { receipts: ms.map((m) => m.receipt) });

describe("maxDepth", () => {
  it("refuses a batch that would pass it whole, with 429 QUEUE_FULL and Retry-After; nothing of it is stored", async () => {
    const q = uniqueQueue();
    await put(q, { maxDepth: 5 });
    expect((await enqueue(q, many(3))).status).toBe(201);
    const full = await enqueue(q, many(3));
    expect(full.status).toBe(429);
    expect(full.json.error.code).toBe("QUEUE_FULL");
    expect(full.json.error.message).toContain("maxDepth");
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await stats(q)).toMatchObject({ ready: 3 });
    expect((await enqueue(q, many(2))).status).toBe(201);
    expect((await enqueue(q, { body: "one too many" })).status).toBe(429);
  });

  it("counts ready, delayed and in-flight messages, and gives room back on ack, dead letter and purge", async () => {
    const q = uniqueQueue();
    await put(q, { maxDepth: 3, maxAttempts: 1 });
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3, delayMs: 60_000 }] });
    const [a, b] = await receive(q, { max: 2 });
    expect((await enqueue(q, { body: 4 })).status).toBe(429);
    await ack(q, [a]);
    expect((await enqueue(q, { body: 4 })).status).toBe(201);
    await settle(q, "nack", { receipts: [b.receipt] }); // its last attempt: a dead letter, out of the depth
    expect((await enqueue(q, { body: 5 })).status).toBe(201);
    expect((await enqueue(q, { body: 6 })).status).toBe(429);
    expect((await post(`/v1/queues/${q}/purge`)).json.purged).toBe(3);
    expect((await enqueue(q, many(3))).status).toBe(201);
  });

  it("redrive moves dead letters back only as far as maxDepth has room, oldest first; a full queue answers 429", async () => {
    const q = uniqueQueue();
    await put(q, { maxDepth: 4, maxAttempts: 1 });
    const sent = (await send(q, many(4))).messages.map((m) => m.id);
    const got = await receive(q, { max: 4 });
    await settle(q, "nack", { receipts: got.map((m) => m.receipt) }); // their last attempt: four dead letters
    await send(q, many(2)); // two stored: room for two
    const first = await post(`/v1/queues/${q}/dead-letters/redrive`, {});
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ redriven: 2, remaining: 2 });
    expect(await stats(q)).toMatchObject({ ready: 4, deadLetters: 2 });
    const left = (await call("GET", `/v1/queues/${q}/dead-letters`)).json.deadLetters.map((d: { id: string }) => d.id);
    expect(left).toEqual(sent.slice(2));

    const full = await post(`/v1/queues/${q}/dead-letters/redrive`, {});
    expect(full.status).toBe(429);
    expect(full.json.error.code).toBe("QUEUE_FULL");
    expect(full.headers.get("retry-after")).toBe("1");
    expect(await stats(q)).toMatchObject({ ready: 4, deadLetters: 2 });

    await ack(q, await receive(q, { max: 1 }));
    expect((await post(`/v1/queues/${q}/dead-letters/redrive`, { ids: [sent[3]] })).json).toEqual({ redriven: 1, remaining: 0 });
    expect(await stats(q)).toMatchObject({ ready: 4, deadLetters: 1 });
  });

  it("does not count duplicates, which store nothing", async () => {
    const q = uniqueQueue();
    await put(q, { maxDepth: 1 });
    expect((await enqueue(q, { body: 1, dedupId: "d1" })).status).toBe(201);
    const again = await enqueue(q, { body: 1, dedupId: "d1" });
    expect(again.status).toBe(201);
    expect(again.json.messages[0].duplicate).toBe(true);
  });

  it("keeps counting after the partition is evicted (counted again from storage)", async () => {
    const q = uniqueQueue();
    await put(q, { maxDepth: 4 });
    await send(q, many(3));
    await evictDurableObject(partition(q));
    expect((await enqueue(q, many(2))).status).toBe(429);
    expect((await enqueue(q, many(1))).status).toBe(201);
  });

  it("divides among partitions; a batch spanning partitions is refused whole when one share is full", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4, maxDepth: 8 }); // 2 per partition
    // Fill one partition through one key.
    expect((await enqueue(q, many(2, () => "hot"))).status).toBe(201);
    // A batch over every partition, one message of it for the full one: refused, nothing stored anywhere.
    const spread = { messages: Array.from({ length: 8 }, (_, i) => ({ body: i, key: i === 0 ? "hot" : `k${i}` })) };
    const res = await enqueue(q, spread);
    expect(res.status).toBe(429);
    expect(res.json.error.code).toBe("QUEUE_FULL");
    expect(await stats(q)).toMatchObject({ ready: 2 });
    // The reservations of the refused batch were given back: the other partitions still take their share.
    let stored = 2;
    for (let i = 0; i < 40 && stored < 8; i++) {
      const one = await enqueue(q, { body: i, key: `other-${i}` });
      if (one.status === 201) stored++;
      else expect(one.status).toBe(429);
    }
    expect(stored).toBe(8);
    expect((await stats(q)).ready).toBe(8);
  });

  it("holds under concurrent batches, in one partition and across partitions: accepted batches stored whole, refused ones not at all", async () => {
    for (const partitions of [1, 2]) {
      const q = uniqueQueue();
      await put(q, { partitions, maxDepth: 20 });
      const batch = (b: number) => ({
        messages: Array.from({ length: 3 }, (_, i) => ({ body: [b, i], ...(partitions > 1 ? { key: `b${b}-${i}` } : {}) })),
      });
      const answers = await Promise.all(Array.from({ length: 12 }, (_, b) => enqueue(q, batch(b))));
      const accepted = answers.filter((r) => r.status === 201).length;
      expect(answers.every((r) => r.status === 201 || r.status === 429)).toBe(true);
      expect(accepted).toBeGreaterThan(0);
      const { ready: depth } = await stats(q);
      expect(depth).toBe(accepted * 3);
      expect(depth).toBeLessThanOrEqual(20);
    }
  });

  it("refuses a limit below the partition count (each partition keeps a share of at least one)", async () => {
    const res = await call("PUT", `/v1/queues/${uniqueQueue()}`, { partitions: 4, maxDepth: 3 });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain("maxDepth (3) must be at least partitions (4)");
  });
});

describe("maxInFlight", () => {
  it("leases no more than the limit at once across consumers; an ack frees a slot", async () => {
    const q = uniqueQueue();
    await put(q, { maxInFlight: 3 });
    await send(q, many(10));
    const first = await receive(q, { max: 10 });
    expect(first).toHaveLength(3);
    expect(await receive(q, { max: 10 })).toEqual([]);
    await ack(q, first.slice(0, 1));
    const next = await receive(q, { max: 10 });
    expect(next).toHaveLength(1);
    expect(await stats(q)).toMatchObject({ inFlight: 3, ready: 6 });
  });

  it("holds across partitions (each keeps its share)", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4, maxInFlight: 6 });
    await send(q, many(40, (i) => `k${i}`));
    const leased = [];
    for (let i = 0; i < 6; i++) leased.push(...(await receive(q, { max: 10 })));
    expect(leased).toHaveLength(6);
    expect((await stats(q)).inFlight).toBe(6);
  });

  it("an ended lease frees its slot", async () => {
    const q = uniqueQueue();
    await put(q, { maxInFlight: 1 });
    await send(q, many(2));
    const [m] = await receive(q, { visibilityTimeoutMs: 1000 });
    expect(await receive(q)).toEqual([]);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(m.leaseExpiresAt + 1);
      const [next] = await receive(q);
      expect(next).toBeDefined();
      expect(next.id).not.toBe(m.id);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("deliveryRatePerSec", () => {
  // Far ahead of the real clock, so no alarm fires behind the test's back.
  const T0 = Math.ceil((Date.now() + 365 * 24 * 3600_000) / 1000) * 1000;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it("leases no faster than the rate (a token bucket holding one second's worth)", async () => {
    const q = uniqueQueue();
    await put(q, { deliveryRatePerSec: 4 });
    await send(q, many(20));
    expect(await receive(q, { max: 10 })).toHaveLength(4);
    expect(await receive(q, { max: 10 })).toHaveLength(0);
    vi.setSystemTime(T0 + 500);
    expect(await receive(q, { max: 10 })).toHaveLength(2);
    vi.setSystemTime(T0 + 10_000); // idle: the bucket holds one second's worth, not ten
    expect(await receive(q, { max: 10 })).toHaveLength(4);
  });

  it("divides the rate among partitions", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4, deliveryRatePerSec: 8 }); // 2 a second each
    await send(q, many(80, (i) => `k${i}`));
    let total = 0;
    for (let i = 0; i < 10; i++) total += (await receive(q, { max: 100 })).length;
    expect(total).toBe(8);
    vi.setSystemTime(T0 + 1000);
    total = 0;
    for (let i = 0; i < 10; i++) total += (await receive(q, { max: 100 })).length;
    expect(total).toBe(8);
  });

  it("survives eviction: a restarted partition does not hand out a fresh burst", async () => {
    const q = uniqueQueue();
    await put(q, { deliveryRatePerSec: 5 });
    await send(q, many(20));
    expect(await receive(q, { max: 10 })).toHaveLength(5);
    await evictDurableObject(partition(q));
    expect(await receive(q, { max: 10 })).toHaveLength(0);
  });

  it("a receive with waitMs waits for a token rather than answering empty", async () => {
    vi.useRealTimers();
    const q = uniqueQueue();
    await put(q, { deliveryRatePerSec: 10 });
    await send(q, many(20));
    expect(await receive(q, { max: 20 })).toHaveLength(10);
    const started = Date.now();
    const got = await receive(q, { max: 20, waitMs: 2000 });
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("limits lose and duplicate nothing", () => {
  const T0 = Math.ceil((Date.now() + 2 * 365 * 24 * 3600_000) / 1000) * 1000;
  afterEach(() => vi.useRealTimers());

  it("every message is delivered exactly once under maxDepth, maxInFlight and a delivery rate, over 4 partitions", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    const q = uniqueQueue();
    await put(q, { partitions: 4, maxDepth: 40, maxInFlight: 8, deliveryRatePerSec: 20 });
    const sent = new Set<string>();
    const delivered: string[] = [];
    let refused = 0;
    for (let tick = 0; tick < 200 && (sent.size < 200 || delivered.length < sent.size); tick++) {
      vi.setSystemTime(T0 + tick * 250);
      if (sent.size < 200) {
        const res = await enqueue(q, many(10, (i) => `t${tick}-${i}`));
        if (res.status === 201) for (const m of res.json.messages) sent.add(m.id);
        else (expect(res.status).toBe(429), refused++);
      }
      const got = await receive(q, { max: 10 });
      delivered.push(...got.map((m) => m.id));
      await ack(q, got);
    }
    expect(refused).toBeGreaterThan(0);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(new Set(delivered)).toEqual(sent);
    expect(await stats(q)).toMatchObject({ depth: 0, inFlight: 0, deadLetters: 0 });
  });

  it("the flash sale: 500 in at once, 1,000 a minute out, nothing lost", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0 + 100_000_000);
    const start = Date.now();
    const q = uniqueQueue();
    await put(q, { deliveryRatePerSec: 1000 / 60 });
    for (let i = 0; i < 5; i++) expect((await enqueue(q, many(100))).status).toBe(201);
    const delivered = new Set<string>();
    let seconds = 0;
    while (delivered.size < 500 && seconds < 100) {
      seconds++;
      vi.setSystemTime(start + seconds * 1000);
      const got = await receive(q, { max: 100 });
      expect(got.length).toBeLessThanOrEqual(17);
      for (const m of got) delivered.add(m.id);
      await ack(q, got);
    }
    expect(delivered.size).toBe(500);
    // 500 at 16.7 a second: about 30 seconds.
    expect(seconds).toBeGreaterThanOrEqual(29);
    expect(seconds).toBeLessThanOrEqual(33);
  });
});
