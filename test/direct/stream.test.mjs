// Consume streams over real sockets, in plain workerd: a consumer that goes away gives its messages
// back at once (a closed socket, a killed process, a restarted partition), the attempt counted; a
// partition that hibernates with sockets open still serves them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerProcess, openStream, sleep, startWorker, TOKEN, uniqueQueue, until } from "./streams.mjs";

let worker;

beforeAll(async () => {
  worker = await startWorker();
});

afterAll(async () => {
  await worker?.stop();
});

const LONG_LEASE = { visibilityTimeoutMs: 60_000 };

describe("consume streams over real sockets: consumers that leave", () => {
  it("a socket closed mid-batch: another consumer gets its messages at once, each attempt counted", async () => {
    const q = uniqueQueue();
    await worker.send(q, [1, 2, 3, 4, 5, 6]);
    const a = await openStream(worker, q, { prefetch: 3, ...LONG_LEASE });
    await until(() => a.messages().length === 3, "a's three messages");
    const b = await openStream(worker, q, { prefetch: 10, ...LONG_LEASE });
    await until(() => b.messages().length === 3, "b's three messages");
    await b.settle("ack", b.messages().map((m) => m.receipt));
    // a handled one of its three, then closed with the other two in hand.
    await a.settle("ack", [a.messages()[0].receipt]);
    const closedAt = Date.now();
    a.close();
    await until(() => b.messages().length === 5, "a's two messages at b", 1_000);
    expect(Date.now() - closedAt).toBeLessThan(1_000);
    const back = b.messages().slice(3);
    expect(back.map((m) => m.body)).toEqual(a.bodies().slice(1));
    expect(back.map((m) => m.attempts)).toEqual([2, 2]);
    await b.settle("ack", back.map((m) => m.receipt));
    expect(await worker.stats(q)).toMatchObject({ ready: 0, inFlight: 0, delayed: 0 });
    b.close();
  });

  it("a consumer process SIGKILLed mid-batch: its messages reach another consumer within a second", async () => {
    const q = uniqueQueue();
    await worker.send(q, ["a", "b", "c"]);
    const killed = consumerProcess({ mode: "raw", url: worker.streamUrl(q, { prefetch: 10, ...LONG_LEASE }), token: TOKEN });
    await until(() => killed.of("messages").flatMap((e) => e.messages).length === 3, "the process's messages");
    const other = await openStream(worker, q, { prefetch: 10, ...LONG_LEASE });
    await sleep(100);
    expect(other.messages()).toEqual([]); // all three are leased to the process
    const killedAt = Date.now();
    killed.kill();
    await killed.exited;
    await until(() => other.messages().length === 3, "the killed process's messages", 1_000);
    expect(Date.now() - killedAt).toBeLessThan(1_000);
    expect(other.messages().map((m) => [m.body, m.attempts])).toEqual([
      ["a", 2],
      ["b", 2],
      ["c", 2],
    ]);
    other.close();
  });

  it("a message that kills every consumer it reaches ends in the dead letters", async () => {
    const q = uniqueQueue();
    await worker.configure(q, { maxAttempts: 3 });
    await worker.send(q, [{ poison: true }]);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const s = await openStream(worker, q, { prefetch: 1, ...LONG_LEASE });
      await until(() => s.messages().length === 1, `delivery ${attempt}`);
      expect(s.messages()[0].attempts).toBe(attempt);
      s.ws.close(); // as a crash would: nothing settled
      await s.gone();
    }
    await until(async () => (await worker.stats(q)).deadLetters === 1, "the dead letter");
    const { deadLetters } = await worker.ok("GET", `/v1/queues/${q}/dead-letters`);
    expect(deadLetters).toEqual([expect.objectContaining({ reason: "max_attempts", attempts: 3, lastError: "consumer disconnected" })]);
  });

  it("a partition that hibernates with a socket open still serves it, and settles on it", async () => {
    const q = uniqueQueue();
    const s = await openStream(worker, q, { prefetch: 5 });
    await worker.evictPartition(q, 0); // its sockets hibernate: only the attachment is kept
    await worker.send(q, ["after"]);
    await until(() => s.messages().length === 1, "the push after hibernation");
    await worker.evictPartition(q, 0);
    expect(await s.settle("ack", [s.messages()[0].receipt])).toEqual([{ receipt: s.messages()[0].receipt, ok: true }]);
    // The prefetch in the attachment survived: five more, not more.
    await worker.send(q, [1, 2, 3, 4, 5, 6, 7]);
    await until(() => s.messages().length === 6, "five more");
    await sleep(100);
    expect(s.messages()).toHaveLength(6);
    s.close();
  });

  it("a partition restarted without its sockets (a deploy, a crash) gives their leases back at once, uncounted", async () => {
    const q = uniqueQueue();
    await worker.send(q, ["x", "y"]);
    const s = await openStream(worker, q, { prefetch: 5, ...LONG_LEASE });
    await until(() => s.messages().length === 2, "the two messages");
    await worker.evictPartition(q, 0, "close"); // no close handler runs
    await s.gone();
    const restartedAt = Date.now();
    const got = [];
    await until(async () => (got.push(...(await worker.receive(q, { max: 10 }))), got.length === 2), "the two messages again", 2_000);
    expect(Date.now() - restartedAt).toBeLessThan(2_000);
    expect(got.map((m) => [m.body, m.attempts])).toEqual([
      ["x", 1],
      ["y", 1],
    ]);
  });
});
