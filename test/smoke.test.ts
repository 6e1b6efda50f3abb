import { describe, expect, it } from "vitest";
import { receive, send, settle, stats, uniqueQueue } from "./helpers";

describe("smoke", () => {
  it("enqueue, receive, ack", async () => {
    const q = uniqueQueue();
    const sent = await send(q, { body: { hello: "world" } });
    expect(sent.messages).toHaveLength(1);
    const got = await receive(q);
    expect(got[0].body).toEqual({ hello: "world" });
    const results = await settle(q, "ack", { receipts: [got[0].receipt] });
    expect(results[0].ok).toBe(true);
    expect(await stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
  });
});
