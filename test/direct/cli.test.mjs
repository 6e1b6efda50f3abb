// The edgeq CLI (bin/edgeq.mjs), run as a real process against edgeq in
// plain workerd: what it prints on stdout and stderr, and its exit codes
// (0 success, 1 an error answer or no answer, 2 a usage error).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

const BIN = fileURLToPath(new URL("../../bin/edgeq.mjs", import.meta.url));
const TOKEN = "cli-test-admin-token";
let worker;
let dir;

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "cli-test-token-secret" } });
  dir = await mkdtemp(join(tmpdir(), "edgeq-cli-"));
});

afterAll(async () => {
  await worker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let counter = 0;
const uniqueQueue = () => `cli-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** Starts the CLI with EDGEQ_URL and EDGEQ_TOKEN set (override with `env`). */
function start(args, { env = {} } = {}) {
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, EDGEQ_URL: worker.url, EDGEQ_TOKEN: TOKEN, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs the CLI to its end, `input` on its stdin (closed when none). Answers its exit code, stdout and stderr. */
function edgeq(args, { input, env } = {}) {
  const child = start(args, { env });
  return finished(child, input);
}

function finished(child, input) {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI with --json and answers its stdout parsed (one document), expecting exit 0. */
async function json(args, options) {
  const r = await edgeq([...args, "--json"], options);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** The JSON lines of a stdout. */
const jsonLines = (stdout) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

/** Collects `child`'s stdout lines as they come; `until(n)` resolves with the first `n` once there are as many. */
function lineReader(child) {
  let text = "";
  const waiters = [];
  const lines = () => text.split("\n").slice(0, -1).filter(Boolean);
  child.stdout.on("data", (d) => {
    text += d;
    for (const w of waiters.filter((w) => lines().length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(lines().slice(0, w.n));
    }
  });
  child.on("close", () => waiters.forEach((w) => w.reject(new Error(`exited after ${lines().length} of ${w.n} lines`))));
  return {
    until: (n) =>
      lines().length >= n ? Promise.resolve(lines().slice(0, n)) : new Promise((resolve, reject) => waiters.push({ n, resolve, reject })),
  };
}

const depthOf = async (queue) => (await json(["stats", queue])).depth;

describe("queues", () => {
  it("create, get, list, update, pause, resume, purge and delete a queue", async () => {
    const queue = uniqueQueue();
    const created = await edgeq(["queues", "create", queue, "--max-attempts", "3", "--max-depth", "500"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created ${queue}`);
    expect(created.stdout).toMatch(/maxAttempts\s*│\s*3/);

    const again = await edgeq(["queues", "create", queue, "--max-attempts", "9"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("CONFLICT");
    const info = await json(["queues", "get", queue]);
    expect(info.config).toMatchObject({ maxAttempts: 3, maxDepth: 500, paused: false });
    expect(info.stats).toMatchObject({ depth: 0, status: "ok" });

    const list = await json(["queues", "list", "--limit", "1000", "--no-stats"]);
    expect(list.queues.map((q) => q.name)).toContain(queue);
    const table = await edgeq(["queues", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(queue);

    const updated = await json(["queues", "update", queue, "--max-attempts", "7", "--max-depth", "none", "--visibility-timeout-ms", "5000"]);
    expect(updated.config).toMatchObject({ maxAttempts: 7, maxDepth: null, visibilityTimeoutMs: 5000 });

    // A value out of range is the server's error answer; nothing changes.
    const outOfRange = await edgeq(["queues", "update", queue, "--max-attempts", "5000"]);
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.stderr).toMatch(/INVALID_VALUE: maxAttempts/);
    expect((await json(["queues", "get", queue])).config.maxAttempts).toBe(7);

    expect((await json(["queues", "pause", queue])).config.paused).toBe(true);
    expect((await json(["queues", "get", queue])).config.paused).toBe(true);
    const resumed = await edgeq(["queues", "resume", queue]);
    expect(resumed).toMatchObject({ code: 0, stdout: `resumed ${queue}\n` });
    expect((await json(["queues", "get", queue])).config.paused).toBe(false);

    await json(["send", queue, "1"]);
    await json(["send", queue, "2", "--delay-ms", "60000"]);
    expect(await json(["queues", "purge", queue])).toEqual({ purged: 2 });

    const deleted = await edgeq(["queues", "delete", queue]);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${queue}\n` });
    const gone = await edgeq(["queues", "get", queue]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("QUEUE_NOT_FOUND");
  });

  it("sets push: the signing secret shown once on stderr, header values never; rotates it; turns push off", async () => {
    const queue = uniqueQueue();
    await json(["queues", "create", queue]);
    const set = await edgeq([
      "queues", "update", queue,
      "--push-url", "http://127.0.0.1:9/hooks",
      "--push-header", "Authorization: Bearer header-value-7",
      "--push-batch-size", "5",
      "--push-timeout-ms", "2000",
    ]);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/push\s*│\s*http:\/\/127\.0\.0\.1:9\/hooks, headers authorization; batches of 5, wait 0 ms, timeout 2000 ms/);
    const secret = /signing secret \(shown once, keep it with the endpoint\): (whsec_\S+)/.exec(set.stderr)?.[1];
    expect(secret).toBeTruthy();
    const shown = await edgeq(["queues", "get", queue]);
    expect(shown.stdout).toContain("headers authorization");
    expect(shown.stdout + shown.stderr).not.toContain("header-value-7");
    expect(shown.stdout + shown.stderr).not.toContain(secret);
    const rotated = await json(["queues", "rotate-secret", queue]);
    expect(rotated.push.signingSecret).toMatch(/^whsec_/);
    expect(rotated.push.signingSecret).not.toBe(secret);
    expect(rotated.push.previousExpiresAt).toBeGreaterThan(Date.now());
    const worker = await edgeq(["queues", "update", queue, "--push-service", "NO_SUCH_BINDING"]);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain("INVALID_VALUE: push.service");
    const off = await json(["queues", "update", queue, "--no-push"]);
    expect(off.config.push).toBeNull();
    expect(off.push).toBeUndefined();
    const refused = await edgeq(["queues", "rotate-secret", queue]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("CONFLICT");
  });

  it("update refuses a queue that does not exist and does not create it", async () => {
    const queue = uniqueQueue();
    const r = await edgeq(["queues", "update", queue, "--max-attempts", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`edgeq: QUEUE_NOT_FOUND: queue ${queue} does not exist`);
    expect((await edgeq(["queues", "get", queue])).code).toBe(1);
  });
});

describe("send, receive, ack, nack, peek", () => {
  it("sends one message from the argument or stdin, with its options", async () => {
    const queue = uniqueQueue();
    const one = await edgeq(["send", queue, '{"order": 42}', "--attr", "kind=paid", "--attr", "region=eu", "--dedup-id", "o-42", "--group", "g1"]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^sent [0-9a-f-]{36} \(seq 1\)\n$/);
    const dup = await json(["send", queue, '{"order": 42}', "--dedup-id", "o-42"]);
    expect(dup.messages[0]).toMatchObject({ seq: 1, duplicate: true });
    await json(["send", queue], { input: '{"from": "stdin"}\n' });
    await json(["send", queue, "--text"], { input: "plain text\n" });
    await json(["send", queue, "late", "--text", "--delay-ms", "60000"]);

    const page = await json(["peek", queue]);
    expect(page.messages.map((m) => [m.body, m.state])).toEqual([
      [{ order: 42 }, "ready"],
      [{ from: "stdin" }, "ready"],
      ["plain text", "ready"],
      ["late", "delayed"],
    ]);
    expect(page.messages[0]).toMatchObject({ attributes: { kind: "paid", region: "eu" }, groupId: "g1" });
    const table = await edgeq(["peek", queue]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("delayed");
    expect(table.stdout).toContain('{"from":"stdin"}');
  });

  it("sends a JSON-lines file of 250 in 3 batches of at most 100, and all arrive", async () => {
    const queue = uniqueQueue();
    const file = join(dir, "orders.jsonl");
    await writeFile(file, `${Array.from({ length: 250 }, (_, i) => JSON.stringify({ n: i })).join("\n")}\n`);
    const r = await edgeq(["send", queue, "--file", file, "--json"]);
    expect(r.code).toBe(0);
    const batches = jsonLines(r.stdout);
    expect(batches.map((b) => b.messages.length)).toEqual([100, 100, 50]);
    expect(new Set(batches.flatMap((b) => b.messages.map((m) => m.seq))).size).toBe(250);

    const bodies = [];
    for (;;) {
      const { messages } = await json(["receive", queue, "--max", "100", "--ack"]);
      if (messages.length === 0) break;
      bodies.push(...messages.map((m) => m.body.n));
    }
    expect(bodies.sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(await depthOf(queue)).toBe(0);
  });

  it("sends JSON lines from stdin with --lines, each with the flags' options", async () => {
    const queue = uniqueQueue();
    const input = Array.from({ length: 250 }, (_, i) => JSON.stringify(i)).join("\n");
    const r = await edgeq(["send", queue, "--lines", "--attr", "src=stdin"], { input });
    expect(r).toMatchObject({ code: 0, stdout: `sent 250 messages to ${queue} in 3 batches\n` });
    const page = await json(["peek", queue]);
    expect(page.messages).toHaveLength(100);
    expect(page.messages.every((m) => m.attributes.src === "stdin")).toBe(true);
    expect(await depthOf(queue)).toBe(250);
  });

  it("a file with a line that is not JSON is a usage error and sends nothing", async () => {
    const queue = uniqueQueue();
    const file = join(dir, "bad.jsonl");
    await writeFile(file, '{"ok": 1}\nnot json\n{"ok": 2}\n');
    const r = await edgeq(["send", queue, "--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("line 2 is not JSON");
    expect(r.stderr).toContain("Usage: edgeq send");
    expect((await edgeq(["stats", queue])).stderr).toContain("QUEUE_NOT_FOUND");
  });

  it("receives with receipts, then acks and nacks them; a stale receipt exits 1", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "1\n2\n3\n" });
    const human = await edgeq(["receive", queue, "--max", "1", "--visibility-timeout-ms", "60000"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^#1 {2}[0-9a-f-]{36} {2}attempts=1 {2}receipt=0\.1\.\S+ {2}1\n$/);
    const humanReceipt = /receipt=(\S+)/.exec(human.stdout)[1];

    const { messages } = await json(["receive", queue, "--max", "2"]);
    expect(messages.map((m) => m.body)).toEqual([2, 3]);
    const acked = await edgeq(["ack", queue, humanReceipt, messages[0].receipt]);
    expect(acked).toMatchObject({ code: 0, stdout: `acked ${humanReceipt}\nacked ${messages[0].receipt}\n` });
    expect(await json(["nack", queue, messages[1].receipt, "--delay-ms", "0", "--error", "try later"])).toEqual({
      results: [{ receipt: messages[1].receipt, ok: true }],
    });

    const stale = await edgeq(["ack", queue, humanReceipt]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`ack ${humanReceipt}: NOT_FOUND`);

    const again = await json(["peek", queue]);
    expect(again.messages).toMatchObject([{ body: 3, state: "ready", attempts: 1, lastError: "try later" }]);
    const [last] = (await json(["receive", queue, "--ack"])).messages;
    expect(last).toMatchObject({ body: 3, attempts: 2 });
    expect(await depthOf(queue)).toBe(0);
    const empty = await edgeq(["receive", queue]);
    expect(empty).toMatchObject({ code: 0, stdout: "", stderr: "no message ready\n" });
  });
});

describe("tail", () => {
  it("--ack prints messages as they arrive, acks them, and exits 0 on SIGINT", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "0\n1\n2\n" });
    const tail = start(["tail", queue, "--ack", "--json", "--max", "2"]);
    const reader = lineReader(tail);
    const done = finished(tail);
    await reader.until(3);
    await json(["send", queue, '"while tailing"']);
    await reader.until(4);
    tail.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(jsonLines(r.stdout).map((m) => m.body)).toEqual([0, 1, 2, "while tailing"]);
    const stats = await json(["stats", queue]);
    expect(stats.depth).toBe(0);
    expect(stats.totals.acked).toBe(4);
  });

  it("without --ack holds what it printed and gives it back, ready at once, when it stops", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "0\n1\n2\n" });
    const tail = start(["tail", queue, "--max", "1"]);
    const reader = lineReader(tail);
    const done = finished(tail);
    const lines = await reader.until(3);
    expect(lines.map((l) => l.split("  ").at(-1))).toEqual(["0", "1", "2"]);
    // Held while tail runs: no other consumer gets them.
    expect((await json(["receive", queue, "--max", "10"])).messages).toEqual([]);
    tail.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("released 3 held messages");
    const page = await json(["peek", queue]);
    expect(page.messages.map((m) => [m.body, m.state, m.attempts])).toEqual([
      [0, "ready", 1],
      [1, "ready", 1],
      [2, "ready", 1],
    ]);
  });

  it("--ack stops when its reader goes away, and releases what it could not print instead of acking it", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, '"seen"']);
    const tail = start(["tail", queue, "--ack", "--json", "--max", "1"]);
    const reader = lineReader(tail);
    const done = finished(tail);
    await reader.until(1);
    tail.stdout.destroy(); // as `| head -1` does
    await json(["send", queue, '"unseen"']);
    const r = await done;
    expect(r.code).toBe(0);
    expect((await json(["peek", queue])).messages.map((m) => [m.body, m.state])).toEqual([["unseen", "ready"]]);
    expect((await json(["stats", queue])).totals.acked).toBe(1);
  });

  it("--count stops after that many messages and acks them", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "0\n1\n2\n3\n" });
    const r = await edgeq(["tail", queue, "--ack", "--count", "3", "--json"]);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((m) => m.body)).toEqual([0, 1, 2]);
    expect((await json(["peek", queue])).messages.map((m) => [m.body, m.state])).toEqual([[3, "ready"]]);
  });
});

describe("stats", () => {
  it("answers the server's stats with --json, and a table without", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "1\n2\n3\n" });
    await json(["receive", queue, "--max", "2", "--ack"]);
    const stats = await json(["stats", queue]);
    expect(stats).toMatchObject({ ready: 1, inFlight: 0, depth: 1, status: "ok" });
    expect(stats.totals).toMatchObject({ enqueued: 3, delivered: 2, acked: 2 });
    expect(stats.minutes).toHaveLength(60);
    const sum = (field) => stats.minutes.reduce((n, m) => n + m[field], 0);
    expect([sum("enqueued"), sum("delivered"), sum("acked")]).toEqual([3, 2, 2]);
    expect(stats.minutes.at(-1).depth).toBe(1);
    const table = await edgeq(["stats", queue]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/depth\s*│ 1 \(ready 1, delayed 0, in flight 0\)/);
    expect(table.stdout).toContain("enqueued 3, delivered 2, acked 2");
  });

  it("--watch redraws with sparklines of the minutes, and --json streams one document per refresh", async () => {
    const queue = uniqueQueue();
    await json(["send", queue, "--lines"], { input: "1\n2\n" });
    const watch = start(["stats", queue, "--watch", "--interval", "1"]);
    const reader = lineReader(watch);
    const done = finished(watch);
    await reader.until(40);
    watch.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(0);
    const frames = r.stdout.split(`${queue} at `).slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    // The sends are the hour's only traffic: the depth is 0 up to their minute and 2 from it on (the
    // top tick), and "in" has one minute of 2 (its last or next to last, had a minute begun since).
    expect(frames[0]).toMatch(/depth\s*│ ▁+█{1,2} │ now 2, max 2/);
    expect(frames[0]).toMatch(/in \/ min\s*│ ▁+█▁? │ now [02], max 2/);
    expect(frames[0]).toMatch(/out \/ min\s*│ ▁{60} │ now 0, max 0/);

    const stream = start(["stats", queue, "--watch", "--interval", "1", "--json"]);
    const streamReader = lineReader(stream);
    const streamed = finished(stream);
    await streamReader.until(2);
    stream.kill("SIGINT");
    const s = await streamed;
    expect(s.code).toBe(0);
    const docs = jsonLines(s.stdout);
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const doc of docs) expect(doc).toMatchObject({ depth: 2, ready: 2 });
  });
});

describe("dead letters", () => {
  it("lists real dead letters, redrives one and deletes the rest", async () => {
    const queue = uniqueQueue();
    await json(["queues", "create", queue, "--max-attempts", "1"]);
    await json(["send", queue, "--lines"], { input: '{"p": 1}\n{"p": 2}\n' });
    const { messages } = await json(["receive", queue, "--max", "2"]);
    await json(["nack", queue, messages[0].receipt, "--error", "payment declined"]);
    await json(["nack", queue, messages[1].receipt]);

    const page = await json(["dlq", "list", queue]);
    expect(page.cursor).toBeNull();
    expect(page.deadLetters.map((d) => [d.body, d.reason, d.attempts, d.lastError])).toEqual([
      [{ p: 1 }, "max_attempts", 1, "payment declined"],
      [{ p: 2 }, "max_attempts", 1, null],
    ]);
    const table = await edgeq(["dlq", "list", queue]);
    expect(table.stdout).toContain("payment declined");

    expect(await json(["dlq", "redrive", queue, page.deadLetters[0].id])).toEqual({ redriven: 1, remaining: 0 });
    expect((await json(["peek", queue])).messages).toMatchObject([{ body: { p: 1 }, state: "ready", attempts: 0 }]);

    const unnamed = await edgeq(["dlq", "delete", queue]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain("name the dead letters to delete, or give --all");
    expect((await json(["dlq", "list", queue])).deadLetters).toHaveLength(1);

    expect(await json(["dlq", "delete", queue, "--all"])).toEqual({ deleted: 1 });
    expect((await json(["dlq", "list", queue])).deadLetters).toEqual([]);
    // The redriven message was not touched.
    expect(await depthOf(queue)).toBe(1);
  });
});

describe("tokens", () => {
  it("mints a scoped token that works for its scope and is refused beyond it", async () => {
    const queue = uniqueQueue();
    const minted = await edgeq(["tokens", "mint", "--scopes", "publish", "--queues", queue, "--ttl", "5m"]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    expect(minted.stderr).toMatch(/^expires \d{4}-/);

    const sent = await edgeq(["send", queue, '"with a minted token"'], { env: { EDGEQ_TOKEN: token } });
    expect(sent.code).toBe(0);
    const peek = await edgeq(["peek", queue, "--token", token]);
    expect(peek.code).toBe(1);
    expect(peek.stderr).toContain("edgeq: FORBIDDEN:");
    expect((await json(["peek", queue])).messages.map((m) => m.body)).toEqual(["with a minted token"]);

    const before = Date.now();
    const doc = await json(["tokens", "mint", "--scopes", "consume,manage", "--queues", `${queue},other-*`, "--ttl", "300"]);
    expect(doc.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 299_000);
    expect(doc.expiresAt).toBeLessThanOrEqual(Date.now() + 301_000);
  });
});

describe("topics", () => {
  it("creates a topic with filtered subscriptions, publishes through it, and shows its stats", async () => {
    const topic = uniqueQueue();
    const [payments, emails] = [`${topic}-pay`, `${topic}-mail`];
    const created = await json(["topics", "create", topic, "--subscribe", payments, "--subscribe", emails, "--filter", `${emails}:kind=paid,refunded`]);
    expect(created.config.subscriptions).toEqual([{ queue: payments }, { queue: emails, filter: { kind: ["paid", "refunded"] } }]);
    expect((await edgeq(["topics", "create", topic])).code).toBe(1); // exists: never changed
    expect((await edgeq(["topics", "publish", topic, '{"order":1}', "--attr", "kind=paid"])).code).toBe(0);
    expect((await edgeq(["topics", "publish", topic, '{"order":2}', "--attr", "kind=created"])).code).toBe(0);
    // The fan-out is the topic's alarm: each queue gets its copies soon.
    const depth = async (q) => (await json(["stats", q])).depth;
    for (let i = 0; i < 50 && ((await depth(payments)) < 2 || (await depth(emails)) < 1); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await depth(payments)).toBe(2);
    expect(await depth(emails)).toBe(1);
    const stats = await json(["topics", "stats", topic]);
    expect(stats).toMatchObject({ published: 2, pending: 0 });
    expect(stats.subscriptions.find((x) => x.queue === emails)).toMatchObject({ delivered: 1, filtered: 1 });
    const table = await edgeq(["topics", "get", topic]);
    expect(table.stdout).toContain("kind=paid|refunded");
    expect((await json(["topics", "list"])).topics.map((t) => t.name)).toContain(topic);
    expect((await json(["topics", "update", topic, "--no-subscriptions"])).config.subscriptions).toEqual([]);
    expect((await edgeq(["topics", "delete", topic])).code).toBe(0);
    const gone = await edgeq(["topics", "get", topic]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("TOPIC_NOT_FOUND");
  });

  it("a filter without its --subscribe is a usage error and creates nothing", async () => {
    const topic = uniqueQueue();
    const r = await edgeq(["topics", "create", topic, "--subscribe", "a", "--filter", "b:kind=x"]);
    expect(r.code).toBe(2);
    expect((await edgeq(["topics", "get", topic])).code).toBe(1);
  });
});

describe("errors and exit codes", () => {
  it("an error answer exits 1 with the server's code and message on stderr", async () => {
    const bad = await edgeq(["stats", uniqueQueue()], { env: { EDGEQ_TOKEN: "not-a-token" } });
    expect(bad).toMatchObject({ code: 1, stdout: "" });
    expect(bad.stderr).toMatch(/^edgeq: UNAUTHORIZED: /);
    const none = await edgeq(["stats", uniqueQueue()], { env: { EDGEQ_TOKEN: "" } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("set EDGEQ_TOKEN or --token");
    const missing = await edgeq(["stats", uniqueQueue(), "--json"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^edgeq: QUEUE_NOT_FOUND: queue cli-\S+ does not exist\n$/);
  });

  it("no answer at all exits 1 with a clear message", async () => {
    const port = await new Promise((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    const r = await edgeq(["queues", "list", "--url", `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`edgeq: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it("usage errors exit 2 with the usage, and change nothing", async () => {
    const queue = uniqueQueue();
    const cases = [
      [["frobnicate"], "unknown command 'frobnicate'"],
      [["stats"], "missing required argument 'queue'"],
      [["stats", queue, "--bogus"], "unknown option '--bogus'"],
      [["receive", queue, "--max", "many"], "expected a whole number"],
      [["send", queue, "not json"], "BODY is not JSON"],
      [["send", queue, "1", "--attr", "novalue"], "expected name=value"],
      [["send", queue, "--lines", "--dedup-id", "x"], "--dedup-id names one message"],
      [["queues", "update", queue], "give at least one setting"],
      [["queues", "update", queue, "--push-batch-size", "5"], "give --push-url or --push-service"],
      [["queues", "update", queue, "--push-url", "https://a.test", "--push-service", "X"], "give --push-url or --push-service"],
      [["queues", "update", queue, "--push-service", "X", "--push-header", "a: b"], "--push-header goes with --push-url"],
      [["queues", "update", queue, "--no-push", "--push-url", "https://a.test"], "--no-push takes no other"],
      [["queues", "update", queue, "--push-url", "https://a.test", "--push-header", "nocolon"], 'expected "Name: value"'],
      [["tokens", "mint", "--queues", queue], "required option '--scopes <list>'"],
      [["queues", "list", "--url", "not a url"], "expected an http(s) URL"],
      [[], "Usage: edgeq"],
    ];
    for (const [args, message] of cases) {
      const r = await edgeq(args, { input: "" });
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain("Usage: edgeq");
      expect(r.stdout).toBe("");
    }
    expect((await edgeq(["stats", queue])).stderr).toContain("QUEUE_NOT_FOUND");
    const help = await edgeq(["send", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: edgeq send [options] <queue> [body]");
  });
});

describe("on a terminal", () => {
  // `script` (util-linux) runs the CLI on a pseudo-terminal, where the progress bar is drawn.
  it.skipIf(!existsSync("/usr/bin/script"))("send --file draws a progress bar up to the total", async () => {
    const queue = uniqueQueue();
    const file = join(dir, "progress.jsonl");
    await writeFile(file, Array.from({ length: 250 }, (_, i) => String(i)).join("\n"));
    const command = [process.execPath, BIN, "send", queue, "--file", file].map((a) => `'${a}'`).join(" ");
    const child = spawn("/usr/bin/script", ["-qec", command, "/dev/null"], {
      env: { ...process.env, EDGEQ_URL: worker.url, EDGEQ_TOKEN: TOKEN },
    });
    const r = await finished(child);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("250/250 messages");
    expect(r.stdout).toContain(`sent 250 messages to ${queue} in 3 batches`);
    expect(await depthOf(queue)).toBe(250);
  });
});
