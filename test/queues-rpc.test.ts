import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { uniqueQueue } from "./helpers";

/** Calls an EdgeqService method from the producer Worker, through its service binding. */
async function rpc(op: string, ...args: unknown[]): Promise<any> {
  const producer = (env as unknown as { PRODUCER: Fetcher }).PRODUCER;
  const res = await producer.fetch("http://producer/rpc", { method: "POST", body: JSON.stringify({ op, args }) });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`producer answered ${res.status}: ${JSON.stringify(json)}`);
  return json.result;
}

describe("queue management over the service binding", () => {
  it("configures, reads, lists, pauses, peeks, purges and deletes, with the HTTP API's answers and errors", async () => {
    const q = uniqueQueue();
    const created = await rpc("configureQueue", q, { partitions: 2, maxAttempts: 3 });
    expect(created).toMatchObject({ name: q, config: { partitions: 2, maxAttempts: 3 } });
    expect(await rpc("configureQueue", q, { maxAttempts: 0 })).toMatchObject({ error: { code: "INVALID_VALUE" } });
    expect(await rpc("configureQueue", q, { maxAttempts: "3" })).toMatchObject({ error: { code: "INVALID_REQUEST" } });
    expect(await rpc("configureQueue", q, { partitions: 1 })).toMatchObject({ error: { code: "CONFLICT" } });

    await rpc("send", q, [{ body: { n: 1 }, key: "a" }, { body: { n: 2 }, key: "b", delayMs: 60_000 }]);
    expect((await rpc("getQueue", q)).stats).toMatchObject({ ready: 1, delayed: 1 });
    const listed = await rpc("listQueues", { cursor: q.slice(0, -1), stats: false });
    expect(listed.queues.map((x: any) => x.name)).toContain(q);

    expect((await rpc("pauseQueue", q)).config.paused).toBe(true);
    expect((await rpc("receive", q, { max: 5 })).messages).toEqual([]);
    expect((await rpc("resumeQueue", q)).config.paused).toBe(false);

    const peeked = await rpc("peek", q, {});
    expect(peeked.messages.map((m: any) => [m.body.n, m.state]).sort()).toEqual([
      [1, "ready"],
      [2, "delayed"],
    ]);
    expect(await rpc("purgeQueue", q)).toEqual({ purged: 2 });
    expect(await rpc("deleteQueue", q)).toEqual({ name: q, deleted: true });
    expect(await rpc("getQueue", q)).toMatchObject({ error: { code: "QUEUE_NOT_FOUND" } });
  });
});
