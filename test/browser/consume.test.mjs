// Consume streams in Chromium: a page can set no header on a WebSocket, so it passes a scoped
// consume token as the subprotocol `bearer.<token>`. A page of an origin on EDGEQ_CORS_ORIGINS
// consumes (by hand, and with the client's consume()); a page of any other origin is refused at
// the upgrade and takes no lease. Pages come from loopback servers on ports of their own.
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.mjs";
import { apiOf, pageServer } from "./pages.mjs";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const TOKEN = "browser-consume-admin-token";
const ROOT = new URL("../../", import.meta.url).pathname;

let allowed;
let other;
let worker;
let browser;
let clientScript;

const api = apiOf(() => worker, TOKEN);

const consumeToken = async (queue) => (await api("POST", "/v1/tokens", { scopes: ["consume"], queues: [queue], expiresInSeconds: 300 })).token;

/** In the page of `origin`: a stream opened by hand; the first push is acked, and what the page saw comes back. */
async function consumeByHand(origin, queue, token) {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const seen = await page.evaluate(
    ({ url, token }) =>
      new Promise((resolve) => {
        const frames = [];
        const ws = new WebSocket(url, ["edgeq.v1", `bearer.${token}`]);
        const done = (extra) => (ws.close(), resolve({ protocol: ws.protocol, frames, ...extra }));
        setTimeout(() => done({ timedOut: true }), 5_000);
        ws.onerror = () => done({ failed: true });
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          frames.push(frame);
          if (frame.type === "messages") ws.send(JSON.stringify({ type: "ack", id: 1, receipts: frame.messages.map((m) => m.receipt) }));
          if (frame.type === "results") done({});
        };
      }),
    { url: `${worker.url.replace(/^http/, "ws")}/v1/queues/${queue}/consume?prefetch=5`, token },
  );
  await page.close();
  return seen;
}

beforeAll(async () => {
  [allowed, other] = await Promise.all([pageServer("consumer"), pageServer("consumer")]);
  worker = await startLocalWorker({
    bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "browser-consume-secret", EDGEQ_CORS_ORIGINS: allowed.origin },
  });
  // The client as a page would load it: one script that sets `edgeq`.
  const bundled = await build({ entryPoints: [join(ROOT, "client/index.ts")], bundle: true, format: "iife", globalName: "edgeq", write: false, logLevel: "error" });
  clientScript = bundled.outputFiles[0].text;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  for (const page of [allowed, other]) page?.server.close();
});

describe("consume streams in Chromium", () => {
  it("a listed origin consumes with a token in the subprotocol; any other is refused at the upgrade", async () => {
    const queue = `browser-${Date.now().toString(36)}`;
    await api("POST", `/v1/queues/${queue}/messages`, { body: { order: 1 } });
    const token = await consumeToken(queue);

    const refused = await consumeByHand(other.origin, queue, token);
    expect(refused.failed).toBe(true);
    expect(refused.frames).toEqual([]);
    expect((await api("GET", `/v1/queues/${queue}/stats`)).inFlight).toBe(0);

    const consumed = await consumeByHand(allowed.origin, queue, token);
    expect(consumed.protocol).toBe("edgeq.v1");
    expect(consumed.frames.map((f) => f.type)).toEqual(["welcome", "messages", "results"]);
    expect(consumed.frames[1].messages.map((m) => m.body)).toEqual([{ order: 1 }]);
    expect(consumed.frames[2].results.map((r) => r.ok)).toEqual([true]);
    expect(await api("GET", `/v1/queues/${queue}/stats`)).toMatchObject({ ready: 0, inFlight: 0, deadLetters: 0 });
  }, 60_000);

  it("the client's consume() streams in the page and stops cleanly when aborted", async () => {
    const queue = `browser-client-${Date.now().toString(36)}`;
    await api("POST", `/v1/queues/${queue}/messages`, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const token = await consumeToken(queue);
    const page = await browser.newPage();
    await page.goto(`${allowed.origin}/`);
    await page.addScriptTag({ content: clientScript });
    const handled = await page.evaluate(
      async ({ url, token, queue }) => {
        const got = [];
        const stop = new AbortController();
        await edgeq
          .createClient({ url, token })
          .queue(queue)
          .consume(
            async (m) => {
              got.push({ body: m.body, receipt: m.receipt });
              if (got.length === 3) stop.abort();
            },
            { signal: stop.signal },
          );
        return got;
      },
      { url: worker.url, token, queue },
    );
    await page.close();
    expect(handled.map((m) => m.body)).toEqual([1, 2, 3]);
    // Stream receipts: the token starts with the stream's owner id (34 characters; a receive's has 22).
    expect(handled.every((m) => m.receipt.split(".")[2].length === 34)).toBe(true);
    expect(await api("GET", `/v1/queues/${queue}/stats`)).toMatchObject({ ready: 0, inFlight: 0 });
  }, 60_000);
});
