/**
 * The fan-out under failure: the topic's object dies in the middle of a
 * fan-out (after a queue stored a batch, before the topic recorded it), a
 * delivery's answer is lost, a queue is full, a queue refuses a message.
 * Each subscribed queue must end with exactly one copy of each message, in
 * publish order, and the lag must show in the topic's stats meanwhile.
 *
 * Faults are injected by wrapping the live object's `forward` (the one call
 * that leaves the topic) from inside the object; the wrapper dies with the
 * object, so the instance that recovers runs the real code.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { useFakeClock } from "./fixture";
import { call, post, receive, settle, uniqueQueue } from "./helpers";
import { fanOut, publish, putTopic, queueContents, topicObject, topicStats } from "./topic-helpers";

const clock = useFakeClock();

/** Past any retry's backoff (at most a minute). */
const PAST_BACKOFF_MS = 61_000;

type Fault = "abort" | "throw";

/** Answers lost so far (the test and the objects share the isolate). */
let lost = 0;

/**
 * Makes the topic's `nth` delivery (1 = the next one) store its copies in
 * the queue and then fail as if its answer was lost: "abort" resets the
 * object (the runtime died), "throw" makes the call reject. Answers a
 * function that tells whether that delivery happened.
 */
async function loseAnswer(topic: string, fault: Fault, nth = 1): Promise<() => Promise<boolean>> {
  const stub = env.TOPIC.get(env.TOPIC.idFromName(topic));
  await runInDurableObject(stub, (instance, state) => {
    const live = instance as unknown as { forward: (...args: unknown[]) => Promise<unknown> };
    const real = live.forward.bind(live);
    let calls = 0;
    live.forward = async (...args) => {
      const answer = await real(...args);
      if (++calls === nth) {
        lost += 1;
        if (fault === "abort") state.abort("the runtime died mid fan-out");
        throw new Error("the answer was lost");
      }
      return answer;
    };
  });
  const before = lost;
  return async () => lost > before;
}

/** Runs alarms (and restarts the object when it died) until the outbox is empty. */
async function recover(topic: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    await runDurableObjectAlarm(topicObject(topic)).catch(() => false);
    const stats = await topicStats(topic); // a dead object starts again here, and sets its alarm
    if (stats.pending === 0) return;
    clock.advance(PAST_BACKOFF_MS);
  }
}

/** Each copy once: the queue's bodies, sorted, are exactly `expected`. */
async function expectOnce(queue: string, expected: number[]): Promise<void> {
  const seen = (await queueContents(queue)).map((m) => m.body as number);
  expect(seen.length, `${queue} holds ${seen.length} copies`).toBe(expected.length);
  expect([...seen].sort((x, y) => x - y)).toEqual(expected);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("fan-out: a crash in the middle stores nothing twice", () => {
  for (const [fault, nth] of [
    ["abort", 1],
    ["abort", 4],
    ["abort", 9],
    ["throw", 1],
    ["throw", 6],
  ] as [Fault, number][]) {
    it(`${fault === "abort" ? "the object dies" : "the call throws"} after delivery ${nth} was stored: each queue ends with exactly one copy`, async () => {
      const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
      expect((await call("PUT", `/v1/queues/${b}`, { partitions: 3, dedupWindowMs: 0 })).status).toBe(201);
      await putTopic(t, { subscriptions: [{ queue: a }, { queue: b, filter: { half: ["yes"] } }] });
      const total = 1000;
      for (let i = 0; i < total; i += 100) {
        await publish(t, { messages: range(100).map((k) => ({ body: i + k, attributes: { half: (i + k) % 2 ? "no" : "yes" } })) });
      }
      const happened = await loseAnswer(t, fault, nth);
      await runDurableObjectAlarm(topicObject(t)).catch(() => false);
      expect(await happened()).toBe(true);

      // Mid fan-out: some copies are in the queues, the topic has not recorded all it stored.
      const stats = await topicStats(t);
      const stored = (await queueContents(a)).length + (await queueContents(b)).length;
      const recorded = stats.subscriptions.reduce((n, s) => n + s.delivered, 0);
      expect(stats.pending).toBeGreaterThan(0);
      expect(stored).toBeGreaterThan(recorded);
      if (fault === "throw") expect(stats.subscriptions.some((s) => s.lastError?.startsWith("UNAVAILABLE"))).toBe(true);

      await evictDurableObject(topicObject(t));
      await recover(t);
      await expectOnce(a, range(total));
      await expectOnce(b, range(total).filter((i) => i % 2 === 0));
      const after = await topicStats(t);
      expect(after).toMatchObject({ published: total, pending: 0 });
      expect(after.subscriptions.map((s) => [s.delivered, s.failures, s.lastError])).toEqual([
        [total, 0, null],
        [total / 2, 0, null],
      ]);
    });
  }

  it("an answer lost twice in a row, and an eviction between: still one copy each, in order per group", async () => {
    const [t, a] = [uniqueQueue("t"), uniqueQueue("a")];
    await putTopic(t, { subscriptions: [{ queue: a }] });
    await publish(t, { messages: range(50).map((i) => ({ body: i, groupId: `g${i % 3}` })) });
    let happened = await loseAnswer(t, "throw");
    await runDurableObjectAlarm(topicObject(t));
    expect(await happened()).toBe(true);
    await evictDurableObject(topicObject(t));
    clock.advance(PAST_BACKOFF_MS);
    happened = await loseAnswer(t, "throw");
    await runDurableObjectAlarm(topicObject(t));
    expect(await happened()).toBe(true);
    expect((await topicStats(t)).subscriptions[0]).toMatchObject({ failures: 2, pending: 50, delivered: 0 });
    await recover(t);
    const copies = await queueContents(a);
    expect(copies.map((m) => m.body)).toEqual(range(50));
    expect((await topicStats(t)).subscriptions[0]).toMatchObject({ failures: 0, delivered: 50 });
  });
});

describe("fan-out: refusals hold back one subscription, with backoff, and show as lag", () => {
  it("a full queue is retried with backoff while the other subscription goes on; everything arrives once, in order", async () => {
    const [t, full, free] = [uniqueQueue("t"), uniqueQueue("full"), uniqueQueue("free")];
    expect((await call("PUT", `/v1/queues/${full}`, { maxDepth: 5 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: full }, { queue: free }] });
    const publishedAt = clock.now();
    await publish(t, { messages: range(12).map((i) => ({ body: i, groupId: "one-group" })) });
    await fanOut(t);

    // The free queue has everything; the full one what fitted, in order.
    await expectOnce(free, range(12));
    expect((await queueContents(full)).map((m) => m.body)).toEqual(range(5));
    clock.advance(30_000);
    let stats = await topicStats(t);
    const [held, other] = stats.subscriptions;
    expect(other).toMatchObject({ delivered: 12, pending: 0, failures: 0 });
    expect(held).toMatchObject({ delivered: 5, pending: 7, oldestPendingAgeMs: clock.now() - publishedAt });
    expect(held.failures).toBeGreaterThanOrEqual(1);
    expect(held.lastError).toMatch(/^QUEUE_FULL: /);
    expect(held.retryAt).toBeGreaterThan(publishedAt);
    expect(stats).toMatchObject({ pending: 7, oldestPendingAgeMs: 30_000 });

    // A retry before its time does nothing.
    const early = await runDurableObjectAlarm(topicObject(t));
    if (early) expect((await queueContents(full)).length).toBe(5);

    // Consumers make room; retries fill it, and the rest follows in order.
    const got: number[] = [];
    for (let round = 0; round < 40 && got.length < 12; round++) {
      const messages = await receive(full, { max: 10 });
      got.push(...messages.map((m) => m.body as number));
      if (messages.length > 0) await settle(full, "ack", { receipts: messages.map((m) => m.receipt) });
      clock.advance(PAST_BACKOFF_MS);
      await fanOut(t);
    }
    expect(got).toEqual(range(12));
    stats = await topicStats(t);
    expect(stats.pending).toBe(0);
    expect(stats.subscriptions[0]).toMatchObject({ delivered: 12, failures: 0, lastError: null, retryAt: null });
  });

  it("a message its queue refuses holds back those after it, not those before, until the queue takes it", async () => {
    const [t, small] = [uniqueQueue("t"), uniqueQueue("small")];
    expect((await call("PUT", `/v1/queues/${small}`, { maxMessageBytes: 1024 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: small }] });
    await publish(t, { messages: [{ body: "a" }, { body: "b" }, { body: "x".repeat(2000) }, { body: "c" }] });
    for (let i = 0; i < 6; i++) {
      await fanOut(t);
      clock.advance(PAST_BACKOFF_MS);
    }
    expect((await queueContents(small)).map((m) => m.body)).toEqual(["a", "b"]);
    const held = (await topicStats(t)).subscriptions[0];
    expect(held).toMatchObject({ delivered: 2, pending: 2 });
    expect(held.lastError).toMatch(/^PAYLOAD_TOO_LARGE: /);

    expect((await call("PUT", `/v1/queues/${small}`, { maxMessageBytes: 4096 })).status).toBe(200);
    clock.advance(PAST_BACKOFF_MS);
    await fanOut(t);
    expect((await queueContents(small)).map((m) => (m.body.length > 10 ? "big" : m.body))).toEqual(["a", "b", "big", "c"]);
    expect((await topicStats(t)).subscriptions[0]).toMatchObject({ delivered: 4, pending: 0, failures: 0, lastError: null });
  });

  it("a deleted queue is created again by the next delivery (auto-create on); a removed subscription's retries stop", async () => {
    const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
    expect((await call("PUT", `/v1/queues/${b}`, { maxDepth: 1 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: a }, { queue: b }] });
    await publish(t, { messages: [{ body: 1 }, { body: 2 }] });
    await fanOut(t);
    expect((await topicStats(t)).subscriptions[1].pending).toBe(1);
    // b stops being a subscription while it waits for room: its pending message leaves the outbox.
    await putTopic(t, { subscriptions: [{ queue: a }] });
    expect(await topicStats(t)).toMatchObject({ pending: 0 });
    expect((await call("DELETE", `/v1/queues/${a}`)).status).toBe(200);
    await publish(t, { body: 3 });
    await fanOut(t);
    expect((await queueContents(a)).map((m) => m.body)).toEqual([3]);
    expect((await queueContents(b)).map((m) => m.body)).toEqual([1]);
    expect((await post(`/v1/topics/${t}/messages`, { body: 4 })).status).toBe(201);
  });
});
