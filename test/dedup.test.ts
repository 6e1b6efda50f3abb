/**
 * Dedup ids: within the queue's dedup window a second enqueue with the same
 * `dedupId` stores nothing and answers the first message's id and seq with
 * `duplicate: true`, also inside one batch; after the window the id is new.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { packBatch } from "../durable-objects/contract";
import { call, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { item as anItem, store } from "./stub-calls";

afterEach(() => {
  vi.useRealTimers();
});

const item = (body: unknown, dedupId: string | null) => anItem(body, { dedupId });

const dedupRows = (q: string) =>
  runInDurableObject(partition(q), (_, state) =>
    state.storage.sql
      .exec<{ dedup_id: string; message_id: string; seq: number }>("SELECT dedup_id, message_id, seq FROM dedup ORDER BY dedup_id")
      .toArray(),
  );

describe("dedup ids over HTTP", () => {
  it("retries of an enqueue that timed out on the client store one message", async () => {
    const q = uniqueQueue();
    const order = { body: { order: 42 }, dedupId: "order-42" };
    // The producer did not see the first answer and sent again, twice.
    const answers = await Promise.all([send(q, order), send(q, order), send(q, order)]);
    const results = answers.map((a) => a.messages[0]);
    const first = results.find((r) => !r.duplicate)!;
    expect(results.filter((r) => r.duplicate)).toHaveLength(2);
    for (const r of results) expect({ id: r.id, seq: r.seq }).toEqual({ id: first.id, seq: first.seq });
    expect(first).not.toHaveProperty("duplicate");
    expect(await stats(q)).toMatchObject({ ready: 1 });
    const got = await receive(q, { max: 10 });
    expect(got.map((m) => m.id)).toEqual([first.id]);
  });

  it("duplicates inside one batch answer the first one's id and seq", async () => {
    const q = uniqueQueue();
    const { messages } = await send(q, {
      messages: [
        { body: 1, dedupId: "a" },
        { body: 2, dedupId: "a" },
        { body: 3, dedupId: "b" },
        { body: 4 },
        { body: 5, dedupId: "a" },
      ],
    });
    expect(messages.map((m) => m.duplicate ?? false)).toEqual([false, true, false, false, true]);
    expect(messages[1]).toEqual({ id: messages[0].id, seq: messages[0].seq, duplicate: true });
    expect(messages[4]).toEqual({ id: messages[0].id, seq: messages[0].seq, duplicate: true });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual([1, 3, 4]);
  });

  it("a batch mixing an id seen before with new ones stores only the new ones", async () => {
    const q = uniqueQueue();
    const [seen] = (await send(q, { body: "first", dedupId: "x" })).messages;
    const { messages } = await send(q, { messages: [{ body: "again", dedupId: "x" }, { body: "new", dedupId: "y" }] });
    expect(messages[0]).toEqual({ ...seen, duplicate: true });
    expect(messages[1].duplicate).toBeUndefined();
    expect(await stats(q)).toMatchObject({ ready: 2 });
  });

  it("still answers duplicate after the first message was consumed, within the window", async () => {
    const q = uniqueQueue();
    const [first] = (await send(q, { body: "pay", dedupId: "payment-7" })).messages;
    const [m] = await receive(q);
    await settle(q, "ack", { receipts: [m.receipt] });
    const [again] = (await send(q, { body: "pay", dedupId: "payment-7" })).messages;
    expect(again).toEqual({ id: first.id, seq: first.seq, duplicate: true });
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("the window ends: the alarm forgets the id and it may be used again", async () => {
    const q = uniqueQueue();
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    const [first] = (await send(q, { body: 1, dedupId: "once" })).messages;
    vi.setSystemTime(start + DEFAULT_QUEUE_CONFIG.dedupWindowMs - 1);
    expect((await send(q, { body: 2, dedupId: "once" })).messages[0].duplicate).toBe(true);
    vi.setSystemTime(start + DEFAULT_QUEUE_CONFIG.dedupWindowMs + 1);
    await runDurableObjectAlarm(partition(q));
    expect(await dedupRows(q)).toEqual([]);
    const [second] = (await send(q, { body: 3, dedupId: "once" })).messages;
    expect(second.duplicate).toBeUndefined();
    expect(second.id).not.toBe(first.id);
    expect(second.seq).toBeGreaterThan(first.seq);
    // And the new message opens a new window.
    expect((await send(q, { body: 4, dedupId: "once" })).messages[0]).toEqual({ ...second, duplicate: true });
  });

  it("the window ends even before the alarm has swept the id", async () => {
    const q = uniqueQueue();
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    const [first] = (await send(q, { body: 1, dedupId: "k" })).messages;
    vi.setSystemTime(start + DEFAULT_QUEUE_CONFIG.dedupWindowMs);
    const [second] = (await send(q, { body: 2, dedupId: "k" })).messages;
    expect(second.duplicate).toBeUndefined();
    expect(second.id).not.toBe(first.id);
    expect(await dedupRows(q)).toEqual([{ dedup_id: "k", message_id: second.id, seq: second.seq }]);
  });

  it("a dedup id survives the partition's eviction", async () => {
    const q = uniqueQueue();
    const [first] = (await send(q, { body: "durable", dedupId: "keep-me" })).messages;
    await evictDurableObject(partition(q));
    const [again] = (await send(q, { body: "durable", dedupId: "keep-me" })).messages;
    expect(again).toEqual({ id: first.id, seq: first.seq, duplicate: true });
    expect(await stats(q)).toMatchObject({ ready: 1 });
  });

  it("validates dedup ids: a string of 1 to 128 characters", async () => {
    const q = uniqueQueue();
    for (const [dedupId, status, code] of [
      ["", 422, "INVALID_VALUE"],
      ["x".repeat(129), 422, "INVALID_VALUE"],
      [7, 400, "INVALID_REQUEST"],
    ] as const) {
      const res = await call("POST", `/v1/queues/${q}/messages`, { body: 1, dedupId });
      expect([res.status, res.json.error.code]).toEqual([status, code]);
      expect(res.json.error.message).toMatch(/^dedupId/);
    }
    expect((await send(q, { body: 1, dedupId: "x".repeat(128) })).messages[0].duplicate).toBeUndefined();
  });
});

describe("dedup ids in the object", () => {
  it("stores one row per id and one message per id, in one transaction", async () => {
    const q = uniqueQueue();
    const stub = partition(q);
    const results = await store(stub, [item(1, "a"), item(2, "b"), item(3, "a"), item(4, null), item(5, "b")]);
    expect(results.map((r) => r.duplicate ?? false)).toEqual([false, false, true, false, true]);
    expect(results[2].seq).toBe(results[0].seq);
    expect(results[4].seq).toBe(results[1].seq);
    const rows = await dedupRows(q);
    expect(rows).toEqual([
      { dedup_id: "a", message_id: results[0].id, seq: results[0].seq },
      { dedup_id: "b", message_id: results[1].id, seq: results[1].seq },
    ]);
    const bodies = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ body: string }>("SELECT body FROM messages ORDER BY seq").toArray().map((r) => r.body),
    );
    expect(bodies).toEqual(["1", "2", "4"]);
  });

  it("a duplicate-only batch stores nothing", async () => {
    const q = uniqueQueue();
    const stub = partition(q);
    await store(stub, [item(1, "a")]);
    const before = await runInDurableObject(stub, (_, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM messages").one().n);
    const again = await store(stub, [item(1, "a"), item(1, "a")]);
    expect(again.every((r) => r.duplicate)).toBe(true);
    const after = await runInDurableObject(stub, (_, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM messages").one().n);
    expect(after).toBe(before);
  });

  it("the window is the queue's dedupWindowMs", async () => {
    const q = uniqueQueue();
    const stub = partition(q);
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, dedupWindowMs: 1_000 });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    const [first] = await store(stub, [item(1, "short")]);
    vi.setSystemTime(start + 999);
    expect((await store(stub, [item(1, "short")]))[0]).toEqual({ ...first, duplicate: true });
    vi.setSystemTime(start + 1_000);
    expect((await store(stub, [item(1, "short")]))[0].duplicate).toBeUndefined();
  });

  it("a batch's minDedupWindowMs outlasts a shorter (even zero) queue window", async () => {
    const q = uniqueQueue();
    const stub = partition(q);
    await stub.configure({ ...DEFAULT_QUEUE_CONFIG, dedupWindowMs: 0 });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    const forward = (dedupId: string) => stub.enqueue(packBatch([{ id: crypto.randomUUID(), ...item(1, dedupId) }], 60_000));
    const first = await forward("topic-msg-1");
    expect(first.ok).toBe(true);
    vi.setSystemTime(start + 59_999);
    expect(await forward("topic-msg-1")).toEqual({ ok: true, results: [{ ...(first as { results: object[] }).results[0], duplicate: true }] });
    // The queue's own window (0) still applies to ordinary enqueues.
    expect((await store(stub, [item(1, "plain")]))[0].duplicate).toBeUndefined();
    expect((await store(stub, [item(1, "plain")]))[0].duplicate).toBeUndefined();
    vi.setSystemTime(start + 60_000);
    expect(((await forward("topic-msg-1")) as { results: { duplicate?: boolean }[] }).results[0].duplicate).toBeUndefined();
  });

  it("the same dedup id sent to a queue of several partitions lands on one partition", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { partitions: 4 })).status).toBe(201);
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push((await send(q, { body: i, dedupId: "spread-me" })).messages[0]);
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
  });
});
