import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG, LIMITS } from "../client/protocol";
import { FIXTURE_TIMES, buildFixture, expectUntouched, inspect, useFakeClock } from "./fixture";
import { post, receive, send, settle, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();

const ids = (messages: { id: string }[]) => messages.map((m) => m.id);

describe("receive", () => {
  it("answers an empty list when nothing is ready", async () => {
    const q = uniqueQueue("rcv");
    await send(q, { body: "later", delayMs: 60_000 });
    const res = await post(`/v1/queues/${q}/messages/receive`, {});
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ messages: [] });
  });

  it("leases one message by default, with the documented fields and a 30 s lease", async () => {
    const q = uniqueQueue("rcv");
    const t0 = clock.now();
    const [sent] = (await send(q, { body: { n: 1 }, attributes: { a: "b" } })).messages;
    await send(q, { body: { n: 2 } });
    clock.advance(250);
    const got = await receive(q);
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual({
      id: sent.id,
      seq: sent.seq,
      body: { n: 1 },
      attributes: { a: "b" },
      attempts: 1,
      enqueuedAt: t0,
      receipt: expect.stringMatching(/^0\.\d+\.[A-Za-z0-9_-]+$/),
      leaseExpiresAt: t0 + 250 + DEFAULT_QUEUE_CONFIG.visibilityTimeoutMs,
    });
    const row = (await inspect(q)).messages.find((m) => m.id === sent.id)!;
    // The row counts failed deliveries only; the lease is a row of its own.
    expect(row).toMatchObject({ attempts: 0, visible_at: t0, lease_ends_at: got[0].leaseExpiresAt });
    expect(row.lease_token).not.toBeNull();
  });

  it("returns ready messages in enqueue (seq) order, batches and single sends alike", async () => {
    const q = uniqueQueue("rcv");
    const a = (await send(q, { body: "a" })).messages[0].id;
    const batch = (await send(q, { messages: [{ body: "b" }, { body: "c" }, { body: "d" }] })).messages.map((m) => m.id);
    const e = (await send(q, { body: "e" })).messages[0].id;
    const first = await receive(q, { max: 2 });
    const rest = await receive(q, { max: 10 });
    expect([...ids(first), ...ids(rest)]).toEqual([a, ...batch, e]);
    expect(rest.map((m) => m.body)).toEqual(["c", "d", "e"]);
  });

  it("leases up to 100 messages in one request", async () => {
    const q = uniqueQueue("rcv");
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: i })) });
    await send(q, { body: 100 });
    const got = await receive(q, { max: LIMITS.maxReceive });
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(new Set(got.map((m) => m.receipt)).size).toBe(100);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 100 });
  });

  it("lets a delayed message take its place in seq order once it becomes visible", async () => {
    const q = uniqueQueue("rcv");
    const a = (await send(q, { body: "a", delayMs: 5_000 })).messages[0].id;
    const b = (await send(q, { body: "b" })).messages[0].id;
    expect(ids(await receive(q, { max: 10 }))).toEqual([b]);
    const c = (await send(q, { body: "c" })).messages[0].id;
    clock.advance(5_000);
    expect(ids(await receive(q, { max: 10 }))).toEqual([a, c]);
  });

  it("skips many delayed messages ahead of the ready ones, and delivers them in seq order once they are due", async () => {
    const q = uniqueQueue("rcv");
    const delayed = ids((await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: `d${i}`, delayMs: 5_000 })) })).messages);
    const ready = ids((await send(q, { messages: [{ body: "r0" }, { body: "r1" }] })).messages);
    // The first receive reads past the delayed ones; the partition starts the next ones after them.
    expect(ids(await receive(q, { max: 10 }))).toEqual(ready);
    const later = (await send(q, { body: "r2" })).messages[0].id;
    expect(ids(await receive(q, { max: 10 }))).toEqual([later]);
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 100, inFlight: 3 });
    clock.advance(5_000);
    const last = (await send(q, { body: "r3" })).messages[0].id;
    expect(ids(await receive(q, { max: 100 }))).toEqual(delayed);
    expect(ids(await receive(q, { max: 10 }))).toEqual([last]);
  });

  it("lets a retrying message take its place in seq order once its retry delay has passed", async () => {
    const q = uniqueQueue("rcv");
    const a = (await send(q, { body: "a" })).messages[0].id;
    const [leased] = await receive(q);
    await settle(q, "nack", { receipts: [leased.receipt], delayMs: 2_000 });
    const b = (await send(q, { body: "b" })).messages[0].id;
    expect(ids(await receive(q, { max: 10 }))).toEqual([b]);
    const c = (await send(q, { body: "c" })).messages[0].id;
    clock.advance(2_000);
    const got = await receive(q, { max: 10 });
    expect(ids(got)).toEqual([a, c]);
    expect(got.map((m) => m.attempts)).toEqual([2, 1]);
  });
});

describe("leases", () => {
  it("hide a received message from other receives until the lease ends", async () => {
    const q = uniqueQueue("lease");
    const [{ id }] = (await send(q, { body: "x" })).messages;
    const [first] = await receive(q, { visibilityTimeoutMs: 10_000 });
    expect(first.id).toBe(id);
    expect(await receive(q)).toEqual([]);
    clock.advance(9_999);
    expect(await receive(q)).toEqual([]);
    expect(await stats(q)).toMatchObject({ inFlight: 1, ready: 0 });
  });

  it("that end without an ack count the attempt and bring the message back after backoff", async () => {
    const q = uniqueQueue("lease");
    const [{ id }] = (await send(q, { body: "x" })).messages;
    const [first] = await receive(q, { visibilityTimeoutMs: 10_000 });
    clock.advance(10_000);
    // The lease has ended: the message now waits out its backoff (base 1 s, equal jitter: 0.5..1 s).
    expect(await receive(q)).toEqual([]);
    const row = (await inspect(q)).messages[0];
    expect(row).toMatchObject({ id, attempts: 1, lease_token: null, last_error: "lease expired" });
    const backoff = row.visible_at - clock.now();
    expect(backoff).toBeGreaterThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs / 2);
    expect(backoff).toBeLessThanOrEqual(DEFAULT_QUEUE_CONFIG.backoffBaseMs);
    clock.advance(backoff);
    const [again] = await receive(q);
    expect(again).toMatchObject({ id, attempts: 2 });
    expect(again.receipt).not.toBe(first.receipt);
  });

  it("receive leases only the ready message of the fixture and touches nothing else", async () => {
    const fx = await buildFixture("rcvfx");
    const before = await inspect(fx.queue);
    const got = await receive(fx.queue, { max: 100 });
    expect(ids(got)).toEqual([fx.ids.ready]);
    const after = await inspect(fx.queue);
    expectUntouched(before, after, [fx.ids.ready]);
    expect(after.messages.find((m) => m.id === fx.ids.ready)).toMatchObject({
      attempts: 0,
      lease_ends_at: got[0].leaseExpiresAt,
    });
  });

  it("the fixture's delayed and retrying messages come back in seq order when due", async () => {
    const fx = await buildFixture("rcvfx");
    const ready = await receive(fx.queue, { max: 100 });
    await settle(fx.queue, "ack", { receipts: ready.map((m) => m.receipt) });
    clock.advance(FIXTURE_TIMES.retryDelayMs);
    const retrying = await receive(fx.queue, { max: 100 });
    expect(ids(retrying)).toEqual([fx.ids.retrying]);
    await settle(fx.queue, "ack", { receipts: retrying.map((m) => m.receipt) });
    clock.advance(FIXTURE_TIMES.delayMs - FIXTURE_TIMES.retryDelayMs);
    // The leased message's lease (10 min) ended at the same time: it is now in backoff, not ready.
    expect(ids(await receive(fx.queue, { max: 100 }))).toEqual([fx.ids.delayed]);
  });
});
