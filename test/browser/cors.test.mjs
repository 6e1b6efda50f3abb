// CORS as Chromium enforces it (web security on, see chromium.mjs): a page
// from an origin on EDGEQ_CORS_ORIGINS enqueues with a publish token; a page
// from any other origin is stopped by the browser at the preflight, so its
// message never reaches the queue. The two pages come from two loopback
// servers on ports of their own, so their origins differ from each other and
// from edgeq's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.mjs";
import { apiOf, pageServer } from "./pages.mjs";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "browser-cors-admin-token";
const QUEUE = "signups";

let allowed;
let other;
let worker;
let browser;

const api = apiOf(() => worker, TOKEN);

/** Opens the page of `origin` and enqueues `body` from it with fetch; answers what the page saw. */
async function enqueueFrom(origin, token, body) {
  const page = await browser.newPage();
  const console = [];
  page.on("console", (message) => console.push(message.text()));
  await page.goto(`${origin}/`);
  expect(await page.evaluate(() => location.origin)).toBe(origin);
  const seen = await page.evaluate(
    async ({ url, token, body }) => {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ body }),
        });
        return { status: res.status, json: await res.json() };
      } catch (err) {
        return { rejected: `${err.name}: ${err.message}` };
      }
    },
    { url: `${worker.url}/v1/queues/${QUEUE}/messages`, token, body },
  );
  await page.close();
  return { ...seen, console };
}

beforeAll(async () => {
  [allowed, other] = await Promise.all([pageServer("producer"), pageServer("producer")]);
  worker = await startLocalWorker({
    bindings: {
      EDGEQ_ADMIN_TOKEN: TOKEN,
      EDGEQ_TOKEN_SECRET: "browser-cors-secret",
      // A trailing slash and a second entry, as an operator might write it.
      EDGEQ_CORS_ORIGINS: `https://app.example, ${allowed.origin}/`,
    },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  for (const page of [allowed, other]) page?.server.close();
});

describe("CORS in Chromium", () => {
  it("lets a listed origin enqueue with a publish token and blocks any other in the browser", async () => {
    expect(new Set([allowed.origin, other.origin, new URL(worker.url).origin]).size).toBe(3);
    await api("PUT", `/v1/queues/${QUEUE}`, {});
    const { token } = await api("POST", "/v1/tokens", { scopes: ["publish"], queues: [QUEUE], expiresInSeconds: 300 });

    const blocked = await enqueueFrom(other.origin, token, { from: "other" });
    expect(blocked.rejected).toBe("TypeError: Failed to fetch");
    expect(blocked.console.some((line) => line.includes("blocked by CORS policy"))).toBe(true);

    const sent = await enqueueFrom(allowed.origin, token, { from: "allowed" });
    expect(sent.rejected).toBeUndefined();
    expect(sent.status).toBe(201);
    expect(sent.console).toEqual([]);

    // Only the listed origin's message was stored.
    const { messages } = await api("POST", `/v1/queues/${QUEUE}/messages/receive`, { max: 10, visibilityTimeoutMs: 60_000 });
    expect(messages.map((m) => m.body)).toEqual([{ from: "allowed" }]);
    expect(messages[0].id).toBe(sent.json.messages[0].id);
  }, 60_000);
});
