import { describe, expect, it } from "vitest";
import { send, stats, uniqueQueue } from "./helpers";
import { openStream } from "./stream-socket";

describe("consume stream: smoke", () => {
  it("welcome, push, ack", async () => {
    const q = uniqueQueue("st");
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const s = await openStream(q, { prefetch: 2 });
    await s.until((t) => t.messages().length === 2);
    expect(s.frames[0]).toMatchObject({ type: "welcome", version: 1, queue: q, partition: 0, partitions: 1, prefetch: 2 });
    const results = await s.settle("ack", s.messages().map((m) => m.receipt));
    expect(results.every((r) => r.ok)).toBe(true);
    await s.until((t) => t.messages().length === 3);
    expect(s.messages().map((m) => m.body)).toEqual([1, 2, 3]);
    expect(await stats(q)).toMatchObject({ inFlight: 1, ready: 0 });
    s.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(await stats(q)).toMatchObject({ inFlight: 0, ready: 1 });
  });
});
