import { evictDurableObject, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ReceiveResponse } from "../client/protocol";
import { receiveMessages } from "../worker/consume";
import { ADMIN_TOKEN, BASE, call, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { envWithPartitionMethod } from "./stub-calls";

/** Live waiter sockets of a partition. */
const waiters = (queue: string) => runInDurableObject(partition(queue), (_, state) => state.getWebSockets().length);

/** Waits (polling, real time) until `n` long-polls wait on the queue's partition. */
async function untilWaiting(queue: string, n: number) {
  for (let i = 0; i < 200; i++) {
    if ((await waiters(queue)) >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${n} waiters`);
}

/** A long-poll receive, not awaited: its answer and how long it took. */
function longPoll(queue: string, body: Record<string, unknown>, signal?: AbortSignal) {
  const started = performance.now();
  return SELF.fetch(`${BASE}/v1/queues/${queue}/messages/receive`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  }).then(async (res) => {
    expect(res.status).toBe(200);
    const json = (await res.json()) as ReceiveResponse;
    return { messages: json.messages, ms: performance.now() - started };
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("long-poll receive", () => {
  it("answers an empty list after roughly waitMs", async () => {
    const q = uniqueQueue();
    const { messages, ms } = await longPoll(q, { waitMs: 400 });
    expect(messages).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(2_000);
    // The socket is gone once the wait ended.
    await vi.waitFor(async () => expect(await waiters(q)).toBe(0));
  });

  it("answers at once when a message is ready, whatever waitMs", async () => {
    const q = uniqueQueue();
    await send(q, { body: 1 });
    const { messages, ms } = await longPoll(q, { waitMs: 10_000 });
    expect(messages.map((m) => m.body)).toEqual([1]);
    expect(ms).toBeLessThan(1_000);
    expect(await waiters(q)).toBe(0);
  });

  it("wakes a waiting receive the moment a message is enqueued", async () => {
    const q = uniqueQueue();
    const waiting = longPoll(q, { waitMs: 10_000 });
    await untilWaiting(q, 1);
    const sentAt = performance.now();
    await send(q, { body: { hello: "waiter" } });
    const { messages } = await waiting;
    expect(messages.map((m) => m.body)).toEqual([{ hello: "waiter" }]);
    expect(performance.now() - sentAt).toBeLessThan(1_000);
  });

  it("a waiting receive gets the enqueued message pushed, with a receipt that acks", async () => {
    const q = uniqueQueue();
    const waiting = longPoll(q, { max: 5, waitMs: 10_000, visibilityTimeoutMs: 45_000 });
    await untilWaiting(q, 1);
    const before = Date.now();
    await send(q, { body: "pushed" });
    const { messages } = await waiting;
    expect(messages.map((m) => [m.body, m.attempts])).toEqual([["pushed", 1]]);
    expect(messages[0].leaseExpiresAt).toBeGreaterThanOrEqual(before + 45_000);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 1 });
    expect(await settle(q, "ack", { receipts: [messages[0].receipt] })).toEqual([{ receipt: messages[0].receipt, ok: true }]);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
    await vi.waitFor(async () => expect(await waiters(q)).toBe(0));
  });

  it("a push that reaches a consumer already gone is given back, its attempt not counted", async () => {
    const q = uniqueQueue();
    const controller = new AbortController();
    // The consumer leaves the moment the push reaches the Worker, before the wait can answer with it.
    const leaving = envWithPartitionMethod("fetch", (fetch) => async (...args: unknown[]) => {
      const res = await fetch(...args);
      res.webSocket?.addEventListener("message", () => controller.abort());
      return res;
    });
    const lingering: Promise<unknown>[] = [];
    const waiting = receiveMessages(leaving, q, {
      max: 1,
      waitMs: 5_000,
      signal: controller.signal,
      waitUntil: (p) => lingering.push(p),
    });
    await untilWaiting(q, 1);
    await send(q, { body: "back" });
    expect(await waiting).toEqual([]);
    await Promise.all(lingering);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
    expect((await receive(q)).map((m) => [m.body, m.attempts])).toEqual([["back", 1]]);
  });

  it("when several partitions push to one wait, one answers and the others' leases go back", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { partitions: 3 })).status).toBe(201);
    const sockets = () =>
      Promise.all([0, 1, 2].map((p) => runInDurableObject(partition(q, p), (_, state) => state.getWebSockets().length)));
    const waiting = longPoll(q, { max: 2, waitMs: 10_000 });
    await vi.waitFor(async () => expect(await sockets()).toEqual([1, 1, 1]), { timeout: 2_000, interval: 10 });
    const groups = ["g-1", "g-2", "g-3", "g-4", "g-5", "g-6"];
    await send(q, { messages: groups.map((groupId) => ({ body: groupId, groupId })) }); // groups hash over the partitions
    const { messages } = await waiting;
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.length).toBeLessThanOrEqual(2);
    // What the other partitions pushed after the first answered is released in waitUntil, just after.
    await vi.waitFor(async () => expect(await stats(q)).toMatchObject({ ready: 6 - messages.length, inFlight: messages.length }));
    const rest = await receive(q, { max: 10 });
    expect(rest.map((m) => m.attempts)).toEqual(rest.map(() => 1));
    expect([...messages, ...rest].map((m) => m.body).sort()).toEqual(groups);
  });

  it("a paused queue pushes nothing to a waiting receive; resuming does", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { paused: true })).status).toBe(201);
    await send(q, { body: "held" });
    const waiting = longPoll(q, { waitMs: 10_000 });
    await untilWaiting(q, 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
    expect((await call("POST", `/v1/queues/${q}/resume`)).status).toBe(200);
    const { messages, ms } = await waiting;
    expect(messages.map((m) => m.body)).toEqual(["held"]);
    expect(ms).toBeLessThan(5_000);
  });

  it("one enqueue wakes exactly one of many waiters; the others time out empty and lease nothing", async () => {
    const q = uniqueQueue();
    const polls = Array.from({ length: 5 }, () => longPoll(q, { waitMs: 1_500 }));
    await untilWaiting(q, 5);
    await send(q, { body: "only one" });
    const answers = await Promise.all(polls);
    const got = answers.filter((a) => a.messages.length > 0);
    expect(got).toHaveLength(1);
    expect(got[0].messages[0].body).toBe("only one");
    expect(got[0].ms).toBeLessThan(1_400);
    for (const a of answers.filter((a) => a.messages.length === 0)) expect(a.ms).toBeGreaterThanOrEqual(1_400);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 1 });
  });

  it("a batch wakes as many waiters as it can satisfy", async () => {
    const q = uniqueQueue();
    const polls = Array.from({ length: 4 }, () => longPoll(q, { waitMs: 1_500 }));
    await untilWaiting(q, 4);
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    const answers = await Promise.all(polls);
    expect(answers.flatMap((a) => a.messages.map((m) => m.body)).sort()).toEqual([1, 2]);
    expect(answers.filter((a) => a.messages.length > 0)).toHaveLength(2);
  });

  it("wakes a waiter when a delayed message's alarm fires", async () => {
    const q = uniqueQueue();
    vi.useFakeTimers({ toFake: ["Date"] });
    const waiting = longPoll(q, { waitMs: 10_000 });
    await untilWaiting(q, 1);
    await send(q, { body: "later", delayMs: 60_000 });
    expect(await stats(q)).toMatchObject({ delayed: 1 });
    vi.setSystemTime(Date.now() + 60_000);
    const firedAt = performance.now();
    expect(await runDurableObjectAlarm(partition(q))).toBe(true);
    const { messages } = await waiting;
    expect(messages.map((m) => m.body)).toEqual(["later"]);
    expect(performance.now() - firedAt).toBeLessThan(1_000);
  });

  it("waiting receives survive the partition hibernating and get the next message", async () => {
    const q = uniqueQueue();
    const polls = [longPoll(q, { waitMs: 10_000 }), longPoll(q, { waitMs: 10_000 })];
    await untilWaiting(q, 2);
    const stub = partition(q);
    await runInDurableObject(stub, (instance) => void ((instance as unknown as { marked: boolean }).marked = true));
    await evictDurableObject(stub, { webSockets: "hibernate" });
    await send(q, { messages: [{ body: "a" }, { body: "b" }] });
    // A new instance served them: the waiters' sockets and attachments outlived the old one.
    expect(await runInDurableObject(stub, (instance) => (instance as unknown as { marked?: boolean }).marked)).toBe(undefined);
    const answers = await Promise.all(polls);
    expect(answers.flatMap((a) => a.messages.map((m) => m.body)).sort()).toEqual(["a", "b"]);
  });

  it("waits on every partition of a queue and wakes for a message on any of them", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { partitions: 3 })).status).toBe(201);
    const sockets = () =>
      Promise.all([0, 1, 2].map((p) => runInDurableObject(partition(q, p), (_, state) => state.getWebSockets().length)));
    for (const groupId of ["g-1", "g-2", "g-3", "g-4", "g-5", "g-6"]) {
      const waiting = longPoll(q, { waitMs: 10_000 });
      await vi.waitFor(async () => expect(await sockets()).toEqual([1, 1, 1]), { timeout: 2_000, interval: 10 });
      await send(q, { body: groupId, groupId }); // groups hash over the partitions
      const { messages } = await waiting;
      expect(messages.map((m) => m.body)).toEqual([groupId]);
      await vi.waitFor(async () => expect(await sockets()).toEqual([0, 0, 0]), { timeout: 2_000, interval: 10 });
    }
  });

  it("waits for the delivery rate's next token rather than answering empty", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { deliveryRatePerSec: 2 })).status).toBe(201);
    await send(q, { messages: [1, 2, 3, 4].map((body) => ({ body })) });
    const burst = await receive(q, { max: 10 });
    expect(burst.map((m) => m.body)).toEqual([1, 2]); // a second's worth of tokens
    const started = performance.now();
    const [a, b] = await Promise.all([longPoll(q, { waitMs: 5_000 }), longPoll(q, { waitMs: 5_000 })]);
    expect([...a.messages, ...b.messages].map((m) => m.body).sort()).toEqual([3, 4]);
    // Two more tokens take about a second at 2 per second; neither wait ran to its end.
    expect(performance.now() - started).toBeGreaterThan(400);
    expect(Math.max(a.ms, b.ms)).toBeLessThan(3_000);
  });

  it("a waiter held back by maxInFlight is woken when an ack makes room", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { maxInFlight: 1 })).status).toBe(201);
    await send(q, { messages: [{ body: "first" }, { body: "second" }] });
    const [first] = await receive(q, { max: 10 });
    const waiting = longPoll(q, { waitMs: 10_000 });
    await untilWaiting(q, 1);
    await new Promise((r) => setTimeout(r, 100));
    await settle(q, "ack", { receipts: [first.receipt] });
    const { messages, ms } = await waiting;
    expect(messages.map((m) => m.body)).toEqual(["second"]);
    expect(ms).toBeLessThan(2_000);
  });

  it("a waiting receive whose socket the partition closes connects again and still gets the message", async () => {
    const q = uniqueQueue();
    const waiting = longPoll(q, { waitMs: 10_000 });
    await untilWaiting(q, 1);
    await evictDurableObject(partition(q), { webSockets: "close" });
    await untilWaiting(q, 1); // the Worker opened a new socket
    await send(q, { body: "after the restart" });
    const { messages } = await waiting;
    expect(messages.map((m) => m.body)).toEqual(["after the restart"]);
  });

  it("a consumer that disconnects while waiting takes no lease with it", async () => {
    const q = uniqueQueue();
    const controller = new AbortController();
    const waiting = longPoll(q, { waitMs: 10_000 }, controller.signal).catch((err) => err);
    await untilWaiting(q, 1);
    controller.abort();
    expect(await waiting).toBeInstanceOf(Error);
    await vi.waitFor(async () => expect(await waiters(q)).toBe(0));
    await send(q, { body: "for someone else" });
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it("a consumer that disconnects as its message arrives either got it or left it ready", async () => {
    for (let i = 0; i < 8; i++) {
      const q = uniqueQueue();
      const controller = new AbortController();
      const waiting = longPoll(q, { waitMs: 5_000 }, controller.signal).then(
        (r) => r.messages,
        () => null,
      );
      await untilWaiting(q, 1);
      // Leaving before the wake, during the lease, or after the answer: all three happen.
      const sending = send(q, { body: i });
      if (i % 2 === 0) await sending;
      await new Promise((r) => setTimeout(r, i % 4));
      controller.abort();
      await sending;
      const got = await waiting;
      // A lease that came back to a consumer already gone is released (in waitUntil, just after).
      await vi.waitFor(async () =>
        expect(await stats(q)).toMatchObject(got?.length ? { ready: 0, inFlight: 1 } : { ready: 1, inFlight: 0 }),
      );
    }
  });
});
