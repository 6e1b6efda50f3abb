/**
 * Push to an HTTP endpoint, inside workerd with a fake clock: the Worker's
 * outbound fetches land on the consumer Worker (vitest.config.ts), which
 * answers as each test's path says and keeps what it got. The partition
 * pushes from its alarm, fired here by hand. Signatures are checked with
 * the `standardwebhooks` package, not with edgeq's own code.
 */
import { evictDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { useFakeClock } from "./fixture";
import { get, partition, post, send, uniqueQueue } from "./helpers";
import { alarmAt, configure, hook, pushNow, received } from "./push-helpers";

const clock = useFakeClock();

const queueInfo = async (q: string) => (await get(`/v1/queues/${q}`)).json;
const deadLetters = async (q: string) => (await get(`/v1/queues/${q}/dead-letters`)).json.deadLetters;

describe("push to an endpoint", () => {
  it("POSTs each batch as {queue, messages}, signed so that standardwebhooks verifies it, with the endpoint's headers", async () => {
    const q = uniqueQueue("phttp");
    const { push } = await configure(q, { push: { url: hook("ok"), batchSize: 2, headers: { Authorization: "Bearer endpoint-token" } } });
    const sent = await send(q, {
      messages: [{ body: { order: 1 }, attributes: { kind: "order" } }, { body: "two", groupId: "g" }, { body: [3] }],
    });
    await pushNow(q);
    const got = await received(q);
    expect(got.map((r) => r.bodies)).toEqual([[{ order: 1 }, "two"], [[3]]]);
    const webhook = new Webhook(push.signingSecret);
    for (const r of got) {
      expect(r.headers!.authorization).toBe("Bearer endpoint-token");
      expect(r.headers!["content-type"]).toBe("application/json");
      // Throws unless the signature, id and timestamp check out.
      expect(webhook.verify(r.body!, r.headers!)).toEqual(JSON.parse(r.body!));
      expect(Number(r.headers!["webhook-timestamp"])).toBe(Math.floor(clock.now() / 1000));
    }
    const first = JSON.parse(got[0].body!);
    expect(first).toEqual({
      queue: q,
      messages: [
        { id: sent.messages[0].id, seq: sent.messages[0].seq, body: { order: 1 }, attributes: { kind: "order" }, attempts: 1, enqueuedAt: clock.now() },
        { id: sent.messages[1].id, seq: sent.messages[1].seq, body: "two", attributes: {}, attempts: 1, enqueuedAt: clock.now(), groupId: "g" },
      ],
    });
    // A forged body does not verify.
    expect(() => webhook.verify(got[0].body!.replace("order", "0rder"), got[0].headers!)).toThrow();
    const stats = (await get(`/v1/queues/${q}/stats`)).json;
    expect(stats).toMatchObject({ depth: 0, totals: { delivered: 3, acked: 3 } });
    expect(stats.push).toMatchObject({ deliveries: 2, failures: { "4xx": 0, "5xx": 0, timeout: 0, network: 0, handler: 0 }, pausedUntil: null });
    expect(stats.push.latency.count).toBe(2);
  });

  it("a 5xx retries the whole batch after the backoff, under the same webhook-id; after maxAttempts, dead letters with the last error", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 1000, push: { url: hook("status/503"), batchSize: 5 } });
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    await pushNow(q);
    expect(await received(q)).toHaveLength(1);
    // Nothing goes again before the backoff (between half of it and all of it).
    const due = await alarmAt(q);
    expect(due).toBeGreaterThanOrEqual(clock.now() + 500);
    expect(due).toBeLessThanOrEqual(clock.now() + 1000);
    const peek = (await get(`/v1/queues/${q}/messages`)).json.messages;
    expect(peek.map((m: { state: string; lastError: string }) => [m.state, m.lastError])).toEqual([
      ["delayed", "HTTP 503"],
      ["delayed", "HTTP 503"],
    ]);
    for (let i = 0; i < 2; i++) {
      clock.advance(1000);
      await pushNow(q);
    }
    const got = await received(q);
    expect(got.map((r) => r.attempts)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    // The same messages, retried together: the same delivery, so the same webhook-id.
    expect(new Set(got.map((r) => r.headers!["webhook-id"])).size).toBe(1);
    const dead = await deadLetters(q);
    expect(dead.map((d: { reason: string; lastError: string; attempts: number }) => [d.reason, d.lastError, d.attempts])).toEqual([
      ["max_attempts", "HTTP 503", 3],
      ["max_attempts", "HTTP 503", 3],
    ]);
    expect((await queueInfo(q)).stats.push.failures).toMatchObject({ "5xx": 3, "4xx": 0 });
  });

  it("a 4xx (and a 3xx) fails as 4xx, with its status as the last error", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { maxAttempts: 2, backoffBaseMs: 0, backoffMaxMs: 0, push: { url: hook("status/404") } });
    await send(q, { body: "x" });
    await pushNow(q, 2);
    expect((await deadLetters(q))[0]).toMatchObject({ lastError: "HTTP 404", attempts: 2 });
    await configure(q, { push: { url: hook("status/302") } });
    await send(q, { body: "y" });
    await pushNow(q, 2);
    expect((await deadLetters(q))[1]).toMatchObject({ lastError: "HTTP 302" });
    expect((await queueInfo(q)).stats.push.failures["4xx"]).toBe(4);
  });

  it("a 429 with Retry-After pauses every push of the partition that long, persisted and shown in stats", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { backoffBaseMs: 100, backoffMaxMs: 100, push: { url: hook("fail-first/1/429/retry-after/30"), batchSize: 1 } });
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    const start = clock.now();
    await pushNow(q);
    // The first batch was refused; the second had gone out with it, before the answer came.
    const first = await received(q);
    const pausedUntil = (await queueInfo(q)).stats.push.pausedUntil;
    expect(pausedUntil).toBe(start + 30_000);
    expect(await alarmAt(q)).toBeLessThanOrEqual(pausedUntil);
    // Within the pause nothing is pushed, even after the partition was evicted.
    await evictDurableObject(partition(q));
    clock.advance(10_000);
    await send(q, { body: 3 });
    await pushNow(q);
    expect(await received(q)).toHaveLength(first.length);
    expect(await alarmAt(q)).toBe(pausedUntil);
    clock.set(pausedUntil);
    await pushNow(q);
    const after = await received(q);
    expect(after.length).toBeGreaterThan(first.length);
    expect((await queueInfo(q)).stats).toMatchObject({ depth: 0, push: { pausedUntil: null, failures: { "4xx": 1 } } });
  });

  it("a 503 without Retry-After is a plain failure: no pause", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { push: { url: hook("status/503") } });
    await send(q, { body: 1 });
    await pushNow(q);
    expect((await queueInfo(q)).stats.push).toMatchObject({ pausedUntil: null, failures: { "5xx": 1 } });
  });

  it("per-message results: the endpoint retries some messages (after its delayMs), the others are acked", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { push: { url: hook("results"), batchSize: 10 } });
    await send(q, { messages: [{ body: { n: 1 } }, { body: { n: 2, do: "retry", delayMs: 5000 } }, { body: { n: 3 } }] });
    await pushNow(q);
    const peek = (await get(`/v1/queues/${q}/messages`)).json.messages;
    expect(peek).toHaveLength(1);
    expect(peek[0]).toMatchObject({ body: { n: 2 }, state: "delayed", visibleAt: clock.now() + 5000, lastError: "retry asked by the endpoint" });
    clock.advance(5000);
    await pushNow(q);
    expect((await received(q)).map((r) => r.bodies.map((b) => (b as { n: number }).n))).toEqual([[1, 2, 3], [2]]);
    // Asked again (its body says so): retried again, with its attempt counted. Asked for, not failed: no failure counted.
    expect((await get(`/v1/queues/${q}/messages`)).json.messages[0]).toMatchObject({ state: "delayed", attempts: 2 });
    expect((await queueInfo(q)).stats).toMatchObject({
      depth: 1,
      totals: { acked: 2, retried: 2 },
      push: { deliveries: 2, failures: { "4xx": 0, "5xx": 0, timeout: 0, network: 0, handler: 0 } },
    });
  });

  it("a per-message retry's error becomes the message's last error, and its dead letter's", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { maxAttempts: 2, push: { url: hook("results"), batchSize: 10 } });
    await send(q, { messages: [{ body: { n: 1 } }, { body: { n: 2, do: "retry", delayMs: 5000, error: "card declined" } }] });
    await pushNow(q);
    expect((await get(`/v1/queues/${q}/messages`)).json.messages[0]).toMatchObject({ body: { n: 2 }, lastError: "card declined" });
    clock.advance(5000);
    await pushNow(q);
    const [dead] = await deadLetters(q);
    expect(dead).toMatchObject({ body: { n: 2 }, attempts: 2, reason: "max_attempts", lastError: "card declined" });
    expect((await queueInfo(q)).stats).toMatchObject({ depth: 0, totals: { acked: 1, deadLettered: 1 } });
  });

  it("an endpoint slower than timeoutMs fails the delivery as timeout", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { maxAttempts: 1, push: { url: hook("slow/3000"), timeoutMs: 1000 } });
    await send(q, { body: "slow" });
    await pushNow(q);
    expect((await deadLetters(q))[0]).toMatchObject({ lastError: "timeout" });
    expect((await queueInfo(q)).stats.push.failures.timeout).toBe(1);
  });

  it("after a rotation both secrets sign for 24 hours, then only the new one", async () => {
    const q = uniqueQueue("phttp");
    const old = (await configure(q, { push: { url: hook("ok") } })).push.signingSecret;
    const rotated = (await post(`/v1/queues/${q}/push/rotate-secret`)).json.push;
    await send(q, { body: 1 });
    await pushNow(q);
    const [during] = await received(q);
    expect(during.headers!["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(old).verify(during.body!, during.headers!)).toBeTruthy();
    expect(new Webhook(rotated.signingSecret).verify(during.body!, during.headers!)).toBeTruthy();
    clock.set(rotated.previousExpiresAt);
    await send(q, { body: 2 });
    await pushNow(q);
    const [, after] = await received(q);
    expect(after.headers!["webhook-signature"].split(" ")).toHaveLength(1);
    expect(new Webhook(rotated.signingSecret).verify(after.body!, after.headers!)).toBeTruthy();
    expect(() => new Webhook(old).verify(after.body!, after.headers!)).toThrow();
  });

  it("batchWaitMs: a batch that would not be full waits for its alarm; a full one goes at once", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { push: { url: hook("ok"), batchSize: 4, batchWaitMs: 2000 } });
    await send(q, { messages: [{ body: 1 }, { body: 2 }] });
    await pushNow(q);
    expect(await received(q)).toHaveLength(0);
    expect(await alarmAt(q)).toBe(clock.now() + 2000);
    clock.advance(500);
    await send(q, { messages: [{ body: 3 }, { body: 4 }, { body: 5 }] });
    await pushNow(q); // the enqueue set it for now: four are ready, a full batch
    expect((await received(q)).map((r) => r.bodies)).toEqual([[1, 2, 3, 4]]);
    expect(await alarmAt(q)).toBe(clock.now() + 2000); // the fifth has been ready since now
    clock.advance(2000);
    await pushNow(q);
    expect((await received(q)).map((r) => r.bodies)).toEqual([[1, 2, 3, 4], [5]]);
  });

  it("an idle queue that pushes sets no alarm", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { push: { url: hook("ok") } });
    await pushNow(q); // the configure's wake-up: nothing to push
    expect(await alarmAt(q)).toBeNull();
    await send(q, { body: 1 });
    await pushNow(q);
    expect(await alarmAt(q)).not.toBeNull(); // the dedup and counter windows, as for any queue
  });

  it("/metrics and the dashboard show deliveries, failures by class, latency and the Retry-After pause", async () => {
    const q = uniqueQueue("phttp");
    await configure(q, { push: { url: hook("fail-first/2/429/retry-after/60"), batchSize: 1 } });
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    await pushNow(q); // three batches out at once: two refused with 429, one acked
    const metrics = (await get("/metrics")).text;
    const sample = (name: string, labels = "") => {
      const line = metrics.split("\n").find((l) => l.startsWith(`${name}{queue="${q}"${labels}}`));
      return line === undefined ? undefined : Number(line.split(" ").pop());
    };
    expect(sample("edgeq_push_deliveries_total")).toBe(3);
    expect(sample("edgeq_push_failures_total", ',class="4xx"')).toBe(2);
    expect(sample("edgeq_push_failures_total", ',class="5xx"')).toBe(0);
    expect(sample("edgeq_push_paused")).toBe(1);
    expect(sample("edgeq_push_latency_seconds", ',quantile="0.5"')).toBeGreaterThanOrEqual(0);
    const view = (await get(`/dashboard/view?queue=${q}`)).text;
    expect(view).toContain(`Push to ${hook("fail-first/2/429/retry-after/60")}`);
    expect(view).toContain("4xx 2");
    expect(view).toContain("held 1m 00s more");
    expect(view).toContain("push held by Retry-After");
    clock.advance(60_000);
    expect((await get("/metrics")).text).toContain(`edgeq_push_paused{queue="${q}"} 0`);
  });
});
