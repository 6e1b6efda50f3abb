// The dashboard in a real browser: Chromium from npm (chromium.mjs) driven by
// playwright-core, against edgeq served locally (scripts/local-edgeq.mjs). Runs in
// Node, not workerd.
// The screenshot goes to test-results/dashboard.png (docs/dashboard.png is a
// copy of one, for the README).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.mjs";
import { apiOf } from "./pages.mjs";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "browser-test-admin-token";
const SCREENSHOT = new URL("../../test-results/dashboard.png", import.meta.url).pathname;

let worker;
let browser;
let context;

const api = apiOf(() => worker, TOKEN);

const send = (queue, n, make = (i) => ({ body: { order: i } })) =>
  api("POST", `/v1/queues/${queue}/messages`, { messages: Array.from({ length: n }, (_, i) => make(i)) });
const receive = async (queue, max) =>
  (await api("POST", `/v1/queues/${queue}/messages/receive`, { max, visibilityTimeoutMs: 60_000 })).messages;
const settle = (queue, verb, messages, extra = {}) =>
  api("POST", `/v1/queues/${queue}/messages/${verb}`, { receipts: messages.map((m) => m.receipt), ...extra });

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "browser-test-secret" } });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

describe("dashboard in Chromium", () => {
  it("asks for a token, shows the queues and charts, and redrives dead letters from the page", async () => {
    // Known traffic: orders has work in progress and 3 poison messages; emails is drained.
    await api("PUT", "/v1/queues/orders", { maxAttempts: 2 });
    await send("orders", 3, (i) => ({ body: { order: `poison-${i}` } }));
    for (let attempt = 0; attempt < 2; attempt++) {
      await settle("orders", "nack", await receive("orders", 3), { delayMs: 0, error: "payment gateway answered 503" });
    }
    await send("orders", 40);
    await settle("orders", "ack", await receive("orders", 18));
    const failing = await receive("orders", 4);
    await settle("orders", "nack", failing, { delayMs: 0, error: "inventory lock timeout" });
    await receive("orders", 6); // left in flight
    await send("emails", 12);
    await settle("emails", "ack", await receive("emails", 12));
    await send("thumbnails", 5, (i) => ({ body: { image: i }, delayMs: 120_000 }));

    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (err) => errors.push(err));

    // No token yet: the page asks for one; a wrong one is refused and not kept.
    await page.goto(`${worker.url}/dashboard`);
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#token", "not-the-token");
    await page.click("#login button[type=submit]");
    await expect.poll(() => page.textContent("#login-error")).toContain("not valid");
    expect(await page.evaluate(() => sessionStorage.getItem("edgeq.token"))).toBeNull();

    await page.fill("#token", TOKEN);
    await page.click("#login button[type=submit]");
    const orders = page.locator('#queues tr[data-queue="orders"]');
    await orders.waitFor();
    expect(await orders.locator('[data-field="depth"]').textContent()).toBe("22"); // 40 - 18 acked
    expect(await orders.locator('[data-field="inFlight"]').textContent()).toBe("6");
    expect(await orders.locator('[data-field="deadLetters"]').textContent()).toBe("3");
    expect(await orders.locator(".badge").first().textContent()).toBe("failing");
    expect(await page.locator('#queues tr[data-queue="emails"] .badge').first().textContent()).toBe("ok");

    // The token lives in this tab's session storage only.
    expect(await page.evaluate(() => sessionStorage.getItem("edgeq.token"))).toBe(TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await context.cookies()).toEqual([]);

    // Select orders (a navigation: the session keeps the token).
    await orders.locator("a").click();
    await page.locator('#detail[data-queue="orders"]').waitFor();
    // Totals and last values, not peaks: the traffic may straddle a minute.
    const series = (chart, name) => page.locator(`svg[data-chart="${chart}"] g[data-series="${name}"]`);
    expect(await series("depth", "messages").getAttribute("data-last")).toBe("22");
    expect(await series("depth", "messages").locator("polyline").count()).toBe(1);
    expect(await series("rates", "in").getAttribute("data-total")).toBe("43");
    expect(await series("rates", "out").getAttribute("data-total")).toBe("21"); // 18 acked, 3 dead
    expect(await series("retries", "retried").getAttribute("data-total")).toBe("7");
    expect(await series("retries", "retried").locator("rect").count()).toBeGreaterThan(0);
    expect(await series("dead-letters", "dead-lettered").getAttribute("data-total")).toBe("3");
    expect(await page.locator("#dead-letters tbody tr").count()).toBe(3);
    expect(await page.locator("#dead-letters td.error").first().textContent()).toBe("payment gateway answered 503");

    await mkdir(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Redrive from the page: the dead letters empty, here and in the API.
    await page.click('#detail h3 button[data-action="redrive"]');
    await page.locator("#no-dead-letters").waitFor();
    expect(await page.textContent("#notice")).toBe("redrive: done (3 redriven)");
    expect((await api("GET", "/v1/queues/orders/dead-letters")).deadLetters).toEqual([]);
    expect((await api("GET", "/v1/queues/orders/stats")).deadLetters).toBe(0);

    // Pause and resume from the page.
    await page.click('#detail button[data-action="pause"]');
    await page.locator('#detail .badge.paused').waitFor();
    expect((await api("GET", "/v1/queues/orders")).config.paused).toBe(true);
    await page.click('#detail button[data-action="resume"]');
    await page.locator('#detail button[data-action="pause"]').waitFor();
    expect((await api("GET", "/v1/queues/orders")).config.paused).toBe(false);

    // It refreshes by itself: new traffic shows up without a reload.
    await send("orders", 5);
    await expect.poll(() => orders.locator('[data-field="depth"]').textContent(), { timeout: 8_000, interval: 250 }).toBe("30");

    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
