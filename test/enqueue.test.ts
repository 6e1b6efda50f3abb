import { describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG, LIMITS } from "../client/protocol";
import { FIXTURE_STATS, buildFixture, expectUntouched, inspect, useFakeClock } from "./fixture";
import { post, receive, send, stats, uniqueQueue } from "./helpers";

const clock = useFakeClock();

describe("enqueue", () => {
  it("answers 201 with the id and seq of one message, committed in the partition", async () => {
    const q = uniqueQueue("enq");
    const res = await post(`/v1/queues/${q}/messages`, { body: { order: 42 }, attributes: { kind: "order" } });
    expect(res.status).toBe(201);
    expect(res.json.messages).toHaveLength(1);
    const [{ id, seq }] = res.json.messages;
    expect(typeof id).toBe("string");
    expect(Number.isInteger(seq)).toBe(true);

    const state = await inspect(q);
    expect(state.messages).toEqual([
      expect.objectContaining({
        id,
        seq,
        body: '{"order":42}',
        attributes: '{"kind":"order"}',
        attempts: 0,
        lease_token: null,
        visible_at: clock.now(),
        enqueued_at: clock.now(),
      }),
    ]);
    expect(await stats(q)).toMatchObject({ ready: 1, delayed: 0, inFlight: 0, deadLetters: 0, oldestReadyAgeMs: 0 });
  });

  it("keeps any JSON value as the body, and attributes (or {}) as given", async () => {
    const q = uniqueQueue("enq");
    const bodies = [{ a: [1, { b: null }] }, [1, "two", false], "text", 0, -1.5, null, true, { unicode: "ü€😀" }];
    for (const body of bodies) await send(q, { body });
    await send(q, { body: "with attributes", attributes: { a: "1", "b-c": "" } });
    const got = await receive(q, { max: 100 });
    expect(got.map((m) => m.body)).toEqual([...bodies, "with attributes"]);
    expect(got.slice(0, -1).every((m) => JSON.stringify(m.attributes) === "{}")).toBe(true);
    expect(got.at(-1)!.attributes).toEqual({ a: "1", "b-c": "" });
  });

  it("stores a batch of 100 in one request, answering in the order given", async () => {
    const q = uniqueQueue("enq");
    const messages = Array.from({ length: LIMITS.maxBatch }, (_, i) => ({ body: { i } }));
    const res = await post(`/v1/queues/${q}/messages`, { messages });
    expect(res.status).toBe(201);
    const sent = res.json.messages as { id: string; seq: number }[];
    expect(sent).toHaveLength(100);
    expect(new Set(sent.map((m) => m.id)).size).toBe(100);
    for (let i = 1; i < sent.length; i++) expect(sent[i].seq).toBeGreaterThan(sent[i - 1].seq);

    const state = await inspect(q);
    expect(state.messages.map((m) => [m.id, JSON.parse(m.body).i])).toEqual(sent.map((m, i) => [m.id, i]));
    expect((await stats(q)).ready).toBe(100);
  });

  it("stores a delayed message invisible until its delay has passed", async () => {
    const q = uniqueQueue("enq");
    const t0 = clock.now();
    const [{ id }] = (await send(q, { body: "later", delayMs: 5_000 })).messages;
    expect((await inspect(q)).messages[0]).toMatchObject({ id, visible_at: t0 + 5_000, enqueued_at: t0 });
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 1 });
    expect(await receive(q)).toEqual([]);
    clock.advance(4_999);
    expect(await receive(q)).toEqual([]);
    clock.advance(1);
    expect((await receive(q)).map((m) => m.id)).toEqual([id]);
  });

  it("takes a message of exactly maxMessageBytes and refuses one byte more with 413, storing nothing", async () => {
    const q = uniqueQueue("enq");
    const attributes = { k: "v" }; // {"k":"v"} is 9 bytes
    const fill = (bytes: number) => "é".repeat(Math.floor(bytes / 2)) + "x".repeat(bytes % 2); // é is 2 bytes in UTF-8
    const exact = fill(DEFAULT_QUEUE_CONFIG.maxMessageBytes - 9 - 2); // the body's JSON adds 2 quotes
    const ok = await post(`/v1/queues/${q}/messages`, { body: exact, attributes });
    expect(ok.status).toBe(201);

    const over = await post(`/v1/queues/${q}/messages`, { messages: [{ body: 1 }, { body: exact + "x", attributes }] });
    expect(over.status).toBe(413);
    expect(over.json.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(over.json.error.message).toContain("messages[1]");
    expect((await inspect(q)).messages).toHaveLength(1);
  });

  it("leaves every other message of the queue untouched", async () => {
    const fx = await buildFixture("enqfx");
    const before = await inspect(fx.queue);
    const [{ id }] = (await send(fx.queue, { body: "new" })).messages;
    const after = await inspect(fx.queue);
    expectUntouched(before, after, [id]);
    expect(after.messages.at(-1)).toMatchObject({ id, attempts: 0, lease_token: null });
    expect(await stats(fx.queue)).toMatchObject({ ...FIXTURE_STATS, ready: FIXTURE_STATS.ready + 1 });
  });
});
