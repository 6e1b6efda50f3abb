import { describe, expect, it, vi } from "vitest";
import { hashKey } from "../worker/partitions";
import { receiveMessages } from "../worker/consume";
import { call, get, partition, post, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { envWithPartitionMethod } from "./stub-calls";

const put = (q: string, body: unknown) => call("PUT", `/v1/queues/${q}`, body);
const partitionOf = (receipt: string) => Number(receipt.split(".")[0]);
const readyIn = async (q: string, n: number) =>
  Promise.all(Array.from({ length: n }, async (_, p) => (await partition(q, p).stats()).ready));

async function drain(q: string, max = 10) {
  const out: Awaited<ReturnType<typeof receive>> = [];
  for (;;) {
    const got = await receive(q, { max });
    if (got.length === 0) return out;
    out.push(...got);
    await settle(q, "ack", { receipts: got.map((m) => m.receipt) });
  }
}

describe("partitions", () => {
  it("routes a group and a key to one stable partition", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 8 });
    for (let i = 0; i < 5; i++) {
      await send(q, { messages: [{ body: i, groupId: "orders-42" }, { body: i, key: "tenant-7" }] });
    }
    const counts = await readyIn(q, 8);
    const expected = [0, 0, 0, 0, 0, 0, 0, 0];
    expected[hashKey("orders-42") % 8] += 5;
    expected[hashKey("tenant-7") % 8] += 5;
    expect(counts).toEqual(expected);
  });

  it("keeps a group's order across partitions and batches", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4 });
    for (let i = 0; i < 6; i++) await send(q, { messages: ["a", "b", "c"].map((g) => ({ body: { g, i }, groupId: g })) });
    const got = await drain(q);
    for (const g of ["a", "b", "c"]) {
      expect(got.filter((m: any) => m.body.g === g).map((m: any) => m.body.i)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it("spreads batches without a key evenly, each batch in one partition", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4 });
    for (let i = 0; i < 40; i++) await send(q, { messages: [{ body: i }, { body: i }] });
    const counts = await readyIn(q, 4);
    expect(counts.reduce((a, b) => a + b)).toBe(80);
    // Round-robin per batch: each partition got 10 batches of 2 (other tests may take a turn between two).
    for (const n of counts) {
      expect(n % 2).toBe(0);
      expect(n).toBeGreaterThanOrEqual(10);
    }
  });

  it("finds a dedup id again in another batch: the dedup id routes when there is no group or key", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 8 });
    const first = (await send(q, { body: 1, dedupId: "pay-1" })).messages[0];
    const again = (await send(q, { body: 1, dedupId: "pay-1" })).messages[0];
    expect(again).toEqual({ ...first, duplicate: true });
    expect((await stats(q)).ready).toBe(1);
  });

  it("receives from every partition fairly: a full partition does not starve the others", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4 });
    // Partition of key "hot" gets 100 messages; every partition gets one more each.
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: i, key: "hot" })) });
    for (let i = 0; i < 4; i++) await send(q, { messages: Array.from({ length: 20 }, () => ({ body: `cold-${i}` })) });
    const seen = new Set<number>();
    const got: string[] = [];
    for (let i = 0; i < 8; i++) {
      const [m] = await receive(q, { max: 1 });
      seen.add(partitionOf(m.receipt));
      got.push(String(m.body));
    }
    expect(seen.size).toBe(4);
    // With max 10, the partition asked first changes from one receive to the next.
    const firsts = new Set<number>();
    for (let i = 0; i < 4; i++) firsts.add(partitionOf((await receive(q, { max: 10 }))[0].receipt));
    expect(firsts.size).toBeGreaterThan(1);
  });

  it("asks the partitions its first one did not fill at once what they hold, and leases only from those that have some", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 8 });
    let receives = 0;
    const counted = envWithPartitionMethod("receive", (receive) => async (...args: unknown[]) => {
      receives += 1;
      return receive(...args);
    });
    expect(await receiveMessages(counted, q, { max: 10 })).toEqual([]);
    expect(receives).toBe(1); // the first in turn only: the seven others said they had nothing

    await send(q, { messages: [{ body: "a", key: "k1" }, { body: "b", key: "k1" }] }); // one partition
    receives = 0;
    const got = await receiveMessages(counted, q, { max: 10 });
    expect(got.map((l) => JSON.parse(l.message.body))).toEqual(["a", "b"]);
    expect(receives).toBeLessThanOrEqual(2); // the first in turn, and the one that has them when that was not it
  });

  it("a receive still sweeps a partition whose lease has ended and that no alarm has swept yet", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4 });
    await send(q, { body: "x", key: "k1" });
    await receive(q, { max: 1, visibilityTimeoutMs: 1_000 });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 1_001); // the lease has ended; the alarm has not run
      expect(await receive(q, { max: 1 })).toEqual([]); // the message now waits out its backoff
      expect(await stats(q)).toMatchObject({ inFlight: 0, delayed: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("grows while in use: stored messages stay where they are and are still delivered, old receipts still work", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 1 });
    await send(q, { messages: Array.from({ length: 10 }, (_, i) => ({ body: `old-${i}` })) });
    const [held] = await receive(q);
    const res = await put(q, { partitions: 4 });
    expect(res.status).toBe(200);
    expect(res.json.config.partitions).toBe(4);
    for (let i = 0; i < 12; i++) await send(q, { body: `new-${i}` });
    expect((await readyIn(q, 4)).filter((n) => n > 0).length).toBeGreaterThan(1);
    expect((await settle(q, "ack", { receipts: [held.receipt] }))[0].ok).toBe(true);
    const got = await drain(q);
    const bodies = got.map((m) => String(m.body));
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(bodies.sort()).toEqual(
      [...Array.from({ length: 9 }, (_, i) => `old-${i + 1}`), ...Array.from({ length: 12 }, (_, i) => `new-${i}`)].sort(),
    );
  });

  it("refuses to shrink with 409 CONFLICT", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4 });
    const res = await put(q, { partitions: 2 });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("CONFLICT");
    expect(res.json.error.message).toContain("partitions");
    expect((await get(`/v1/queues/${q}`)).json.config.partitions).toBe(4);
  });

  it("stats, dead letters, redrive and delete of dead letters span every partition", async () => {
    const q = uniqueQueue();
    await put(q, { partitions: 4, maxAttempts: 1 });
    await send(q, { messages: Array.from({ length: 12 }, (_, i) => ({ body: i, key: `k${i}` })) });
    const s = await stats(q);
    expect(s).toMatchObject({ ready: 12, depth: 12 });
    const got = await receive(q, { max: 12 });
    expect(got).toHaveLength(12);
    expect(new Set(got.map((m) => partitionOf(m.receipt))).size).toBeGreaterThan(1);
    await settle(q, "nack", { receipts: got.map((m) => m.receipt), error: "boom" });
    expect(await stats(q)).toMatchObject({ ready: 0, deadLetters: 12 });

    const listed: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/queues/${q}/dead-letters?limit=5${cursor ? `&cursor=${cursor}` : ""}`);
      listed.push(...res.json.deadLetters);
      cursor = res.json.cursor;
    } while (cursor);
    expect(listed.map((d) => d.body).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));

    const redriven = await post(`/v1/queues/${q}/dead-letters/redrive`, { ids: listed.slice(0, 4).map((d) => d.id) });
    expect(redriven.json.redriven).toBe(4);
    expect(await stats(q)).toMatchObject({ ready: 4, deadLetters: 8 });
    expect((await call("DELETE", `/v1/queues/${q}/dead-letters`)).json.deleted).toBe(8);
    expect((await drain(q)).length).toBe(4);
  });
});
