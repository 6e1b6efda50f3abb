// The enqueue line (worker/enqueue-line.ts), driven directly from one test:
// how enqueues that wait for a partition are grouped into one RPC and how
// each gets its own outcome. Across requests (each waking in its own
// context) it is tested over HTTP here and in plain workerd
// (test/direct/enqueue-lines.test.mjs).
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { EnqueueBatch, EnqueueOutcome } from "../durable-objects/partition/types";
import {
  enqueueInLine,
  headFor,
  headingFor,
  LINE_MAX_MESSAGES,
  LINE_MAX_UNITS,
  LINE_PATIENCE_MS,
  linesHeld,
} from "../worker/enqueue-line";
import { headingForLine } from "../worker/routes/messages";
import type { AppEnv } from "../worker/types";
import { call, receive, send, stats, uniqueQueue } from "./helpers";
import { batchOf, envWithPartitionMethod, item } from "./stub-calls";

/** An env whose partitions record every enqueue and enqueueAll call (the batches each carried). */
function countingEnv() {
  const calls: { method: "enqueue" | "enqueueAll"; batches: number; messages: number }[] = [];
  const single = envWithPartitionMethod("enqueue", (original) => async (batch: EnqueueBatch, ...rest) => {
    calls.push({ method: "enqueue", batches: 1, messages: batch.count });
    return original(batch, ...rest);
  });
  const counted = envWithPartitionMethod(
    "enqueueAll",
    (original) => async (batches: EnqueueBatch[]) => {
      calls.push({ method: "enqueueAll", batches: batches.length, messages: batches.reduce((n, b) => n + b.count, 0) });
      return original(batches);
    },
    single,
  );
  return { env: counted, calls };
}

/** A queue that exists (created through the API) with `config`. */
async function queueWith(config: Record<string, unknown> = {}) {
  const q = uniqueQueue("line");
  const res = await call("PUT", `/v1/queues/${q}`, config);
  expect(res.status).toBeLessThan(300);
  return q;
}

const ok = (o: EnqueueOutcome) => {
  if (!o.ok) throw new Error(`refused: ${o.code}`);
  return o.results;
};

describe("enqueue line", () => {
  it("sends a lone enqueue at once, and everything that waited meanwhile in one RPC, each answered in order", async () => {
    const q = await queueWith();
    const { env: counted, calls } = countingEnv();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => enqueueInLine(counted, q, 0, batchOf([item({ n: i })]))),
    );
    expect(calls).toEqual([
      { method: "enqueue", batches: 1, messages: 1 },
      { method: "enqueueAll", batches: 9, messages: 9 },
    ]);
    // Nobody waits and nothing is in flight: the isolate holds no line for it.
    expect(linesHeld(counted)).toBe(0);
    const seqs = outcomes.map((o) => ok(o)[0].seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(10);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(Array.from({ length: 10 }, (_, i) => ({ n: i })));
  });

  it("gives a request on its way one turn to join an idle line, and then sends both in one RPC", async () => {
    const q = await queueWith();
    const { env: counted, calls } = countingEnv();
    const arrived = headFor(q); // a request to q whose body is still being read
    const first = enqueueInLine(counted, q, 0, batchOf([item("first")]));
    // Still in the same turn: it has not sent, the request on its way arrives and joins.
    expect(calls).toEqual([]);
    arrived();
    expect(headingFor(q)).toBe(0);
    const second = enqueueInLine(counted, q, 0, batchOf([item("second")]));
    const [a, b] = await Promise.all([first, second]);
    expect(calls).toEqual([{ method: "enqueueAll", batches: 2, messages: 2 }]);
    expect(ok(b)[0].seq).toBeGreaterThan(ok(a)[0].seq);
    expect(linesHeld(counted)).toBe(0);
    // With nobody on its way (the first test), a lone enqueue is sent at once.
    const third = enqueueInLine(counted, q, 0, batchOf([item("third")]));
    expect(calls.length).toBe(2);
    await third;
    expect(calls.at(-1)).toEqual({ method: "enqueue", batches: 1, messages: 1 });
  });

  it("counts an HTTP enqueue as on its way from its route until it reaches the line, is refused or fails", async () => {
    const q = uniqueQueue("heading");
    const seen: Record<string, number[]> = {};
    const app = new Hono<AppEnv & { Variables: { arrived: () => void } }>();
    app.onError((err, c) => c.text(String(err), 500));
    app.post("/:queue/:how", headingForLine, async (c) => {
      const how = c.req.param("how");
      const during = headingFor(q);
      if (how === "refused") throw new Error("refused");
      if (how === "arrives") c.get("arrived")();
      seen[how] = [during, headingFor(q)];
      return c.text("ok");
    });
    expect((await app.request(`/${q}/arrives`, { method: "POST" })).status).toBe(200);
    expect((await app.request(`/${q}/leaves`, { method: "POST" })).status).toBe(200);
    expect((await app.request(`/${q}/refused`, { method: "POST" })).status).toBe(500);
    // On its way while in the route; let go when it arrives, and when it leaves without arriving or with an error.
    expect(seen).toEqual({ arrives: [1, 0], leaves: [1, 1] });
    expect(headingFor(q)).toBe(0);
  });

  it("stores or refuses each batch of a group as it would alone (maxDepth)", async () => {
    const q = await queueWith({ maxDepth: 5 });
    const { env: counted, calls } = countingEnv();
    const sizes = [1, 1, 3, 3, 1];
    const outcomes = await Promise.all(
      sizes.map((size, i) => enqueueInLine(counted, q, 0, batchOf(Array.from({ length: size }, (_, j) => item(`${i}.${j}`))))),
    );
    expect(calls.map((c) => c.method)).toEqual(["enqueue", "enqueueAll"]);
    // 1 + 1 + 3 fill the 5; the second batch of 3 is refused whole, and so is the single after it.
    expect(outcomes.map((o) => (o.ok ? o.results.length : o.code))).toEqual([1, 1, 3, "QUEUE_FULL", "QUEUE_FULL"]);
    expect(await stats(q)).toMatchObject({ ready: 5 });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["0.0", "1.0", "2.0", "2.1", "2.2"]);
  });

  it("deduplicates across the batches of a group", async () => {
    const q = await queueWith();
    const { env: counted } = countingEnv();
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => enqueueInLine(counted, q, 0, batchOf([item({ try: i }, { dedupId: "order-7" })]))),
    );
    const results = outcomes.map((o) => ok(o)[0]);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    for (const r of results) expect({ id: r.id, seq: r.seq }).toEqual({ id: results[0].id, seq: results[0].seq });
    expect(await stats(q)).toMatchObject({ ready: 1 });
  });

  it(`puts at most ${LINE_MAX_MESSAGES} messages in one RPC`, async () => {
    const q = await queueWith();
    const { env: counted, calls } = countingEnv();
    const batches = Array.from({ length: 13 }, (_, i) => batchOf(Array.from({ length: 100 }, (_, j) => item(i * 100 + j))));
    const outcomes = await Promise.all(batches.map((b) => enqueueInLine(counted, q, 0, b)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(calls).toEqual([
      { method: "enqueue", batches: 1, messages: 100 },
      { method: "enqueueAll", batches: 10, messages: 1000 },
      { method: "enqueueAll", batches: 2, messages: 200 },
    ]);
    expect(await stats(q)).toMatchObject({ ready: 1300 });
  });

  it(`puts at most ${LINE_MAX_UNITS} UTF-16 units of message JSON in one RPC`, async () => {
    const q = await queueWith();
    const { env: counted, calls } = countingEnv();
    // Each batch holds a third of the cap and more: two fit in one RPC, three do not.
    const big = "x".repeat(Math.ceil(LINE_MAX_UNITS / 3) + 1);
    const outcomes = await Promise.all([0, 1, 2, 3].map((i) => enqueueInLine(counted, q, 0, batchOf([item(`${i}${big}`)]))));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(calls.map((c) => [c.method, c.batches])).toEqual([
      ["enqueue", 1],
      ["enqueueAll", 2],
      ["enqueue", 1],
    ]);
    expect(await stats(q)).toMatchObject({ ready: 4 });
  });

  it("fails every request of a group whose RPC fails, stores none of it, and goes on with the next", async () => {
    const q = await queueWith();
    let failures = 1;
    const failing = envWithPartitionMethod("enqueueAll", (original) => async (batches: EnqueueBatch[]) => {
      if (failures-- > 0) throw new Error("partition reset");
      return original(batches);
    });
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => enqueueInLine(failing, q, 0, batchOf([item(i)]))),
    );
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "rejected", "rejected"]);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toContain("partition reset");
    // The line is free again: the next enqueues go through, alone and then together.
    const after = await Promise.all([0, 1, 2].map((i) => enqueueInLine(failing, q, 0, batchOf([item(`after ${i}`)]))));
    expect(after.every((o) => o.ok)).toBe(true);
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual([0, "after 0", "after 1", "after 2"]);
  });

  it(`gives up, after ${LINE_PATIENCE_MS} ms, an RPC that never comes back, and sends the waiting requests without it`, async () => {
    const q = await queueWith();
    let hang = true;
    const stuck = envWithPartitionMethod("enqueue", (original) => async (batch: EnqueueBatch) => {
      if (hang) return (hang = false), new Promise<never>(() => {});
      return original(batch);
    });
    void enqueueInLine(stuck, q, 0, batchOf([item("lost in flight")]));
    const started = Date.now();
    const outcome = await enqueueInLine(stuck, q, 0, batchOf([item("patient")]));
    expect(ok(outcome)).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(LINE_PATIENCE_MS - 50);
    // The line goes on without the lost flight: the next enqueues do not wait for it.
    const again = Date.now();
    const next = await Promise.all([1, 2, 3].map((i) => enqueueInLine(stuck, q, 0, batchOf([item(`next ${i}`)]))));
    expect(next.every((o) => o.ok)).toBe(true);
    expect(Date.now() - again).toBeLessThan(LINE_PATIENCE_MS / 2);
    expect(linesHeld(stuck)).toBe(0); // the lost flight holds nothing
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["patient", "next 1", "next 2", "next 3"]);
  });

  it("answers UNCONFIGURED for every batch of a group sent to a deleted partition", async () => {
    const q = await queueWith();
    await send(q, { body: "before" });
    expect((await call("DELETE", `/v1/queues/${q}`)).status).toBeLessThan(300);
    const outcomes = await Promise.all([0, 1, 2].map((i) => enqueueInLine(env, q, 0, batchOf([item(i)]))));
    expect(outcomes).toEqual([0, 1, 2].map(() => ({ ok: false, code: "UNCONFIGURED" })));
  });
});
