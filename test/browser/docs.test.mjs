// The API reference page (GET /docs) in a real browser: the Chromium that
// npm installs (chromium.mjs), against edgeq served locally
// (scripts/local-edgeq.mjs). Swagger UI must run under the page's
// Content-Security-Policy, load nothing from another origin, and show every
// operation of the document. The screenshot goes to test-results/docs.png.
import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.mjs";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "browser-docs-admin-token";
const SCREENSHOT = new URL("../../test-results/docs.png", import.meta.url).pathname;

let worker;
let browser;
let context;

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN } });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

describe("API reference in Chromium", () => {
  it("renders every operation offline, within its Content-Security-Policy", async () => {
    const doc = await (await fetch(`${worker.url}/openapi.json`)).json();
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);

    const page = await context.newPage();
    const errors = [];
    const elsewhere = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    // Anything for another origin is refused, as it would be offline, and recorded.
    const origin = new URL(worker.url).origin;
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === origin || url.protocol === "data:") return route.continue();
      elsewhere.push(url.href);
      return route.abort();
    });

    await page.goto(`${worker.url}/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    expect(await page.locator(".opblock").count()).toBe(operations);
    await expect(page.locator(".info .title").innerText()).resolves.toContain("edgeq");

    // Open the enqueue operation: its request schema and error codes are shown.
    await page.locator("#operations-Messages-enqueue").click();
    const enqueue = page.locator("#operations-Messages-enqueue");
    await enqueue.locator(".responses-table").waitFor();
    const text = await enqueue.innerText();
    for (const shown of ["201", "QUEUE_FULL", "INVALID_VALUE", "429"]) expect(text).toContain(shown);

    await mkdir(new URL(".", `file://${SCREENSHOT}`).pathname, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
