import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { FIXTURE_STATS, buildFixture, expectUntouched, inspect, useFakeClock, whereIs } from "./fixture";
import { partition, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();

/** A queue with one message leased for `leaseMs`. */
async function leasedOne(leaseMs = 10_000) {
  const q = uniqueQueue("settle");
  const [{ id }] = (await send(q, { body: "x" })).messages;
  const [m] = await receive(q, { visibilityTimeoutMs: leaseMs });
  return { q, id, receipt: m.receipt, leaseExpiresAt: m.leaseExpiresAt };
}

/** The same receipt with another (well-formed) lease token. */
const forge = (receipt: string) => receipt.replace(/\.[^.]+$/, ".AAAAAAAAAAAAAAAAAAAAAA");

describe("ack", () => {
  it("deletes a message under a current lease", async () => {
    const { q, id, receipt } = await leasedOne();
    expect(await settle(q, "ack", { receipts: [receipt] })).toEqual([{ receipt, ok: true }]);
    expect(await whereIs(q, id)).toEqual({ live: 0, dead: 0 });
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLetters: 0 });
  });

  it("a second time answers NOT_FOUND", async () => {
    const { q, receipt } = await leasedOne();
    await settle(q, "ack", { receipts: [receipt] });
    expect(await settle(q, "ack", { receipts: [receipt] })).toEqual([{ receipt, ok: false, code: "NOT_FOUND" }]);
  });

  it("with an expired lease answers LEASE_LOST and changes nothing", async () => {
    const { q, receipt } = await leasedOne(10_000);
    clock.advance(10_000);
    const before = await inspect(q);
    expect(await settle(q, "ack", { receipts: [receipt] })).toEqual([{ receipt, ok: false, code: "LEASE_LOST" }]);
    expect(await inspect(q)).toEqual(before);
  });

  it("with the receipt of an earlier lease answers LEASE_LOST; the new lease still holds", async () => {
    const { q, id, receipt } = await leasedOne(10_000);
    clock.advance(10_000 + DEFAULT_QUEUE_CONFIG.backoffBaseMs);
    const [again] = await receive(q);
    expect(again.id).toBe(id);
    const before = await inspect(q);
    expect(await settle(q, "ack", { receipts: [receipt] })).toEqual([{ receipt, ok: false, code: "LEASE_LOST" }]);
    expect(await settle(q, "nack", { receipts: [receipt] })).toEqual([{ receipt, ok: false, code: "LEASE_LOST" }]);
    expect(await settle(q, "extend", { receipts: [receipt], visibilityTimeoutMs: 60_000 })).toEqual([
      { receipt, ok: false, code: "LEASE_LOST" },
    ]);
    expect(await inspect(q)).toEqual(before);
    expect(await settle(q, "ack", { receipts: [again.receipt] })).toEqual([{ receipt: again.receipt, ok: true }]);
  });

  it("with a forged lease token answers LEASE_LOST", async () => {
    const { q, receipt } = await leasedOne();
    const forged = forge(receipt);
    const before = await inspect(q);
    expect(await settle(q, "ack", { receipts: [forged] })).toEqual([{ receipt: forged, ok: false, code: "LEASE_LOST" }]);
    expect(await inspect(q)).toEqual(before);
  });

  it("answers each receipt of a batch in the order given and applies only the current ones", async () => {
    const q = uniqueQueue("settle");
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const [m1, m2, m3] = await receive(q, { max: 3 });
    await settle(q, "ack", { receipts: [m3.receipt] });
    const results = await settle(q, "ack", { receipts: [m3.receipt, m1.receipt, forge(m2.receipt)] });
    expect(results).toEqual([
      { receipt: m3.receipt, ok: false, code: "NOT_FOUND" },
      { receipt: m1.receipt, ok: true },
      { receipt: forge(m2.receipt), ok: false, code: "LEASE_LOST" },
    ]);
    expect((await inspect(q)).messages.map((m) => m.id)).toEqual([m2.id]);
  });

  it("acks 100 receipts in one request", async () => {
    const q = uniqueQueue("settle");
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: i })) });
    const got = await receive(q, { max: 100 });
    const results = await settle(q, "ack", { receipts: got.map((m) => m.receipt) });
    expect(results.every((r) => r.ok)).toBe(true);
    expect((await inspect(q)).messages).toEqual([]);
  });

  it("of the fixture's leased message touches nothing else; stale receipts of the others change nothing", async () => {
    const fx = await buildFixture("settlefx");
    const before = await inspect(fx.queue);
    const results = await settle(fx.queue, "ack", {
      receipts: [fx.retryingStaleReceipt, fx.deadStaleReceipt, fx.leasedReceipt],
    });
    expect(results.map((r) => [r.ok, r.code])).toEqual([
      [false, "LEASE_LOST"],
      [false, "NOT_FOUND"],
      [true, undefined],
    ]);
    const after = await inspect(fx.queue);
    expectUntouched(before, after, [fx.ids.leased]);
    expect(await whereIs(fx.queue, fx.ids.leased)).toEqual({ live: 0, dead: 0 });
    expect(await stats(fx.queue)).toMatchObject({ ...FIXTURE_STATS, inFlight: 0 });
  });
});

describe("nack", () => {
  it("ends the lease and retries after the given delay, keeping the error", async () => {
    const { q, id, receipt } = await leasedOne();
    expect(await settle(q, "nack", { receipts: [receipt], delayMs: 7_000, error: "db down" })).toEqual([
      { receipt, ok: true },
    ]);
    expect((await inspect(q)).messages[0]).toMatchObject({
      id,
      attempts: 1,
      lease_token: null,
      visible_at: clock.now() + 7_000,
      last_error: "db down",
    });
    expect(await stats(q)).toMatchObject({ delayed: 1, inFlight: 0 });
    clock.advance(6_999);
    expect(await receive(q)).toEqual([]);
    clock.advance(1);
    expect(await receive(q)).toEqual([expect.objectContaining({ id, attempts: 2 })]);
  });

  it("without a delay retries after the queue's backoff", async () => {
    const { q, receipt } = await leasedOne();
    await settle(q, "nack", { receipts: [receipt] });
    const wait = (await inspect(q)).messages[0].visible_at - clock.now();
    expect(wait).toBeGreaterThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs / 2);
    expect(wait).toBeLessThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs);
  });

  it("with delayMs 0 makes the message ready at once", async () => {
    const { q, id, receipt } = await leasedOne();
    await settle(q, "nack", { receipts: [receipt], delayMs: 0 });
    expect(await receive(q)).toEqual([expect.objectContaining({ id, attempts: 2 })]);
  });

  it("with an expired or a forged lease answers LEASE_LOST and changes nothing", async () => {
    const { q, receipt } = await leasedOne(10_000);
    const before = await inspect(q);
    expect(await settle(q, "nack", { receipts: [forge(receipt)], delayMs: 0 })).toMatchObject([
      { ok: false, code: "LEASE_LOST" },
    ]);
    expect(await inspect(q)).toEqual(before);
    clock.advance(10_000);
    expect(await settle(q, "nack", { receipts: [receipt], delayMs: 0, error: "late" })).toMatchObject([
      { ok: false, code: "LEASE_LOST" },
    ]);
    expect(await inspect(q)).toEqual(before);
  });

  it("nacks 100 receipts in one request, each retried after the same delay", async () => {
    const q = uniqueQueue("settle");
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: i })) });
    const got = await receive(q, { max: 100 });
    const results = await settle(q, "nack", { receipts: got.map((m) => m.receipt), delayMs: 2_000, error: "batch" });
    expect(results.every((r) => r.ok)).toBe(true);
    const rows = (await inspect(q)).messages;
    expect(rows).toHaveLength(100);
    expect(rows.every((m) => m.lease_token === null && m.visible_at === clock.now() + 2_000 && m.last_error === "batch")).toBe(true);
    clock.advance(2_000);
    expect((await receive(q, { max: 100 })).map((m) => m.body)).toEqual(got.map((m) => m.body));
  });

  it("of the fixture's leased message touches nothing else", async () => {
    const fx = await buildFixture("settlefx");
    const before = await inspect(fx.queue);
    const [r] = await settle(fx.queue, "nack", { receipts: [fx.leasedReceipt], delayMs: 1_000, error: "e" });
    expect(r.ok).toBe(true);
    const after = await inspect(fx.queue);
    expectUntouched(before, after, [fx.ids.leased]);
    expect(after.messages.find((m) => m.id === fx.ids.leased)).toMatchObject({
      lease_token: null,
      attempts: 1,
      last_error: "e",
      visible_at: clock.now() + 1_000,
    });
  });
});

describe("extend", () => {
  it("moves the end of a current lease to visibilityTimeoutMs from now", async () => {
    const { q, id, receipt } = await leasedOne(10_000);
    clock.advance(9_000);
    const [r] = await settle(q, "extend", { receipts: [receipt], visibilityTimeoutMs: 20_000 });
    expect(r).toEqual({ receipt, ok: true, leaseExpiresAt: clock.now() + 20_000 });
    expect((await inspect(q)).messages[0]).toMatchObject({ id, lease_ends_at: clock.now() + 20_000 });
    clock.advance(19_999);
    expect(await receive(q)).toEqual([]);
    expect(await settle(q, "ack", { receipts: [receipt] })).toEqual([{ receipt, ok: true }]);
  });

  it("can shorten a lease, and the message then comes back when the shorter lease ends", async () => {
    const { q, id, receipt } = await leasedOne(60_000);
    await settle(q, "extend", { receipts: [receipt], visibilityTimeoutMs: 1_000 });
    clock.advance(1_000 + DEFAULT_QUEUE_CONFIG.backoffBaseMs);
    expect(await receive(q)).toEqual([expect.objectContaining({ id, attempts: 2 })]);
  });

  it("with an expired lease answers LEASE_LOST and changes nothing", async () => {
    const { q, receipt } = await leasedOne(10_000);
    clock.advance(10_001);
    const before = await inspect(q);
    expect(await settle(q, "extend", { receipts: [receipt], visibilityTimeoutMs: 60_000 })).toEqual([
      { receipt, ok: false, code: "LEASE_LOST" },
    ]);
    expect(await inspect(q)).toEqual(before);
  });

  it("extends 100 leases in one request", async () => {
    const q = uniqueQueue("settle");
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: i })) });
    const got = await receive(q, { max: 100, visibilityTimeoutMs: 10_000 });
    const results = await settle(q, "extend", { receipts: got.map((m) => m.receipt), visibilityTimeoutMs: 60_000 });
    expect(results.every((r) => r.ok && r.leaseExpiresAt === clock.now() + 60_000)).toBe(true);
    expect((await inspect(q)).messages.every((m) => m.lease_ends_at === clock.now() + 60_000)).toBe(true);
  });

  it("of a message that is gone answers NOT_FOUND", async () => {
    const { q, receipt } = await leasedOne();
    await settle(q, "ack", { receipts: [receipt] });
    expect(await settle(q, "extend", { receipts: [receipt], visibilityTimeoutMs: 60_000 })).toEqual([
      { receipt, ok: false, code: "NOT_FOUND" },
    ]);
  });

  it("of the fixture's leased message touches nothing else", async () => {
    const fx = await buildFixture("settlefx");
    const before = await inspect(fx.queue);
    const [r] = await settle(fx.queue, "extend", { receipts: [fx.leasedReceipt], visibilityTimeoutMs: 3_600_000 });
    expect(r.ok).toBe(true);
    expectUntouched(before, await inspect(fx.queue), [fx.ids.leased]);
  });
});

describe("one receive's lease, settled in parts", () => {
  it("nack, extend, release and ack each end or move only their own messages; the rest stay leased until the last goes", async () => {
    const q = uniqueQueue("parts");
    await send(q, { messages: ["a", "b", "c", "d"].map((body) => ({ body })) });
    const [a, b, c, d] = await receive(q, { max: 4, visibilityTimeoutMs: 10_000 });
    const leaseOf = async (id: string) => (await inspect(q)).messages.find((m) => m.id === id);

    await settle(q, "nack", { receipts: [a.receipt], delayMs: 60_000 });
    expect(await leaseOf(a.id)).toMatchObject({ lease_token: null, attempts: 1, visible_at: clock.now() + 60_000 });
    await settle(q, "extend", { receipts: [b.receipt], visibilityTimeoutMs: 30_000 });
    expect(await leaseOf(b.id)).toMatchObject({ lease_ends_at: clock.now() + 30_000 });
    expect(await leaseOf(c.id)).toMatchObject({ lease_ends_at: clock.now() + 10_000 });
    // What a long-poll Worker does for a consumer that left (no HTTP route): the lease given back.
    await partition(q).releaseLeases([{ seq: c.seq, token: c.receipt.split(".")[2] }]);
    expect(await leaseOf(c.id)).toMatchObject({ lease_token: null, attempts: 0 });
    expect(await stats(q)).toMatchObject({ inFlight: 2, ready: 1, delayed: 1 });

    // The released message is delivered again, as its first attempt; the held ones are not.
    const again = await receive(q, { max: 10 });
    expect(again.map((m) => [m.id, m.attempts])).toEqual([[c.id, 1]]);

    // d's lease ends on its own, b's (extended) does not.
    clock.advance(10_000);
    await settle(q, "ack", { receipts: [again[0].receipt] });
    expect(await settle(q, "ack", { receipts: [d.receipt, b.receipt] })).toEqual([
      { receipt: d.receipt, ok: false, code: "LEASE_LOST" },
      { receipt: b.receipt, ok: true },
    ]);
    expect(await stats(q)).toMatchObject({ inFlight: 1 });
    expect(await receive(q, { max: 10 })).toEqual([]); // d waits out its backoff
    expect(await leaseOf(d.id)).toMatchObject({ lease_token: null, attempts: 1, last_error: "lease expired" });
    expect(await stats(q)).toMatchObject({ inFlight: 0, delayed: 2 });
  });
});
