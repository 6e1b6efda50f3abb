import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createClient, QueueError, type ReceivedMessage } from "../client/index";
import { ADMIN_TOKEN, call, uniqueQueue } from "./helpers";

const URL_ = "http://edgeq.test";

/** A fetch that answers each receive with the next of `bodies` (200, as a streamed long-poll does), and anything else through the Worker. */
function scripted(bodies: string[]) {
  const receives: string[] = [];
  const fetcher: typeof fetch = async (input, init) => {
    const url = String(input);
    if (!url.endsWith("/messages/receive")) return SELF.fetch(url, init);
    receives.push(String(init?.body));
    const body = bodies.shift() ?? '{"messages":[]}';
    return new Response(body, { status: 200, headers: { "content-type": "application/json", "content-encoding": "identity" } });
  };
  return { fetcher, receives };
}

const message = (n: number): ReceivedMessage => ({
  id: `m${n}`,
  seq: n,
  body: { n },
  attributes: {},
  attempts: 1,
  enqueuedAt: 0,
  receipt: `receipt-${n}`,
  leaseExpiresAt: 0,
});

describe("client: a long-poll's streamed answer", () => {
  it("reads the messages after the spaces", async () => {
    const { fetcher } = scripted([`     ${JSON.stringify({ messages: [message(1)] })}`]);
    const q = createClient({ url: URL_, token: ADMIN_TOKEN, fetch: fetcher }).queue("q");
    expect((await q.receive({ waitMs: 5_000 })).map((m) => m.body)).toEqual([{ n: 1 }]);
  });

  it("turns an error body after the spaces into a QueueError with the status of its code", async () => {
    const { fetcher } = scripted([
      '    {"error":{"code":"QUEUE_NOT_FOUND","message":"the queue was deleted while this receive waited"}}',
      '  {"error":{"code":"UNAVAILABLE","message":"partition 0 refused to wait"}}',
      ' {"error":{"code":"INTERNAL","message":"internal error"}}',
    ]);
    const q = createClient({ url: URL_, token: ADMIN_TOKEN, fetch: fetcher }).queue("q");
    const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
    const gone = await failure(q.receive({ waitMs: 5_000 }));
    expect(gone).toBeInstanceOf(QueueError);
    expect(gone).toMatchObject({ code: "QUEUE_NOT_FOUND", status: 404, message: "the queue was deleted while this receive waited" });
    expect(await failure(q.ackAndReceive(["r"], { waitMs: 5_000 }))).toMatchObject({ code: "UNAVAILABLE", status: 503 });
    expect(await failure(q.receive({ waitMs: 5_000 }))).toMatchObject({ code: "INTERNAL", status: 500 });
  });

  it("consume backs off and retries after a streamed UNAVAILABLE, and handles what comes next", async () => {
    const { fetcher, receives } = scripted([
      '  {"error":{"code":"UNAVAILABLE","message":"partition 0 refused to wait"}}',
      `  ${JSON.stringify({ messages: [message(7)] })}`,
    ]);
    const q = createClient({ url: URL_, token: ADMIN_TOKEN, fetch: fetcher }).queue(uniqueQueue());
    const stop = new AbortController();
    const errors: unknown[] = [];
    const handled: unknown[] = [];
    await q.consume(
      async (m) => {
        handled.push(m.body);
        stop.abort();
      },
      { waitMs: 1_000, signal: stop.signal, onError: (e) => errors.push(e) },
    );
    expect(handled).toEqual([{ n: 7 }]);
    expect(receives.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({ code: "UNAVAILABLE", status: 503 });
  });

  it("consume stops with QUEUE_NOT_FOUND when its queue is deleted while it waits", async () => {
    const queue = uniqueQueue();
    expect((await call("PUT", `/v1/queues/${queue}`, {})).status).toBe(201);
    const q = createClient({ url: URL_, token: ADMIN_TOKEN, fetch: (input, init) => SELF.fetch(String(input), init) }).queue(queue);
    const consuming = q.consume(() => undefined, { waitMs: 10_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 600));
    expect((await call("DELETE", `/v1/queues/${queue}`)).status).toBeLessThan(300);
    const err = await consuming;
    expect(err).toBeInstanceOf(QueueError);
    expect(err).toMatchObject({ code: "QUEUE_NOT_FOUND", status: 404 });
  });
});
