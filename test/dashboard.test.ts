import { describe, expect, it, onTestFinished, vi } from "vitest";
import { call, get, post, receive, send, settle, uniqueQueue } from "./helpers";
import { fanOut, publish, putTopic } from "./topic-helpers";

/** Sends one message through all its attempts (5 by default) with `error`: it becomes a dead letter. */
async function deadLetter(queue: string, body: unknown, error: string) {
  await send(queue, { body });
  for (let attempt = 0; attempt < 5; attempt++) {
    const [m] = await receive(queue);
    await settle(queue, "nack", { receipts: [m.receipt], delayMs: 0, error });
  }
}

describe("GET /dashboard", () => {
  it("serves the page without a token, and no data in it", async () => {
    const res = await call("GET", "/dashboard", undefined, { authorization: "" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.text.startsWith("<!doctype html>")).toBe(true);
    expect(res.text).toContain('id="login"');
    expect(res.text).toContain("sessionStorage");
    expect(res.text).not.toContain("localStorage.setItem");
  });

  it("renders the view only for a token that may manage every queue", async () => {
    expect((await call("GET", "/dashboard/view", undefined, { authorization: "" })).status).toBe(401);
    const narrow = await post("/v1/tokens", { scopes: ["manage"], queues: ["orders"] });
    const res = await call("GET", "/dashboard/view", undefined, { authorization: `Bearer ${narrow.json.token}` });
    expect(res.status).toBe(403);
  });

  it("lists the queues and shows the selected one's charts and dead letters, escaped", async () => {
    // One minute for the whole traffic, so each chart's peak is known.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.ceil((Date.now() + 30 * 24 * 3600_000) / 60_000) * 60_000);
    onTestFinished(() => void vi.useRealTimers());
    const q = uniqueQueue("dash");
    await deadLetter(q, { evil: "<script>alert(1)</script>" }, "<img src=x onerror=alert(1)>");
    await send(q, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });

    const res = await get(`/dashboard/view?queue=${q}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`<tr data-queue="${q}" class="selected">`);
    expect(res.text).toMatch(new RegExp(`id="detail" data-queue="${q}"`));
    expect(res.text).toContain('data-chart="depth" data-peak="3"');
    expect(res.text).toContain('data-chart="retries" data-peak="4"'); // 4 nacks retried, the 5th dead-lettered
    expect(res.text).toContain('data-chart="dead-letters" data-peak="1"');
    expect(res.text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(res.text).not.toContain("<img src=x");
    expect(res.text).not.toContain("<script>alert");
    expect(res.text).toContain('data-action="redrive"');
  });

  it("lists the topics with their outbox and its lag, to a token that covers every topic", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.ceil((Date.now() + 40 * 24 * 3600_000) / 60_000) * 60_000);
    onTestFinished(() => void vi.useRealTimers());
    const [t, full] = [uniqueQueue("dash-t"), uniqueQueue("dash-full")];
    expect((await call("PUT", `/v1/queues/${full}`, { maxDepth: 1 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: full }] });
    await publish(t, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    await fanOut(t);
    vi.setSystemTime(Date.now() + 125_000);

    const res = await get("/dashboard/view");
    expect(res.status).toBe(200);
    const row = new RegExp(`<tr data-topic="${t}">(.*?)</tr>`, "s").exec(res.text)?.[1] ?? "";
    expect(row).toContain(`href="/dashboard?queue=${full}"`);
    expect(row).toContain('<td class="num" data-field="pending">2</td>');
    expect(row).toContain('<td class="num" data-field="lag">2m 05s</td>');
    expect(row).toContain(`${full}: QUEUE_FULL`);

    // A manage token for every queue but no topic sees the queues, not the topics.
    const queuesOnly = await post("/v1/tokens", { scopes: ["manage"], queues: ["*"] });
    const narrow = await call("GET", "/dashboard/view", undefined, { authorization: `Bearer ${queuesOnly.json.token}` });
    expect(narrow.status).toBe(200);
    expect(narrow.text).toContain(`data-queue="${full}"`);
    expect(narrow.text).not.toContain("data-topic=");
    const both = await post("/v1/tokens", { scopes: ["manage"], queues: ["*"], topics: ["*"] });
    const wide = await call("GET", "/dashboard/view", undefined, { authorization: `Bearer ${both.json.token}` });
    expect(wide.text).toContain(`data-topic="${t}"`);
    const metrics = await call("GET", "/metrics", undefined, { authorization: `Bearer ${queuesOnly.json.token}` });
    expect(metrics.status).toBe(200);
    expect(metrics.text).not.toContain(`topic="${t}"`);
    expect((await get("/metrics")).text).toContain(`edgeq_topic_pending{topic="${t}"} 2`);
  });

  it("deletes one dead letter by id, leaving the others", async () => {
    const q = uniqueQueue("dash");
    await deadLetter(q, "a", "boom");
    await deadLetter(q, "b", "boom");
    const listed = (await get(`/v1/queues/${q}/dead-letters`)).json.deadLetters;
    expect(listed).toHaveLength(2);
    const res = await call("DELETE", `/v1/queues/${q}/dead-letters?id=${listed[0].id}`);
    expect(res.json).toEqual({ deleted: 1 });
    const left = (await get(`/v1/queues/${q}/dead-letters`)).json.deadLetters;
    expect(left.map((d: { id: string }) => d.id)).toEqual([listed[1].id]);
  });
});
