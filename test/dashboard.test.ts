import { describe, expect, it, onTestFinished, vi } from "vitest";
import { call, get, post, receive, send, settle, uniqueQueue } from "./helpers";

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
