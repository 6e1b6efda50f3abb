// The long-poll consumer scenarios of long-poll.test.mjs against `npm start`
// (wrangler dev: a proxy workerd in front of the Worker's), on a free port
// with its state in a temporary directory: a consumer that leaves while it
// waits takes no message with it there too.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abortedFetchLeavesMessages, api, freePort, killedConsumerLeavesMessages, sleep, splitStreamed } from "./long-poll-consumers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TOKEN = "long-poll-wrangler-admin-token";
/** wrangler dev bundles the Worker and starts two workerd processes before it answers. */
const START_TIMEOUT_MS = 90_000;

let child;
let state;
let edgeq;

/** `node scripts/start.mjs` (what `npm start` runs after creating .dev.vars), in its own process group; answers its URL. */
async function startWranglerDev() {
  const port = await freePort();
  const inspectorPort = await freePort();
  state = await mkdtemp(join(tmpdir(), "edgeq-wrangler-"));
  child = spawn(
    process.execPath,
    [
      "scripts/start.mjs",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      state,
      "--inspector-port",
      String(inspectorPort),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      "--var",
      `EDGEQ_ADMIN_TOKEN:${TOKEN}`,
      "--var",
      "EDGEQ_TOKEN_SECRET:long-poll-wrangler-token-secret",
    ],
    { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    try {
      if ((await fetch(`${url}/`)).status === 200) return url;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`npm start did not answer within ${START_TIMEOUT_MS} ms:\n${output}`);
    await sleep(250);
  }
}

/** Stops what startWranglerDev started: SIGTERM (start.mjs hands it to wrangler), then the whole process group if it lingers. */
async function stopWranglerDev() {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!stopped) process.kill(-child.pid, "SIGKILL");
}

beforeAll(async () => {
  edgeq = api(await startWranglerDev(), TOKEN);
}, START_TIMEOUT_MS + 10_000);

afterAll(async () => {
  await stopWranglerDev();
  if (state) await rm(state, { recursive: true, force: true });
}, 30_000);

describe("under npm start (wrangler dev), a consumer that leaves while its long-poll waits", () => {
  it("an aborted fetch: a live consumer gets all ten messages enqueued after", async () => {
    await abortedFetchLeavesMessages(edgeq);
  });

  it("a killed consumer process: a live consumer gets all ten messages enqueued after", async () => {
    await killedConsumerLeavesMessages(edgeq);
  });

  it("the spaces pass the proxy as they are written", async () => {
    const queue = await edgeq.queue("lp-beat");
    const { status, chunks, text } = await edgeq.receiveRaw(queue, { waitMs: 1_600 });
    expect(status).toBe(200);
    expect(splitStreamed(text).json).toEqual({ messages: [] });
    const spaces = chunks.filter((c) => /^ +$/.test(c.text));
    expect(spaces.length).toBeGreaterThanOrEqual(3);
    expect(spaces.at(-1).atMs - spaces[0].atMs).toBeGreaterThan(500);
  });
});
