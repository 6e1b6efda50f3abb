// Consume streams over real sockets, in plain workerd: the prefetch bounds what a stream holds, and
// the queue's rules hold across streams and long-polls together, since both lease through one
// delivery core: per-group FIFO, maxInFlight, deliveryRatePerSec, pause.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStream, sleep, startWorker, uniqueQueue, until } from "./streams.mjs";

let worker;

beforeAll(async () => {
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.stop();
});

/** What a stream got since the last call. */
const taker = (s) => {
  let seen = 0;
  return () => {
    const all = s.messages();
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
};

describe("consume streams over real sockets: the prefetch and the queue's rules", () => {
  it("a stream holds at most its prefetch; an ack or a larger prefetch lets more come, a prefetch of 0 none", async () => {
    const q = uniqueQueue();
    await worker.send(q, Array.from({ length: 12 }, (_, i) => i));
    const s = await openStream(worker, q, { prefetch: 3 });
    await until(() => s.messages().length === 3, "three");
    await sleep(150);
    expect(s.bodies()).toEqual([0, 1, 2]);
    await s.settle("ack", [s.messages()[0].receipt]);
    await until(() => s.messages().length === 4, "one more");
    s.send({ type: "prefetch", prefetch: 5 });
    await until(() => s.messages().length === 6, "two more for the larger window");
    s.send({ type: "prefetch", prefetch: 0 });
    await s.settle("ack", s.messages().slice(1, 4).map((m) => m.receipt));
    await sleep(200);
    expect(s.messages()).toHaveLength(6);
    expect((await worker.stats(q)).inFlight).toBe(2);
    s.close();
  });

  it("per-group FIFO holds across two streams and a long-poll: one of a group at a time, in order", async () => {
    const q = uniqueQueue();
    const sent = [
      { body: "a1", groupId: "a" },
      { body: "b1", groupId: "b" },
      { body: "a2", groupId: "a" },
      { body: "u1" },
      { body: "a3", groupId: "a" },
      { body: "b2", groupId: "b" },
      { body: "u2" },
    ];
    await worker.ok("POST", `/v1/queues/${q}/messages`, { messages: sent });
    const a = await openStream(worker, q, { prefetch: 10 });
    const b = await openStream(worker, q, { prefetch: 10 });
    const fromA = taker(a);
    const fromB = taker(b);
    const order = [];
    for (let round = 0; round < 20 && order.length < sent.length; round++) {
      await sleep(50);
      const polled = await worker.receive(q, { max: 10 });
      const held = [...fromA().map((m) => ({ m, on: a })), ...fromB().map((m) => ({ m, on: b })), ...polled.map((m) => ({ m, on: null }))];
      const groups = held.map(({ m }) => m.groupId).filter(Boolean);
      expect(new Set(groups).size, `round ${round}: ${JSON.stringify(held.map(({ m }) => m.body))}`).toBe(groups.length);
      order.push(...held.map(({ m }) => m.body));
      for (const on of [a, b]) {
        const receipts = held.filter((h) => h.on === on).map(({ m }) => m.receipt);
        if (receipts.length > 0) await on.settle("ack", receipts);
      }
      const polledReceipts = held.filter((h) => h.on === null).map(({ m }) => m.receipt);
      if (polledReceipts.length > 0) await worker.ack(q, polledReceipts);
    }
    expect([...order].sort()).toEqual(sent.map((m) => m.body).sort());
    expect(order.filter((b) => b.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
    expect(order.filter((b) => b.startsWith("b"))).toEqual(["b1", "b2"]);
    a.close();
    b.close();
  });

  it("maxInFlight holds across two streams and a long-poll", async () => {
    const q = uniqueQueue();
    await worker.configure(q, { maxInFlight: 4 });
    await worker.send(q, Array.from({ length: 20 }, (_, i) => i));
    const a = await openStream(worker, q, { prefetch: 10 });
    const b = await openStream(worker, q, { prefetch: 10 });
    await until(() => a.messages().length + b.messages().length === 4, "four in flight");
    expect(await worker.receive(q, { max: 10 })).toEqual([]);
    await sleep(150);
    expect(a.messages().length + b.messages().length).toBe(4);
    // Acks free room: it is filled again, never past the limit.
    const first = [...a.messages(), ...b.messages()];
    for (const s of [a, b]) {
      const mine = s.messages().map((m) => m.receipt);
      if (mine.length > 0) await s.settle("ack", mine);
    }
    await until(() => a.messages().length + b.messages().length === 8, "four more");
    const polled = await worker.receive(q, { max: 10 });
    expect(polled).toEqual([]);
    expect((await worker.stats(q)).inFlight).toBe(4);
    expect(new Set([...a.messages(), ...b.messages()].map((m) => m.body)).size).toBe(8);
    expect(first).toHaveLength(4);
    a.close();
    b.close();
  });

  it("deliveryRatePerSec holds across two streams and a long-poll; the rate's tokens serve the streams as they come", async () => {
    const q = uniqueQueue();
    const rate = 5;
    await worker.configure(q, { deliveryRatePerSec: rate });
    await worker.send(q, Array.from({ length: 40 }, (_, i) => i));
    const started = Date.now();
    const a = await openStream(worker, q, { prefetch: 100 });
    const b = await openStream(worker, q, { prefetch: 100 });
    let polled = 0;
    while (Date.now() - started < 2_000) {
      polled += (await worker.receive(q, { max: 10 })).length;
      await sleep(200);
    }
    const seconds = (Date.now() - started) / 1000;
    const total = a.messages().length + b.messages().length + polled;
    // A full bucket (one second's worth) to start, then `rate` a second, whoever asks.
    expect(total).toBeLessThanOrEqual(Math.ceil(rate + rate * seconds) + 1);
    expect(a.messages().length + b.messages().length).toBeGreaterThanOrEqual(rate);
    expect(total).toBeGreaterThanOrEqual(rate * 2);
    a.close();
    b.close();
  });

  it("a paused queue pushes nothing to streams nor answers long-polls; resuming pushes at once", async () => {
    const q = uniqueQueue();
    await worker.configure(q, { paused: true });
    await worker.send(q, ["p1", "p2", "p3"]);
    const s = await openStream(worker, q, { prefetch: 10 });
    expect(await worker.receive(q, { max: 10 })).toEqual([]);
    await sleep(200);
    expect(s.messages()).toEqual([]);
    const resumedAt = Date.now();
    await worker.ok("POST", `/v1/queues/${q}/resume`);
    await until(() => s.messages().length === 3, "the push after resume", 1_000);
    expect(Date.now() - resumedAt).toBeLessThan(1_000);
    s.close();
  });

  it("a bad frame gets an error frame and changes nothing; the stream goes on", async () => {
    const q = uniqueQueue();
    await worker.send(q, ["keep"]);
    const s = await openStream(worker, q, { prefetch: 1 });
    await until(() => s.messages().length === 1, "the message");
    const receipt = s.messages()[0].receipt;
    for (const bad of ["{nope", "[]", JSON.stringify({ type: "ack", id: 1, receipts: ["not-a-receipt"] }), JSON.stringify({ type: "ack", receipts: [receipt] })]) {
      s.send(bad);
    }
    s.ws.send(new Uint8Array([1, 2, 3]));
    await until(() => s.frames.filter((f) => f.type === "error").length === 5, "five error frames");
    expect(s.frames.filter((f) => f.type === "error").map((f) => f.code)).toEqual([
      "INVALID_JSON",
      "INVALID_REQUEST",
      "INVALID_VALUE",
      "INVALID_REQUEST",
      "INVALID_REQUEST",
    ]);
    expect(await worker.stats(q)).toMatchObject({ inFlight: 1, ready: 0 });
    expect(await s.settle("ack", [receipt])).toEqual([{ receipt, ok: true }]);
    s.close();
  });
});
