/**
 * The client's consume() over a stream, inside workerd (a fetch with
 * Upgrade answers the socket there): what goes over HTTP, and what the
 * stream bounds.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createClient } from "../client/index";
import { ADMIN_TOKEN, send, stats, uniqueQueue } from "./helpers";

const URL_ = "http://edgeq.test";
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("client: consume over a stream", () => {
  it("opens one upgrade and nothing else over HTTP: pushes, acks and nacks go on the socket", async () => {
    const name = uniqueQueue();
    await send(name, { messages: Array.from({ length: 6 }, (_, i) => ({ body: i })) });
    const paths: string[] = [];
    const counting: typeof fetch = async (input, init) => {
      paths.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return SELF.fetch(String(input), init);
    };
    const stop = new AbortController();
    const seen: number[] = [];
    await createClient({ url: URL_, token: ADMIN_TOKEN, fetch: counting })
      .queue(name)
      .consume(
        async (m) => {
          seen.push(m.body as number);
          if (seen.length === 6) stop.abort();
          if ((m.body as number) % 2 === 1) throw new Error(`odd ${m.body}`);
        },
        { concurrency: 2, signal: stop.signal },
      );
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(paths).toEqual([`GET /v1/queues/${name}/consume`]);
    // The evens were acked, the odds nacked (retried after the backoff).
    expect(await stats(name)).toMatchObject({ ready: 0, inFlight: 0, delayed: 3 });
  });

  it("keeps its settle frames within the stream's bound: many failing handlers at once are all nacked, none refused", async () => {
    const name = uniqueQueue();
    const count = 80;
    await send(name, { messages: Array.from({ length: count }, (_, i) => ({ body: i })) });
    const stop = new AbortController();
    const errors: unknown[] = [];
    let failed = 0;
    const done = createClient({ url: URL_, token: ADMIN_TOKEN, fetch: (input, init) => SELF.fetch(String(input), init) })
      .queue(name)
      .consume(
        async () => {
          await delay(20);
          failed += 1;
          throw new Error("fails, all at once");
        },
        { concurrency: count, signal: stop.signal, onError: (e) => errors.push(e) },
      );
    for (let i = 0; i < 200 && (await stats(name)).delayed < count; i++) await delay(25);
    stop.abort();
    await done;
    expect(failed).toBe(count);
    expect(errors).toEqual([]);
    expect(await stats(name)).toMatchObject({ delayed: count, inFlight: 0 });
  });
});
