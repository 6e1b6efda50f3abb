/**
 * Producers in the shape of Cloudflare Queues' `Queue` binding: through
 * the service binding (`env.EDGEQ.producer(name)`, from a real second
 * Worker, test/producer-worker/) and through the client
 * (`client.producer(name)`). Code written for `env.QUEUE.send` runs as is.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createClient, QueueError } from "../client/index";
import { ADMIN_TOKEN, call, get, uniqueQueue } from "./helpers";

const producer = () => (env as unknown as { PRODUCER: Fetcher }).PRODUCER;

async function produce(queue: string, op: "send" | "sendBatch", ...args: unknown[]) {
  const res = await producer().fetch("https://producer/produce", { method: "POST", body: JSON.stringify({ queue, op, args }) });
  return (await res.json()) as { result?: unknown; thrown?: string };
}

const stored = async (q: string) =>
  (await get(`/v1/queues/${q}/messages`)).json.messages as { body: unknown; state: string; visibleAt: number; enqueuedAt: number }[];

describe("Queue-shaped producer through the service binding", () => {
  it("send and sendBatch store messages; delaySeconds delays them, a message's own delay beating the batch's", async () => {
    const q = uniqueQueue("prod");
    expect(await produce(q, "send", { order: 1 })).toEqual({ result: null });
    expect(await produce(q, "send", "as text", { contentType: "text", delaySeconds: 30 })).toEqual({ result: null });
    expect(
      await produce(q, "sendBatch", [{ body: { order: 2 } }, { body: { order: 3 }, delaySeconds: 5 }, { body: { order: 4 }, contentType: "json" }], {
        delaySeconds: 60,
      }),
    ).toEqual({ result: null });
    const messages = await stored(q);
    expect(messages.map((m) => [m.body, m.state, Math.round((m.visibleAt - m.enqueuedAt) / 1000)])).toEqual([
      [{ order: 1 }, "ready", 0],
      ["as text", "delayed", 30],
      [{ order: 2 }, "delayed", 60],
      [{ order: 3 }, "delayed", 5],
      [{ order: 4 }, "delayed", 60],
    ]);
  });

  it("throws as a Queue binding does, with edgeq's code first in the message; nothing of a refused batch is stored", async () => {
    const q = uniqueQueue("prod");
    expect((await produce(q, "send", new Uint8Array([1]).buffer, { contentType: "bytes" })).thrown).toMatch(/^INVALID_VALUE: .*contentType/);
    expect((await produce(q, "send", { a: 1 }, { contentType: "v8" })).thrown).toMatch(/^INVALID_VALUE: /);
    expect((await produce(q, "send", 5, { contentType: "text" })).thrown).toMatch(/^INVALID_VALUE: .*string/);
    expect((await produce(q, "send", 1, { delaySeconds: 24 * 3600 })).thrown).toMatch(/^INVALID_VALUE: .*delayMs/);
    const tooMany = Array.from({ length: 101 }, (_, i) => ({ body: i }));
    expect((await produce(q, "sendBatch", tooMany)).thrown).toMatch(/^INVALID_VALUE: /);
    expect((await produce(q, "sendBatch", [{ body: 1 }, { body: 2, contentType: "bytes" }])).thrown).toMatch(/^INVALID_VALUE: messages\[1\]/);
    await call("PUT", `/v1/queues/${q}`, { maxDepth: 1 });
    expect(await produce(q, "send", "fits")).toEqual({ result: null });
    expect((await produce(q, "send", "full")).thrown).toMatch(/^QUEUE_FULL: /);
    expect((await stored(q)).map((m) => m.body)).toEqual(["fits"]);
    const bad = await producer().fetch("https://producer/produce", { method: "POST", body: JSON.stringify({ queue: "no/such", op: "send", args: [1] }) });
    expect(((await bad.json()) as { thrown: string }).thrown).toMatch(/^INVALID_REQUEST: queue/);
  });
});

describe("Queue-shaped producer of the client", () => {
  const client = createClient({ url: "http://edgeq.test", token: ADMIN_TOKEN, fetch: (input, init) => SELF.fetch(input as string, init) });

  it("send and sendBatch take delaySeconds and contentType, as a Queue binding does", async () => {
    const q = uniqueQueue("prod");
    const QUEUE = client.producer(q);
    await QUEUE.send({ order: 1 });
    await QUEUE.send("text body", { contentType: "text", delaySeconds: 10 });
    await QUEUE.sendBatch([{ body: 2 }, { body: 3, delaySeconds: 1 }], { delaySeconds: 20 });
    expect((await stored(q)).map((m) => [m.body, Math.round((m.visibleAt - m.enqueuedAt) / 1000)])).toEqual([
      [{ order: 1 }, 0],
      ["text body", 10],
      [2, 20],
      [3, 1],
    ]);
  });

  it("rejects with a QueueError: bytes and v8 locally, the server's refusals as they come", async () => {
    const q = uniqueQueue("prod");
    const QUEUE = client.producer(q);
    await expect(QUEUE.send(new Uint8Array([1]), { contentType: "bytes" })).rejects.toMatchObject({ code: "INVALID_VALUE" });
    await expect(QUEUE.send({ a: 1 }, { contentType: "text" })).rejects.toBeInstanceOf(QueueError);
    await call("PUT", `/v1/queues/${q}`, { maxDepth: 1 });
    await QUEUE.send(1);
    await expect(QUEUE.send(2)).rejects.toMatchObject({ code: "QUEUE_FULL", status: 429 });
    expect((await stored(q)).map((m) => m.body)).toEqual([1]);
  });
});
