/**
 * Per-group FIFO: a message is delivered only when no earlier message of its
 * group is still stored (leased, waiting for a retry, or delayed); messages
 * of different groups and messages without a group flow in parallel.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ReceivedMessage } from "../client/protocol";
import { get, partition, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { lease, store } from "./stub-calls";

afterEach(() => {
  vi.useRealTimers();
});

const groupsOf = (messages: ReceivedMessage[]) => messages.map((m) => m.groupId ?? "-");

describe("message groups", () => {
  it("a receive with max > 1 returns at most one message per group, ungrouped ones all", async () => {
    const q = uniqueQueue();
    await send(q, {
      messages: [
        { body: "a1", groupId: "a" },
        { body: "a2", groupId: "a" },
        { body: "b1", groupId: "b" },
        { body: "u1" },
        { body: "a3", groupId: "a" },
        { body: "b2", groupId: "b" },
        { body: "u2" },
      ],
    });
    const first = await receive(q, { max: 10 });
    expect(first.map((m) => m.body)).toEqual(["a1", "b1", "u1", "u2"]);
    expect(groupsOf(first)).toEqual(["a", "b", "-", "-"]);
    // While the heads are leased their groups are blocked; nothing else is ready.
    expect(await receive(q, { max: 10 })).toEqual([]);
    expect(await stats(q)).toMatchObject({ ready: 3, inFlight: 4 }); // ready counts stored, unleased, visible
    await settle(q, "ack", { receipts: [first[0].receipt] });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["a2"]);
  });

  it("different groups are delivered in parallel to different consumers", async () => {
    const q = uniqueQueue();
    await send(q, { messages: ["a", "b", "c"].flatMap((g) => [1, 2].map((i) => ({ body: `${g}${i}`, groupId: g }))) });
    const consumers = await Promise.all([receive(q), receive(q), receive(q), receive(q)]);
    const bodies = consumers.flat().map((m) => m.body);
    expect(bodies.sort()).toEqual(["a1", "b1", "c1"]);
  });

  it("a nacked head keeps its group waiting through the backoff, then comes first again", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: 1, groupId: "g" }, { body: 2, groupId: "g" }, { body: "free" }] });
    const [head] = await receive(q);
    await settle(q, "nack", { receipts: [head.receipt], delayMs: 60_000 });
    // The head waits for its retry: its group is blocked, the ungrouped message is not.
    const free = await receive(q, { max: 10 });
    expect(free.map((m) => m.body)).toEqual(["free"]);
    await settle(q, "ack", { receipts: [free[0].receipt] });
    expect(await receive(q, { max: 10 })).toEqual([]);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60_001);
    const again = await receive(q, { max: 10 });
    expect(again.map((m) => [m.body, m.attempts])).toEqual([[1, 2]]);
    await settle(q, "ack", { receipts: [again[0].receipt] });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual([2]);
  });

  it("a delayed earlier message blocks its group until it has been delivered and acked", async () => {
    const q = uniqueQueue();
    await send(q, { body: "late head", groupId: "g", delayMs: 60_000 });
    await send(q, { body: "second", groupId: "g" });
    await send(q, { body: "other group", groupId: "h" });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["other group"]);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60_001);
    const [head] = await receive(q, { max: 10 });
    expect(head.body).toBe("late head");
    expect(await receive(q, { max: 10 })).toEqual([]);
    await settle(q, "ack", { receipts: [head.receipt] });
    expect((await receive(q, { max: 10 })).map((m) => m.body)).toEqual(["second"]);
  });

  it("a group whose head is dead-lettered moves on to the next message", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: "poison", groupId: "g" }, { body: "next", groupId: "g" }] });
    for (let attempt = 1; attempt <= 5; attempt++) {
      const [m] = await receive(q);
      expect(m).toMatchObject({ body: "poison", attempts: attempt });
      await settle(q, "nack", { receipts: [m.receipt], delayMs: 0, error: `failed ${attempt}` });
    }
    const [next] = await receive(q);
    expect(next.body).toBe("next");
    const dead = await get(`/v1/queues/${q}/dead-letters`);
    expect(dead.json.deadLetters).toMatchObject([
      { body: "poison", groupId: "g", attempts: 5, reason: "max_attempts", lastError: "failed 5" },
    ]);
  });

  it("a head whose leases keep expiring is dead-lettered by the alarm and its group moves on (in the object)", async () => {
    const q = uniqueQueue();
    const stub = partition(q);
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start);
    await store(stub, [
      { body: '"stuck"', attributes: null, delayMs: 0, groupId: "g", dedupId: null },
      { body: '"after"', attributes: null, delayMs: 0, groupId: "g", dedupId: null },
    ]);
    let now = start;
    for (let attempt = 1; attempt <= 5; attempt++) {
      const leased = await lease(stub, 10, 1_000);
      expect(leased.map((m) => m.body)).toEqual(['"stuck"']);
      now += 1_001;
      vi.setSystemTime(now);
      await runDurableObjectAlarm(stub); // the lease expired: retry after backoff, or dead letter
      now += 20_000; // past any backoff of the first attempts (at most 16 s)
      vi.setSystemTime(now);
      await runDurableObjectAlarm(stub);
    }
    const leased = await lease(stub, 10, 1_000);
    expect(leased.map((m) => m.body)).toEqual(['"after"']);
    const reasons = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ reason: string; last_error: string }>("SELECT reason, last_error FROM dead_letters").toArray(),
    );
    expect(reasons).toEqual([{ reason: "max_attempts", last_error: "lease expired" }]);
  });

  it("interleaved groups with nacks and lease expiries still deliver each group in order", async () => {
    const q = uniqueQueue();
    const groups = ["a", "b", "c"];
    const perGroup = 5;
    const messages: { body: string; groupId?: string }[] = [];
    for (let i = 1; i <= perGroup; i++) {
      for (const g of groups) messages.push({ body: `${g}${i}`, groupId: g });
      messages.push({ body: `u${i}` });
    }
    await send(q, { messages });
    const stub = partition(q);

    vi.useFakeTimers({ toFake: ["Date"] });
    let now = Date.now();
    vi.setSystemTime(now);
    const acked: Record<string, number[]> = Object.fromEntries(groups.map((g) => [g, []]));
    const failures = new Map<string, number>();
    let ungroupedAcked = 0;
    for (let round = 0; round < 100; round++) {
      const got = await receive(q, { max: 10, visibilityTimeoutMs: 1_000 });
      const seen = groupsOf(got).filter((g) => g !== "-");
      expect(new Set(seen).size).toBe(seen.length); // at most one per group
      const ack: string[] = [];
      const nack: string[] = [];
      for (const m of got) {
        const index = Number(String(m.body).slice(1));
        if (m.groupId) {
          // Delivered only once every earlier message of its group was acked.
          expect(acked[m.groupId]).toEqual(Array.from({ length: index - 1 }, (_, i) => i + 1));
        }
        const failed = failures.get(m.id) ?? 0;
        const fate = failed >= 2 ? "ack" : (["nack", "expire", "ack"] as const)[(index + round + failed) % 3];
        if (fate === "ack") {
          ack.push(m.receipt);
          if (m.groupId) acked[m.groupId].push(index);
          else ungroupedAcked += 1;
        } else {
          failures.set(m.id, failed + 1);
          if (fate === "nack") nack.push(m.receipt);
          // "expire": the consumer never answers and the lease runs out.
        }
      }
      if (ack.length) expect((await settle(q, "ack", { receipts: ack })).every((r) => r.ok)).toBe(true);
      if (nack.length) await settle(q, "nack", { receipts: nack, error: "try again" });
      if (Object.values(acked).every((a) => a.length === perGroup) && ungroupedAcked === perGroup) break;
      now += 2_500; // past the 1 s leases and any backoff of a 1st or 2nd failure (at most 2 s)
      vi.setSystemTime(now);
      await runDurableObjectAlarm(stub);
    }
    for (const g of groups) expect(acked[g]).toEqual([1, 2, 3, 4, 5]);
    expect(ungroupedAcked).toBe(perGroup);
    expect(failures.size).toBeGreaterThan(5); // the run did retry, by nack and by expiry
    expect(await stats(q)).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLetters: 0 });
  });
});
