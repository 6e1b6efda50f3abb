// Long-poll receives over real sockets, against edgeq in plain workerd
// (Miniflare): a consumer that leaves while it waits (an aborted fetch, a
// killed process) takes no message with it, and a receive that waits
// streams its answer: spaces while it waits, then the JSON answer or the
// error body (docs/long-poll.md), which the client and the CLI turn into
// their typed errors.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, QueueError } from "../../client/index.ts";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";
import { abortedFetchLeavesMessages, api, killedConsumerLeavesMessages, sleep, splitStreamed } from "./long-poll-consumers.mjs";

const TOKEN = "long-poll-test-admin-token";
const BIN = fileURLToPath(new URL("../../bin/edgeq.mjs", import.meta.url));

/** The edgeq CLI in a process of its own: its exit code and stderr. */
function edgeqCli(args) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}
let worker;
let edgeq;

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "long-poll-test-token-secret" } });
  edgeq = api(worker.url, TOKEN);
});

afterAll(async () => {
  await worker?.stop();
});

describe("a consumer that leaves while its long-poll waits", () => {
  it("an aborted fetch: a live consumer gets all ten messages enqueued after", async () => {
    await abortedFetchLeavesMessages(edgeq);
  });

  it("a killed consumer process: a live consumer gets all ten messages enqueued after", async () => {
    await killedConsumerLeavesMessages(edgeq);
  });
});

describe("the streamed answer of a long-poll", () => {
  it("a receive that finds a message ready answers plainly, at once", async () => {
    const queue = await edgeq.queue("lp-ready");
    await edgeq.send(queue, ["ready"]);
    const { status, chunks, text } = await edgeq.receiveRaw(queue, { waitMs: 10_000 });
    expect(status).toBe(200);
    expect(text.startsWith("{")).toBe(true);
    expect(JSON.parse(text).messages.map((m) => m.body)).toEqual(["ready"]);
    expect(chunks.at(-1).atMs).toBeLessThan(1_000);
  });

  it("spaces keep arriving while it waits, then the JSON answer", async () => {
    const queue = await edgeq.queue("lp-beat");
    const { status, headers, chunks, text } = await edgeq.receiveRaw(queue, { waitMs: 1_600 });
    expect(status).toBe(200);
    expect(headers.get("content-type")).toContain("application/json");
    const { leading, json } = splitStreamed(text);
    expect(json).toEqual({ messages: [] });
    expect(leading).toMatch(/^ +$/);
    // One space about every 250 ms, from the first 250 ms of the wait on, not all at the end.
    const spaces = chunks.filter((c) => /^ +$/.test(c.text));
    expect(leading.length).toBeGreaterThanOrEqual(4);
    expect(spaces[0].atMs).toBeLessThan(900);
    expect(spaces.at(-1).atMs).toBeGreaterThan(1_100);
    expect(spaces.at(-1).atMs - spaces[0].atMs).toBeGreaterThan(500);
  });

  it("a long-poll answered by a push after streaming began parses as before, and its messages arrive", async () => {
    const queue = await edgeq.queue("lp-push");
    const waiting = edgeq.receiveRaw(queue, { max: 5, waitMs: 10_000, visibilityTimeoutMs: 45_000 });
    await sleep(800);
    expect((await edgeq.send(queue, ["a", "b"])).status).toBe(201);
    const { status, text } = await waiting;
    expect(status).toBe(200);
    const { leading, json } = splitStreamed(text);
    expect(leading.length).toBeGreaterThanOrEqual(1);
    expect(json.messages.map((m) => [m.body, m.attempts])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(await edgeq.stats(queue)).toMatchObject({ ready: 0, inFlight: 2 });
    const acked = await edgeq.call("POST", `/v1/queues/${queue}/messages/ack`, { receipts: json.messages.map((m) => m.receipt) });
    expect(acked.json.results.map((r) => r.ok)).toEqual([true, true]);
    // And through res.json(), as clients read it.
    const again = edgeq.receive(queue, { waitMs: 10_000 });
    await sleep(800);
    await edgeq.send(queue, ["c"]);
    const { json: parsed } = await again;
    expect(parsed.messages.map((m) => m.body)).toEqual(["c"]);
  });

  it("acks carried on a long-poll come back with its streamed answer", async () => {
    const queue = await edgeq.queue("lp-ack");
    await edgeq.send(queue, ["first"]);
    const [first] = (await edgeq.receive(queue, {})).json.messages;
    const waiting = edgeq.receiveRaw(queue, { waitMs: 10_000, ack: [first.receipt] });
    await sleep(800);
    await edgeq.send(queue, ["second"]);
    const { json } = splitStreamed((await waiting).text);
    expect(json.ackResults).toEqual([{ receipt: first.receipt, ok: true }]);
    expect(json.messages.map((m) => m.body)).toEqual(["second"]);
  });

  it("a queue deleted during the wait: 200, the spaces, then the error body; the client and the CLI throw its code", async () => {
    const queue = await edgeq.queue("lp-deleted");
    // The CLI first: its process takes the longest to start.
    const cli = edgeqCli(["receive", queue, "--wait-ms", "10000", "--url", worker.url, "--token", TOKEN]);
    const waiting = edgeq.receiveRaw(queue, { waitMs: 10_000 });
    const client = createClient({ url: worker.url, token: TOKEN }).queue(queue);
    const clientWaiting = client.receive({ waitMs: 10_000 }).then(
      () => null,
      (err) => err,
    );
    await sleep(1_500);
    expect((await edgeq.call("DELETE", `/v1/queues/${queue}`)).status).toBeLessThan(300);
    const { status, text } = await waiting;
    expect(status).toBe(200);
    const { leading, json } = splitStreamed(text);
    expect(leading).toMatch(/^ +$/);
    expect(json).toEqual({ error: { code: "QUEUE_NOT_FOUND", message: "the queue was deleted while this receive waited" } });
    const err = await clientWaiting;
    expect(err).toBeInstanceOf(QueueError);
    expect(err).toMatchObject({ code: "QUEUE_NOT_FOUND", status: 404 });
    const { code, stderr } = await cli;
    expect(code).toBe(1);
    expect(stderr).toContain("edgeq: QUEUE_NOT_FOUND: the queue was deleted while this receive waited");
  });

  it("errors found before the wait keep their status", async () => {
    const queue = await edgeq.queue("lp-before");
    const badReceipt = await edgeq.receive(queue, { waitMs: 5_000, ack: ["not-a-receipt"] });
    expect(badReceipt.status).toBeGreaterThanOrEqual(400);
    expect(badReceipt.status).toBeLessThan(500);
    expect(badReceipt.json.error.code).toMatch(/^INVALID_/);
    const badWait = await edgeq.receive(queue, { waitMs: 60_000 });
    expect(badWait.status).toBe(422);
    const noToken = await fetch(`${worker.url}/v1/queues/${queue}/messages/receive`, { method: "POST", body: "{}" });
    expect(noToken.status).toBe(401);
  });
});
