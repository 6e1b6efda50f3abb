import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ReceiveResponse } from "../client/protocol";
import { ACK_HEADER, ACKED_HEADER } from "../durable-objects/contract";
import { ackAndReceive } from "../worker/consume";
import { call, partition, post, receive, send, stats, uniqueQueue } from "./helpers";
import { envWithPartitionMethod } from "./stub-calls";

/** A receive that acks `ack` first; answers the whole response. */
async function receiveAcking(queue: string, body: Record<string, unknown>) {
  const res = await post(`/v1/queues/${queue}/messages/receive`, body);
  expect(res.status, res.text).toBe(200);
  return res.json as Required<ReceiveResponse>;
}

/** An Env that counts the partitions' ack calls and records the headers of their waiter upgrades. */
function watchedEnv() {
  const seen = { acks: 0, upgrades: [] as Headers[] };
  const acking = envWithPartitionMethod("ack", (original) => (...args) => ((seen.acks += 1), original(...args)));
  const watched = envWithPartitionMethod(
    "fetch",
    (original) => (url: string, init: RequestInit) => (seen.upgrades.push(new Headers(init.headers)), original(url, init)),
    acking,
  );
  return { env: watched, seen };
}

const NO_SUCH_LEASE = `0.999999.${"x".repeat(32)}`;

describe("receive with ack", () => {
  it("acks first, answers one result per receipt in the order given, then receives", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const [a, b] = await receive(q, { max: 2 });
    const answer = await receiveAcking(q, { ack: [b.receipt, NO_SUCH_LEASE, a.receipt], max: 5 });
    expect(answer.ackResults).toEqual([
      { receipt: b.receipt, ok: true },
      { receipt: NO_SUCH_LEASE, ok: false, code: "NOT_FOUND" },
      { receipt: a.receipt, ok: true },
    ]);
    expect(answer.messages.map((m) => m.body)).toEqual([3]);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 1 });
    // Acking the same receipts again: the messages are gone.
    const again = await receiveAcking(q, { ack: [a.receipt] });
    expect(again.ackResults).toEqual([{ receipt: a.receipt, ok: false, code: "NOT_FOUND" }]);
  });

  it("on a one-partition long-poll the acks ride on the wait's upgrade: no ack call, acked in the group that serves the wait", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: "a" }, { body: "b" }] });
    const [a] = await receive(q);
    const { env: watched, seen } = watchedEnv();
    const { leased, ackResults } = await ackAndReceive(watched, q, [a.receipt], { max: 1, waitMs: 5_000 });
    expect(ackResults).toEqual([{ receipt: a.receipt, ok: true }]);
    expect(leased.map((l) => l.message.body)).toEqual(['"b"']);
    expect(seen.acks).toBe(0);
    expect(seen.upgrades).toHaveLength(1);
    expect(JSON.parse(seen.upgrades[0].get(ACK_HEADER)!)).toEqual([[a.seq, a.receipt.split(".")[2]]]);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 1 });
  });

  it("an ack that frees the in-flight room serves the same receive at once", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { maxInFlight: 1 })).status).toBe(201);
    await send(q, { messages: [{ body: "first" }, { body: "second" }] });
    const [first] = await receive(q, { max: 10 });
    expect(await receive(q, { max: 10 })).toEqual([]); // held back by maxInFlight
    const started = performance.now();
    const answer = await receiveAcking(q, { ack: [first.receipt], waitMs: 10_000 });
    expect(answer.ackResults).toEqual([{ receipt: first.receipt, ok: true }]);
    expect(answer.messages.map((m) => m.body)).toEqual(["second"]);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("the ack of a group's message lets the same receive have the group's next", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: 1, groupId: "g" }, { body: 2, groupId: "g" }] });
    const [one] = await receive(q, { max: 10 });
    expect(await receive(q, { max: 10 })).toEqual([]); // the group's next waits for the first
    const answer = await receiveAcking(q, { ack: [one.receipt], waitMs: 10_000 });
    expect(answer.messages.map((m) => m.body)).toEqual([2]);
  });

  it("a queue of several partitions acks each partition's receipts, then receives", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, { partitions: 3 })).status).toBe(201);
    for (let i = 0; i < 6; i++) await send(q, { body: i });
    const got = await receive(q, { max: 10 });
    expect(got).toHaveLength(6);
    expect(new Set(got.map((m) => m.receipt.split(".")[0])).size).toBeGreaterThan(1);
    const { env: watched, seen } = watchedEnv();
    const { leased, ackResults } = await ackAndReceive(watched, q, got.map((m) => m.receipt), { max: 5, waitMs: 200 });
    expect(ackResults.map((r) => r.ok)).toEqual(got.map(() => true));
    expect(leased).toEqual([]);
    expect(seen.acks).toBe(new Set(got.map((m) => m.receipt.split(".")[0])).size);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("refuses a bad receipt before acking any of them", async () => {
    const q = uniqueQueue();
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    const [a] = await receive(q);
    const bad = await post(`/v1/queues/${q}/messages/receive`, { ack: [a.receipt, "nope"], max: 5 });
    expect(bad.status).toBe(422);
    expect(bad.json.error).toMatchObject({ code: "INVALID_VALUE" });
    expect(bad.json.error.message).toContain("ack[1]");
    expect((await post(`/v1/queues/${q}/messages/receive`, { ack: [] })).status).toBe(422);
    const tooMany = await post(`/v1/queues/${q}/messages/receive`, { ack: Array.from({ length: 101 }, () => a.receipt) });
    expect(tooMany.status).toBe(422);
    expect(tooMany.json.error.message).toContain("ack");
    expect((await post(`/v1/queues/${q}/messages/receive`, { ack: a.receipt })).status).toBe(400);
    // Nothing was acked or leased by the refused requests.
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 1 });
  });

  it("a consumer that leaves before its wait begins still has its acks applied", async () => {
    const q = uniqueQueue();
    await send(q, { body: "done with it" });
    const [a] = await receive(q);
    const { leased, ackResults } = await ackAndReceive(env, q, [a.receipt], { max: 1, waitMs: 5_000, signal: AbortSignal.abort() });
    expect(leased).toEqual([]);
    expect(ackResults).toEqual([{ receipt: a.receipt, ok: true }]);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("the partition refuses a malformed ack header with 400 and keeps no waiter", async () => {
    const q = uniqueQueue();
    await send(q, { body: "stays ready" });
    const stub = partition(q);
    const token = "x".repeat(32);
    const tooMany = JSON.stringify(Array.from({ length: 101 }, (_, i) => [i + 1, token]));
    for (const header of ["[[1]]", "[]", "not json", `[[0, "${token}"]]`, '[[1, "short"]]', tooMany]) {
      const res = await stub.fetch("https://partition/waiters?waiter=abcdefgh12&want=1&visibilityTimeoutMs=30000", {
        headers: { upgrade: "websocket", [ACK_HEADER]: header },
      });
      expect(res.status, header).toBe(400);
      expect(res.headers.get(ACKED_HEADER)).toBeNull();
    }
    expect(await runInDurableObject(stub, (_, state) => state.getWebSockets().length)).toBe(0);
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
  });
});
