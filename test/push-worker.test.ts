/**
 * Push to a Worker through a service binding: the consumer Worker
 * (test/consumer-worker/) runs a Cloudflare Queues handler behind edgeq's
 * adapter. Also what push shares with every consumer through the one
 * delivery core: groups, maxInFlight, the delivery rate, pause, dead
 * letters. A fake clock; the partition pushes when its alarm is fired.
 */
import { describe, expect, it } from "vitest";
import { MAX_CONCURRENT_BATCHES } from "../durable-objects/contract";
import { useFakeClock } from "./fixture";
import { get, post, send, uniqueQueue } from "./helpers";
import { alarmAt, configure, pushNow, received } from "./push-helpers";

const clock = useFakeClock();

const peek = async (q: string) =>
  (await get(`/v1/queues/${q}/messages`)).json.messages as { body: unknown; state: string; visibleAt: number; attempts: number; lastError?: string }[];
const queueStats = async (q: string) => (await get(`/v1/queues/${q}/stats`)).json;

describe("push to a Worker", () => {
  it("runs the Queues handler with each batch; returning acks every message", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { push: { service: "CONSUMER", batchSize: 3 } });
    const sent = await send(q, { messages: [1, 2, 3, 4].map((n) => ({ body: { n } })) });
    await pushNow(q);
    const got = await received(q);
    expect(got.map((r) => r.kind)).toEqual(["worker", "worker"]);
    expect(got.map((r) => r.ids)).toEqual([sent.messages.slice(0, 3).map((m) => m.id), [sent.messages[3].id]]);
    expect(got[0].attempts).toEqual([1, 1, 1]);
    expect(await queueStats(q)).toMatchObject({ depth: 0, totals: { acked: 4 }, push: { deliveries: 2, failures: { handler: 0 } } });
  });

  it("follows Cloudflare's rules: a message's own call beats the batch's; a throw retries what was not acked", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { backoffBaseMs: 1000, backoffMaxMs: 1000, push: { service: "CONSUMER", batchSize: 10 } });
    // One batch: retryAll on the batch, but two messages decide for themselves.
    await send(q, {
      messages: [
        { body: { k: "a", do: "retryAll", delaySeconds: 60 } },
        { body: { k: "b", do: "ack-explicit" } },
        { body: { k: "c", do: "retry", delaySeconds: 5 } },
      ],
    });
    await pushNow(q);
    const now = clock.now();
    expect((await peek(q)).map((m) => [(m.body as { k: string }).k, m.visibleAt - now, m.attempts])).toEqual([
      ["a", 60_000, 1],
      ["c", 5_000, 1],
    ]);
    // A handler that throws: the explicitly acked message is acked, the others retried with the error.
    const t = uniqueQueue("pwork");
    await configure(t, { backoffBaseMs: 1000, backoffMaxMs: 1000, push: { service: "CONSUMER", batchSize: 10 } });
    await send(t, { messages: [{ body: { k: "x", do: "throw" } }, { body: { k: "y", do: "ack-explicit" } }, { body: { k: "z" } }] });
    await pushNow(t);
    const left = await peek(t);
    expect(left.map((m) => (m.body as { k: string }).k)).toEqual(["x", "z"]);
    expect(left.every((m) => m.lastError === "handler failed on purpose" && m.state === "delayed")).toBe(true);
    expect((await queueStats(t)).push.failures.handler).toBe(1);
    // ackAll, then a throw: ackAll stands.
    const u = uniqueQueue("pwork");
    await configure(u, { push: { service: "CONSUMER" } });
    await send(u, { messages: [{ body: { do: "ackAll" } }, { body: { do: "throw" } }] });
    await pushNow(u);
    expect(await peek(u)).toEqual([]);
  });

  it("a message that keeps failing becomes a dead letter with the handler's error after maxAttempts", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 100, push: { service: "CONSUMER" } });
    await send(q, { body: { do: "throw" } });
    for (let i = 0; i < 3; i++) {
      await pushNow(q);
      clock.advance(100);
    }
    expect((await received(q)).map((r) => r.attempts[0])).toEqual([1, 2, 3]);
    const dead = (await get(`/v1/queues/${q}/dead-letters`)).json.deadLetters;
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: "max_attempts", attempts: 3, lastError: "handler failed on purpose" });
  });

  it("keeps groups in order: one message of a group in flight at a time, the next only after it is acked", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { backoffBaseMs: 1000, backoffMaxMs: 1000, push: { service: "CONSUMER", batchSize: 10 } });
    await send(q, {
      messages: [
        { body: { k: "a1", do: "retry", delaySeconds: 2 }, groupId: "a" },
        { body: { k: "b1" }, groupId: "b" },
        { body: { k: "a2" }, groupId: "a" },
        { body: { k: "b2" }, groupId: "b" },
        { body: { k: "n1" } },
      ],
    });
    await pushNow(q);
    const keys = async () => (await received(q)).map((r) => r.bodies.map((b) => (b as { k: string }).k));
    // a1 failed: a2 waits for it. b1 was acked, so b2 goes in the same alarm.
    expect(await keys()).toEqual([["a1", "b1", "n1"], ["b2"]]);
    clock.advance(2000);
    await pushNow(q);
    // a1 came back (and asked again), still ahead of a2.
    expect((await keys())[2]).toEqual(["a1"]);
    expect((await peek(q)).map((m) => (m.body as { k: string }).k)).toEqual(["a1", "a2"]);
  });

  it("holds maxInFlight: never more messages out at once than the limit", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { maxInFlight: 4, push: { service: "CONSUMER", batchSize: 2 } });
    await send(q, { messages: Array.from({ length: 20 }, (_, i) => ({ body: { i, waitMs: 20 } })) });
    await pushNow(q);
    const got = await received(q);
    expect(got.flatMap((r) => r.ids)).toHaveLength(20);
    expect(Math.max(...got.map((r) => r.concurrent))).toBe(2); // two batches of two
    expect((await queueStats(q)).depth).toBe(0);
  });

  it("without maxInFlight, a partition has at most MAX_CONCURRENT_BATCHES batches out", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { push: { service: "CONSUMER", batchSize: 1 } });
    await send(q, { messages: Array.from({ length: 30 }, (_, i) => ({ body: { i, waitMs: 20 } })) });
    await pushNow(q);
    const got = await received(q);
    expect(got).toHaveLength(30);
    expect(Math.max(...got.map((r) => r.concurrent))).toBe(MAX_CONCURRENT_BATCHES);
  });

  it("holds deliveryRatePerSec: one second's worth at most, then the alarm waits for the next token", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { deliveryRatePerSec: 5, push: { service: "CONSUMER", batchSize: 10 } });
    await send(q, { messages: Array.from({ length: 23 }, (_, i) => ({ body: i })) });
    await pushNow(q);
    const count = async () => (await received(q)).flatMap((r) => r.ids).length;
    expect(await count()).toBe(5); // the bucket starts full: one second's rate
    expect(await alarmAt(q)).toBe(clock.now() + 200); // the next token
    clock.advance(200);
    await pushNow(q);
    expect(await count()).toBe(6);
    for (let s = 1; s <= 3; s++) {
      clock.advance(1000);
      await pushNow(q);
      expect(await count()).toBe(6 + 5 * s);
    }
    clock.advance(1000);
    await pushNow(q);
    expect(await count()).toBe(23);
  });

  it("a paused queue pushes nothing; resumed, it pushes what waited", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { paused: true, push: { service: "CONSUMER" } });
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    await pushNow(q);
    expect(await received(q)).toHaveLength(0);
    expect((await post(`/v1/queues/${q}/resume`)).status).toBe(200);
    expect(await alarmAt(q)).toBe(clock.now());
    await pushNow(q);
    expect((await received(q)).flatMap((r) => r.bodies)).toEqual([1, 2]);
  });

  it("each partition of a queue pushes its own messages", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { partitions: 2, push: { service: "CONSUMER" } });
    await send(q, { messages: Array.from({ length: 10 }, (_, i) => ({ body: i, key: `k${i}` })) });
    await pushNow(q, 1, 0);
    await pushNow(q, 1, 1);
    expect((await received(q)).flatMap((r) => r.bodies).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await queueStats(q)).depth).toBe(0);
  });

  it("push turned off mid-way: what was pushed is settled, the rest waits for pulls", async () => {
    const q = uniqueQueue("pwork");
    await configure(q, { push: { service: "CONSUMER", batchSize: 2 }, maxInFlight: 2 });
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    await pushNow(q);
    expect((await received(q)).flatMap((r) => r.bodies)).toEqual([1, 2, 3]);
    await send(q, { body: 4 });
    await configure(q, { push: null });
    await pushNow(q);
    expect((await received(q)).flatMap((r) => r.bodies)).toEqual([1, 2, 3]);
    const pulled = (await post(`/v1/queues/${q}/messages/receive`, {})).json.messages;
    expect(pulled.map((m: { body: number }) => m.body)).toEqual([4]);
  });
});
