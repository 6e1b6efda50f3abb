import { SELF, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createClient, QueueError, type ReceivedMessage } from "../client/index";
import { mintToken } from "../client/tokens";
import { ADMIN_TOKEN, partition, stats, uniqueQueue } from "./helpers";

const URL_ = "http://edgeq.test";
const selfFetch: typeof fetch = (input, init) => SELF.fetch(input as string, init);
const client = (token: string | (() => Promise<string>) = ADMIN_TOKEN, fetcher: typeof fetch = selfFetch) =>
  createClient({ url: `${URL_}/`, token, fetch: fetcher });

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await delay(20);
  }
}

describe("client: operations", () => {
  it("send, sendBatch, receive, ack, nack, extend, stats", async () => {
    const q = client().queue(uniqueQueue());
    const one = await q.send({ n: 1 }, { attributes: { kind: "first" } });
    expect(one.id).toBeTypeOf("string");
    const batch = await q.sendBatch([{ body: { n: 2 } }, { body: { n: 3 }, delayMs: 60_000 }]);
    expect(batch.map((m) => m.seq)).toEqual([one.seq + 1, one.seq + 2]);
    expect(await q.stats()).toMatchObject({ ready: 2, delayed: 1, inFlight: 0 });

    const got = await q.receive({ max: 10, visibilityTimeoutMs: 5_000 });
    expect(got.map((m) => m.body)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(got[0].attributes).toEqual({ kind: "first" });

    const extended = await q.extend(got[0].receipt, 60_000);
    expect(extended[0].ok).toBe(true);
    expect(extended[0].leaseExpiresAt).toBeGreaterThan(got[0].leaseExpiresAt);

    expect((await q.ack([got[0].receipt]))[0]).toMatchObject({ ok: true });
    expect((await q.nack(got[1].receipt, { delayMs: 0, error: "try again" }))[0].ok).toBe(true);
    // A settled receipt is stale: the answer says so per receipt.
    expect((await q.ack(got[0].receipt))[0]).toMatchObject({ ok: false });

    const again = await q.receive();
    expect(again.map((m) => m.body)).toEqual([{ n: 2 }]);
    expect(again[0].attempts).toBe(2);
    await q.ack(again[0].receipt);
    expect(await q.stats()).toMatchObject({ ready: 0, inFlight: 0, delayed: 1 });
  });

  it("topic: publish, publishBatch, stats; each subscribed queue gets its copy", async () => {
    const [name, a, b] = [uniqueQueue("ct"), uniqueQueue("ca"), uniqueQueue("cb")];
    const put = await SELF.fetch(`${URL_}/v1/topics/${name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ subscriptions: [{ queue: a }, { queue: b, filter: { kind: ["paid"] } }] }),
    });
    expect(put.status).toBe(201);
    const topic = client().topic(name);
    const one = await topic.publish({ order: 1 }, { attributes: { kind: "paid" }, dedupId: "order-1" });
    expect(one.id).toBeTypeOf("string");
    expect(await topic.publish({ order: 1 }, { dedupId: "order-1" })).toEqual({ id: one.id, duplicate: true });
    expect(await topic.publishBatch([{ body: { order: 2 } }, { body: { order: 3 }, attributes: { kind: "paid" } }])).toHaveLength(2);
    await until(async () => (await topic.stats()).pending === 0);
    expect(await topic.stats()).toMatchObject({ published: 3, duplicates: 1 });
    expect((await client().queue(a).receive({ max: 10 })).map((m) => m.body)).toEqual([{ order: 1 }, { order: 2 }, { order: 3 }]);
    expect((await client().queue(b).receive({ max: 10 })).map((m) => m.body)).toEqual([{ order: 1 }, { order: 3 }]);
    const missing = await client().topic(uniqueQueue("none")).publish(1).catch((e) => e);
    expect(missing).toMatchObject({ code: "TOPIC_NOT_FOUND", status: 404 });
  });

  it("errors come back as QueueError with the server's code and status", async () => {
    const bad = client().queue("not a queue name");
    const err = await bad.send(1).catch((e) => e);
    expect(err).toBeInstanceOf(QueueError);
    expect(err).toMatchObject({ code: "INVALID_REQUEST", status: 400, name: "QueueError" });

    const q = uniqueQueue();
    const err2 = await client().queue(q).receive({ max: 1000 }).catch((e) => e);
    expect(err2).toMatchObject({ code: "INVALID_VALUE", status: 422 });
    expect(err2.message).toContain("max");

    const anonymous = await client("").queue(q).send(1).catch((e) => e);
    expect(anonymous).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
  });

  it("takes the token from a function (for short-lived tokens), and a scoped token is held to its scope", async () => {
    const name = uniqueQueue();
    let minted = 0;
    const token = async () => {
      minted++;
      return (await mintToken("test-token-secret", { scopes: ["publish"], queues: [name], expiresInSeconds: 60 })).token;
    };
    const q = client(token).queue(name);
    await q.send("hello");
    expect(minted).toBe(1);
    const err = await q.receive().catch((e) => e);
    expect(err).toMatchObject({ code: "FORBIDDEN", status: 403 });
  });

  it("answers that are not from edgeq still become QueueErrors", async () => {
    const proxy: typeof fetch = async () => new Response("<html>bad gateway</html>", { status: 502 });
    const err = await client(ADMIN_TOKEN, proxy).queue("q").send(1).catch((e) => e);
    expect(err).toMatchObject({ code: "UNAVAILABLE", status: 502 });
  });
});

describe("client: consume", () => {
  it("runs at most `concurrency` handlers at once and acks each message", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    await q.sendBatch(Array.from({ length: 12 }, (_, i) => ({ body: i })));
    const controller = new AbortController();
    let active = 0;
    let maxActive = 0;
    const seen: number[] = [];
    const done = q.consume(
      async (m) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await delay(40);
        seen.push(m.body as number);
        active--;
      },
      { concurrency: 3, waitMs: 1000, signal: controller.signal },
    );
    await until(() => seen.length === 12);
    controller.abort();
    await done;
    expect(maxActive).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0, delayed: 0 });
  });

  it("ackAndReceive acks and receives in one request", async () => {
    const q = client().queue(uniqueQueue());
    await q.sendBatch([{ body: 1 }, { body: 2 }]);
    const [first] = await q.receive();
    const { messages, ackResults } = await q.ackAndReceive(first.receipt, { max: 5, waitMs: 1000 });
    expect(ackResults).toEqual([{ receipt: first.receipt, ok: true }]);
    expect(messages.map((m) => m.body)).toEqual([2]);
    expect((await q.ackAndReceive([messages[0].receipt, first.receipt])).ackResults.map((r) => r.code)).toEqual([
      undefined,
      "NOT_FOUND",
    ]);
  });

  it("consume acks each message with its next receive, not with a request of its own", async () => {
    const name = uniqueQueue();
    const requests: { path: string; ack: number }[] = [];
    const counting: typeof fetch = async (input, init) => {
      const body = typeof init?.body === "string" ? JSON.parse(init.body) : {};
      requests.push({ path: new URL(String(input)).pathname, ack: body.ack?.length ?? 0 });
      return selfFetch(input, init);
    };
    const q = client(ADMIN_TOKEN, counting).queue(name);
    await q.sendBatch(Array.from({ length: 5 }, (_, i) => ({ body: i })));
    requests.length = 0;
    const controller = new AbortController();
    const seen: number[] = [];
    const errors: unknown[] = [];
    const done = q.consume(async (m) => void seen.push(m.body as number), {
      waitMs: 300,
      signal: controller.signal,
      onError: (e) => errors.push(e),
    });
    await until(async () => seen.length === 5 && (await stats(name)).inFlight === 0);
    const beforeStop = requests.slice();
    controller.abort();
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    // (The stop aborts the waiting receive that carried the last ack; its acks are sent again on their own,
    // and their NOT_FOUND, the sign that they had landed, is not an error.)
    expect(errors).toEqual([]);
    expect(beforeStop.filter((r) => r.path.endsWith("/ack"))).toEqual([]);
    const receives = beforeStop.filter((r) => r.path.endsWith("/receive"));
    // Every message's ack rode on a receive: 5 acks over the receives after the first.
    expect(receives.reduce((n, r) => n + r.ack, 0)).toBe(5);
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("extends the lease while a slow handler runs, so nobody else gets the message", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    await q.send("slow");
    const controller = new AbortController();
    let started = false;
    let finished = false;
    const done = q.consume(
      async () => {
        started = true;
        await delay(2_600);
        finished = true;
      },
      { visibilityTimeoutMs: 1_000, waitMs: 500, signal: controller.signal },
    );
    await until(() => started);
    // Well past the 1 s lease: without renewals another receive would take it back.
    await delay(1_800);
    expect(await client().queue(name).receive()).toEqual([]);
    // That receive swept expired leases: the message is still leased, not back for a retry.
    expect(await stats(name)).toMatchObject({ inFlight: 1, delayed: 0, ready: 0 });
    controller.abort();
    await done;
    expect(finished).toBe(true);
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0, delayed: 0 });
  });

  it("stops when the signal aborts: the running handler finishes, its message is acked, nothing more is received", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    await q.sendBatch([{ body: "a" }, { body: "b" }]);
    const controller = new AbortController();
    const handled: string[] = [];
    const done = q.consume(
      async (m) => {
        controller.abort();
        await delay(200);
        handled.push(m.body as string);
      },
      { signal: controller.signal, waitMs: 1000 },
    );
    await done;
    expect(handled).toEqual(["a"]);
    expect(await stats(name)).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it("nacks with the error's message when the handler throws", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    await q.send("poison");
    const controller = new AbortController();
    const done = q.consume(
      async () => {
        controller.abort();
        throw new Error("boom: cannot parse order");
      },
      { signal: controller.signal },
    );
    await done;
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0, delayed: 1 });
    const row = await runInDurableObject(partition(name), (_, state) =>
      state.storage.sql.exec<{ last_error: string; attempts: number }>("SELECT last_error, attempts FROM messages").one(),
    );
    expect(row).toEqual({ last_error: "boom: cannot parse order", attempts: 1 });
  });

  it("backs off on 429 for at least Retry-After, then carries on", async () => {
    const name = uniqueQueue();
    await client().queue(name).send("after the wait");
    const receives: number[] = [];
    const limited: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/receive")) {
        receives.push(Date.now());
        if (receives.length === 1) {
          return new Response(JSON.stringify({ error: { code: "RATE_LIMITED", message: "slow down" } }), {
            status: 429,
            headers: { "retry-after": "1", "content-type": "application/json" },
          });
        }
      }
      return selfFetch(input, init);
    };
    const controller = new AbortController();
    const errors: unknown[] = [];
    let handledAt = 0;
    const done = client(ADMIN_TOKEN, limited)
      .queue(name)
      .consume(
        async () => {
          handledAt = Date.now();
          controller.abort();
        },
        { signal: controller.signal, onError: (e) => errors.push(e) },
      );
    await done;
    expect(receives.length).toBe(2);
    expect(receives[1] - receives[0]).toBeGreaterThanOrEqual(1_000);
    expect(handledAt).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "RATE_LIMITED", status: 429, retryAfterMs: 1_000 });
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("retries network errors and 5xx with backoff", async () => {
    const name = uniqueQueue();
    await client().queue(name).send("eventually");
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      if (String(input).endsWith("/receive") && ++calls <= 2) {
        if (calls === 1) throw new TypeError("network connection lost");
        return new Response(JSON.stringify({ error: { code: "UNAVAILABLE", message: "try again" } }), { status: 503 });
      }
      return selfFetch(input, init);
    };
    const controller = new AbortController();
    const got: ReceivedMessage[] = [];
    await client(ADMIN_TOKEN, flaky)
      .queue(name)
      .consume(
        async (m) => {
          got.push(m);
          controller.abort();
        },
        { signal: controller.signal },
      );
    expect(calls).toBe(3);
    expect(got.map((m) => m.body)).toEqual(["eventually"]);
  });

  it("rejects on an error that retrying cannot fix", async () => {
    const err = await client("wrong-token")
      .queue(uniqueQueue())
      .consume(async () => {})
      .catch((e) => e);
    expect(err).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
  });
});

describe("client: consume with long-poll", () => {
  it("wakes on a message enqueued while it waits", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    const controller = new AbortController();
    let handledAt = 0;
    const done = q.consume(
      async () => {
        handledAt = Date.now();
        controller.abort();
      },
      { waitMs: 10_000, signal: controller.signal },
    );
    await delay(300);
    const sentAt = Date.now();
    await client().queue(name).send("wake up");
    await done;
    expect(handledAt - sentAt).toBeLessThan(2_000);
  });

  it("an abort ends a waiting receive at once; the wait takes no lease with it", async () => {
    const name = uniqueQueue();
    const q = client().queue(name);
    await q.send("first");
    await q.receive({ visibilityTimeoutMs: 60_000 }); // the queue is now empty of ready messages
    const controller = new AbortController();
    const done = q.consume(async () => {}, { waitMs: 20_000, signal: controller.signal });
    await delay(300);
    const abortedAt = Date.now();
    controller.abort();
    await done;
    expect(Date.now() - abortedAt).toBeLessThan(2_000);
    await q.send("second");
    expect((await q.receive()).map((m) => m.body)).toEqual(["second"]);
  });
});
