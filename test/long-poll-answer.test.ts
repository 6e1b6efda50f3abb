import { runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Leased } from "../worker/consume";
import { ApiError } from "../worker/errors";
import { answerLongPoll, HEARTBEAT_MS, type ReceiveAnswer } from "../worker/long-poll-answer";
import { ADMIN_TOKEN, BASE, call, partition, send, stats, uniqueQueue } from "./helpers";

const leased = (seq: number): Leased => ({
  partition: 0,
  message: {
    id: `m-${seq}`,
    seq,
    body: "1",
    attributes: null,
    attempts: 1,
    enqueuedAt: 0,
    leaseToken: `token-of-message-${seq}`,
    leaseExpiresAt: 1,
    groupId: null,
    firstDeliveredAt: 0,
    dedupId: null,
  },
});

/** A receive under test's control: it starts to wait when told, and answers what it is given. */
function fakeReceive() {
  let gone: AbortSignal | null = null;
  let onWait: (() => void) | null = null;
  let settle: { resolve: (a: ReceiveAnswer) => void; reject: (e: unknown) => void } | null = null;
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  return {
    receive(signal: AbortSignal, waiting: () => void): Promise<ReceiveAnswer> {
      gone = signal;
      onWait = waiting;
      ready();
      return new Promise<ReceiveAnswer>((resolve, reject) => (settle = { resolve, reject }));
    },
    started,
    gone: () => gone!,
    wait: () => onWait!(),
    answer: (a: ReceiveAnswer) => settle!.resolve(a),
    fail: (e: unknown) => settle!.reject(e),
  };
}

/** answerLongPoll with a fake receive, a request signal and spies. */
function answerWith(fake: ReturnType<typeof fakeReceive>) {
  const request = new AbortController();
  const released: Leased[][] = [];
  const background: Promise<unknown>[] = [];
  const response = answerLongPoll({
    signal: request.signal,
    waitUntil: (p) => background.push(p),
    receive: fake.receive,
    release: async (l) => void released.push(l),
  });
  return { request, released, background, response };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads a body as it arrives: chunk texts in order. */
async function chunksOf(res: Response): Promise<string[]> {
  const out: string[] = [];
  const decoder = new TextDecoder();
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) out.push(decoder.decode(bytes));
  return out;
}

describe("answerLongPoll", () => {
  it("answers plainly when the receive answers before the wait has lasted a heartbeat", async () => {
    const fake = fakeReceive();
    const { response, background } = answerWith(fake);
    await fake.started;
    fake.wait();
    await sleep(HEARTBEAT_MS / 5);
    fake.answer({ leased: [leased(1)], json: '{"messages":[1]}' });
    const res = await response;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"messages":[1]}');
    expect(background).toEqual([]);
  });

  it("an error before the wait is thrown, for the app's error answer and its status", async () => {
    const fake = fakeReceive();
    const { response } = answerWith(fake);
    await fake.started;
    fake.fail(new ApiError("QUEUE_NOT_FOUND", "no such queue"));
    await expect(response).rejects.toMatchObject({ code: "QUEUE_NOT_FOUND" });
  });

  it("a receive that never waits is never streamed, however long it takes", async () => {
    const fake = fakeReceive();
    const { response } = answerWith(fake);
    await fake.started;
    await sleep(HEARTBEAT_MS * 2);
    fake.answer({ leased: [], json: '{"messages":[]}' });
    expect(await (await response).text()).toBe('{"messages":[]}');
  });

  it("streams once the wait lasts a heartbeat: spaces, then the answer; nothing released", async () => {
    const fake = fakeReceive();
    const { response, released, background } = answerWith(fake);
    await fake.started;
    fake.wait();
    const res = await response;
    expect(res.headers.get("content-encoding")).toBe("identity");
    const reading = chunksOf(res);
    await sleep(HEARTBEAT_MS * 3);
    fake.answer({ leased: [leased(1)], json: '{"messages":[1]}' });
    const chunks = await reading;
    expect(chunks.at(-1)).toBe('{"messages":[1]}');
    expect(chunks.slice(0, -1).join("")).toMatch(/^ {2,}$/);
    expect(JSON.parse(chunks.join(""))).toEqual({ messages: [1] });
    await Promise.all(background);
    expect(released).toEqual([]);
  });

  it("an error after the headers is the error body after the spaces", async () => {
    const fake = fakeReceive();
    const { response } = answerWith(fake);
    await fake.started;
    fake.wait();
    const res = await response;
    fake.fail(new ApiError("UNAVAILABLE", "partition 0 refused to wait"));
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toMatch(/^ +\{/);
    expect(JSON.parse(text)).toEqual({ error: { code: "UNAVAILABLE", message: "partition 0 refused to wait" } });
  });

  it("an unexpected error after the headers is INTERNAL, nothing of it exposed", async () => {
    const fake = fakeReceive();
    const { response } = answerWith(fake);
    await fake.started;
    fake.wait();
    const res = await response;
    fake.fail(new Error("secret detail"));
    expect(JSON.parse(await res.text())).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
  });

  it("a consumer whose connection fails a heartbeat is gone: the receive is told, its late leases are released", async () => {
    const fake = fakeReceive();
    const { response, released, background } = answerWith(fake);
    await fake.started;
    fake.wait();
    const res = await response;
    await res.body!.cancel();
    await vi.waitFor(() => expect(fake.gone().aborted).toBe(true), { timeout: HEARTBEAT_MS * 4, interval: 10 });
    fake.answer({ leased: [leased(1), leased(2)], json: '{"messages":[1,2]}' });
    await Promise.all(background);
    expect(released).toEqual([[leased(1), leased(2)]]);
  });

  it("a consumer that leaves after the push, before the answer is written, has its leases released", async () => {
    const fake = fakeReceive();
    const { request, response, released, background } = answerWith(fake);
    await fake.started;
    fake.wait();
    await response;
    request.abort();
    expect(fake.gone().aborted).toBe(true);
    fake.answer({ leased: [leased(3)], json: '{"messages":[3]}' });
    await Promise.all(background);
    expect(released).toEqual([[leased(3)]]);
  });
});

describe("the streamed long-poll, through the Worker", () => {
  /** Live waiter sockets of a partition. */
  const waiters = (queue: string) => runInDurableObject(partition(queue), (_, state) => state.getWebSockets().length);

  const longPoll = (queue: string, body: Record<string, unknown>) =>
    SELF.fetch(`${BASE}/v1/queues/${queue}/messages/receive`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("a consumer that stops reading the stream is let go: its wait ends and the next message stays ready", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, {})).status).toBe(201);
    const res = await longPoll(q, { waitMs: 10_000 });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^ +$/);
    await reader.cancel();
    await vi.waitFor(async () => expect(await waiters(q)).toBe(0), { timeout: 3_000, interval: 20 });
    await send(q, { body: "for someone else" });
    expect(await stats(q)).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it("a queue deleted while a receive waits ends it with QUEUE_NOT_FOUND", async () => {
    const q = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${q}`, {})).status).toBe(201);
    const res = await longPoll(q, { waitMs: 10_000 });
    expect(res.status).toBe(200);
    const text = res.text();
    expect((await call("DELETE", `/v1/queues/${q}`)).status).toBeLessThan(300);
    const body = await text;
    expect(body).toMatch(/^ +\{/);
    expect(JSON.parse(body)).toEqual({ error: { code: "QUEUE_NOT_FOUND", message: expect.any(String) } });
  });
});
