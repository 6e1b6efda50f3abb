import { SELF, env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS } from "../client/protocol";
import { stats, uniqueQueue } from "./helpers";

const producer = () => (env as unknown as { PRODUCER: Fetcher }).PRODUCER;

/** Calls an EdgeqService method from the producer Worker, through its service binding. */
async function rpc(op: string, ...args: unknown[]): Promise<any> {
  const res = await producer().fetch("http://producer/rpc", { method: "POST", body: JSON.stringify({ op, args }) });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`producer answered ${res.status}: ${JSON.stringify(json)}`);
  return json.result;
}

describe("service binding (EdgeqService)", () => {
  it("a producer Worker enqueues with no token", async () => {
    const res = await producer().fetch("http://producer/signup", {
      method: "POST",
      body: JSON.stringify({ email: "ada@example.com" }),
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).queued).toBeTypeOf("string");
    expect((await stats("signups")).ready).toBeGreaterThanOrEqual(1);
  });

  it("forward keeps each message's dedup id for the window asked, and refuses messages without one", async () => {
    const q = uniqueQueue("fwd");
    expect((await rpc("configureQueue", q, { dedupWindowMs: 0 })).config.dedupWindowMs).toBe(0);
    const first = await rpc("forward", q, [{ body: "a", dedupId: "t:1" }], 60_000);
    const again = await rpc("forward", q, [{ body: "a", dedupId: "t:1" }], 60_000);
    expect(again.messages[0]).toEqual({ ...first.messages[0], duplicate: true });
    expect((await stats(q)).ready).toBe(1);
    expect((await rpc("forward", q, [{ body: "b" }], 60_000)).error.code).toBe("INVALID_REQUEST");
    expect((await rpc("forward", q, [{ body: "b", dedupId: "t:2" }], 0)).error.code).toBe("INVALID_VALUE");
    expect((await stats(q)).ready).toBe(1);
  });

  it("publish: a producer Worker publishes to a topic with no token; each subscribed queue gets its copy", async () => {
    const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
    const res = await SELF.fetch(`http://edgeq.test/v1/topics/${t}`, {
      method: "PUT",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ subscriptions: [{ queue: a }, { queue: b, filter: { kind: ["paid"] } }] }),
    });
    expect(res.status).toBe(201);
    const single = await rpc("publish", t, { body: { order: 1 }, attributes: { kind: "paid" } });
    expect(single.messages).toEqual([{ id: expect.any(String) }]);
    const batch = await rpc("publish", t, [{ body: { order: 2 } }, { body: { order: 3 }, attributes: { kind: "paid" } }]);
    expect(batch.messages).toHaveLength(2);
    // The runtime fires the topic's alarm on its own here (the clock is real).
    const ready = async (q: string) => (await stats(q)).ready ?? 0;
    for (let i = 0; i < 100 && ((await ready(a)) < 3 || (await ready(b)) < 2); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await stats(a)).ready).toBe(3);
    expect((await stats(b)).ready).toBe(2);
    expect((await rpc("publish", uniqueQueue("none"), { body: 1 })).error.code).toBe("TOPIC_NOT_FOUND");
    expect((await rpc("publish", "bad name", { body: 1 })).error.code).toBe("INVALID_REQUEST");
    expect((await rpc("publish", t, { nobody: 1 })).error.code).toBe("INVALID_REQUEST");
  });

  it("offers every message operation, with the HTTP API's answers", async () => {
    const q = uniqueQueue();
    const sent = await rpc("send", q, [{ body: { n: 1 }, attributes: { a: "b" } }, { body: "two" }]);
    expect(sent.messages).toHaveLength(2);
    expect((await rpc("send", q, { body: 3 })).messages).toHaveLength(1);
    expect(await rpc("stats", q)).toMatchObject({ ready: 3, inFlight: 0 });

    const got = (await rpc("receive", q, { max: 3, visibilityTimeoutMs: 5000 })).messages;
    expect(got.map((m: any) => m.body)).toEqual([{ n: 1 }, "two", 3]);
    expect(got[0]).toMatchObject({ attributes: { a: "b" }, attempts: 1, id: sent.messages[0].id });

    const extended = await rpc("extend", q, [got[0].receipt], 60_000);
    expect(extended.results[0]).toMatchObject({ ok: true });
    expect((await rpc("ack", q, [got[0].receipt])).results[0].ok).toBe(true);
    expect((await rpc("ack", q, [got[0].receipt])).results[0]).toMatchObject({ ok: false });
    expect((await rpc("nack", q, [got[1].receipt], { delayMs: 0, error: "later" })).results[0].ok).toBe(true);
    expect(await rpc("stats", q)).toMatchObject({ ready: 1, inFlight: 1 });

    // A receive that acks first: the third message acked, the nacked one received again.
    const acking = await rpc("receive", q, { ack: [got[2].receipt], max: 5, waitMs: 1000 });
    expect(acking.ackResults).toEqual([{ receipt: got[2].receipt, ok: true }]);
    expect(acking.messages.map((m: any) => m.body)).toEqual(["two"]);
    expect(await rpc("receive", q, { ack: ["nope"] })).toMatchObject({ error: { code: "INVALID_VALUE" } });
    expect(await rpc("stats", q)).toMatchObject({ ready: 0, inFlight: 1 });
  });

  it("dead letters: list, redrive, delete", async () => {
    const q = uniqueQueue();
    await rpc("send", q, { body: "poison" });
    // Nack until the default 5 attempts run out.
    for (let attempt = 1; attempt <= 5; attempt++) {
      const [m] = (await rpc("receive", q, {})).messages;
      expect(m.attempts).toBe(attempt);
      await rpc("nack", q, [m.receipt], { delayMs: 0, error: `failure ${attempt}` });
    }
    const page = await rpc("deadLetters", q, {});
    expect(page.deadLetters).toHaveLength(1);
    expect(page.deadLetters[0]).toMatchObject({ body: "poison", reason: "max_attempts", lastError: "failure 5", attributes: {} });
    expect(await rpc("redrive", q)).toEqual({ redriven: 1, remaining: 0 });
    expect(await rpc("stats", q)).toMatchObject({ ready: 1, deadLetters: 0 });
    expect(await rpc("deleteDeadLetters", q)).toEqual({ deleted: 0 });
  });

  it("answers errors as results with the code, never as exceptions", async () => {
    const bad = await rpc("send", "no/such name", { body: 1 });
    expect(bad).toEqual({ error: { code: "INVALID_REQUEST", message: expect.stringContaining("queue") } });
    const badBody = await rpc("send", uniqueQueue(), { bdy: 1 });
    expect(badBody.error.code).toBe("INVALID_REQUEST");
    const badMax = await rpc("receive", uniqueQueue(), { max: 0 });
    expect(badMax.error).toMatchObject({ code: "INVALID_VALUE", message: expect.stringContaining("max") });
    const badReceipt = await rpc("ack", uniqueQueue(), ["nope"]);
    expect(badReceipt.error).toMatchObject({ code: "INVALID_VALUE", message: expect.stringContaining("receipts[0]") });
    const tooBig = await rpc("send", uniqueQueue(), { body: "x".repeat(300 * 1024) });
    expect(tooBig.error.code).toBe("PAYLOAD_TOO_LARGE");
    const unknownQueue = await rpc("stats", uniqueQueue("never-used"));
    expect(unknownQueue.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("hostile arguments answer an error from the closed set, never an exception or INTERNAL", async () => {
    const ops = ["send", "publish", "receive", "ack", "nack", "extend", "stats", "deadLetters", "redrive", "deleteDeadLetters"];
    const queue = fc.oneof(fc.constant(uniqueQueue("rpc-fuzz")), fc.string({ maxLength: 70 }), fc.jsonValue({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), queue, fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }), async (op, q, rest) => {
        const result = await rpc(op, q, ...rest);
        if (result && typeof result === "object" && "error" in result) {
          expect(Object.keys(ERROR_STATUS)).toContain(result.error.code);
          expect(result.error.code, JSON.stringify([op, q, rest]).slice(0, 300)).not.toBe("INTERNAL");
        }
      }),
      { numRuns: 300 },
    );
  });
});
