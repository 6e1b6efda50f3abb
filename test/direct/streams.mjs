// Helpers for the direct tests of consume streams: edgeq in plain workerd (Miniflare), Node 22's
// WebSocket (what a browser has: no headers, the token as a subprotocol), and HTTP calls.
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

export const TOKEN = "direct-stream-admin-token";
export const SECRET = "direct-stream-token-secret";

const ROOT = new URL("../../", import.meta.url).pathname;

export async function startWorker() {
  const worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: SECRET } });
  const call = async (method, path, body, token = TOKEN) => {
    const res = await fetch(`${worker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const ok = async (method, path, body) => {
    const res = await call(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
    return res.json;
  };
  return {
    ...worker,
    call,
    ok,
    send: (queue, bodies, extra = {}) => ok("POST", `/v1/queues/${queue}/messages`, { messages: bodies.map((body) => ({ body, ...extra })) }),
    configure: (queue, config) => ok("PUT", `/v1/queues/${queue}`, config),
    stats: (queue) => ok("GET", `/v1/queues/${queue}/stats`),
    receive: (queue, body) => ok("POST", `/v1/queues/${queue}/messages/receive`, body).then((r) => r.messages),
    ack: (queue, receipts) => ok("POST", `/v1/queues/${queue}/messages/ack`, { receipts }),
    streamUrl: (queue, query = {}) => `${worker.url.replace(/^http/, "ws")}/v1/queues/${queue}/consume?${new URLSearchParams(query)}`,
  };
}

let counter = 0;
export const uniqueQueue = (prefix = "st") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `check()` holds, polling; fails after `timeoutMs` with `what`. */
export async function until(check, what = "condition", timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let nextId = 1;

/**
 * A stream over a real socket, opened as a browser opens it (the token as the subprotocol
 * `bearer.<token>`). Keeps every frame; resolves once welcomed, rejects if the upgrade fails.
 */
export function openStream(worker, queue, { token = TOKEN, protocols, ...query } = {}) {
  const ws = new WebSocket(worker.streamUrl(queue, query), protocols ?? ["edgeq.v1", `bearer.${token}`]);
  const s = {
    ws,
    frames: [],
    closed: null,
    messages: () => s.frames.flatMap((f) => (f.type === "messages" ? f.messages : [])),
    bodies: () => s.messages().map((m) => m.body),
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    async settle(type, receipts, extra = {}) {
      const id = nextId++;
      const from = s.frames.length;
      s.send({ type, id, receipts, ...extra });
      let answer;
      await until(() => (answer = s.frames.slice(from).find((f) => (f.type === "results" || f.type === "error") && f.id === id)), `the answer to ${type} ${id}`);
      if (answer.type === "error") throw new Error(`${type} refused: ${answer.code} ${answer.message}`);
      return answer.results;
    },
    close: () => ws.close(1000, "done"),
    /** Resolves once the socket has closed. */
    gone: () => until(() => s.closed !== null, "the socket to close"),
  };
  ws.addEventListener("message", (event) => {
    if (event.data !== "pong") s.frames.push(JSON.parse(event.data));
  });
  ws.addEventListener("close", (event) => (s.closed = { code: event.code, reason: event.reason }));
  return new Promise((resolve, reject) => {
    ws.addEventListener("error", () => reject(new Error("the upgrade failed")));
    until(() => s.frames[0]?.type === "welcome" || s.closed, "the welcome").then(
      () => (s.closed ? reject(new Error(`closed ${s.closed.code} before the welcome`)) : resolve(s)),
      reject,
    );
  });
}

/** The client (client/index.ts) bundled for Node, once per test file; answers the module's path. */
export async function bundleClient() {
  const dir = await mkdtemp(join(tmpdir(), "edgeq-client-"));
  const outfile = join(dir, "client.mjs");
  await build({ entryPoints: [join(ROOT, "client/index.ts")], outfile, bundle: true, format: "esm", platform: "neutral", logLevel: "error" });
  return { path: outfile, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A consumer in a process of its own (test/direct/consumer-process.mjs): its messages come over IPC
 * as `{ event, ... }`; `kill()` SIGKILLs it (its socket dies without a close frame).
 */
export function consumerProcess(args) {
  const child = fork(join(ROOT, "test/direct/consumer-process.mjs"), [JSON.stringify(args)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const events = [];
  child.on("message", (m) => events.push(m));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, events, exited, kill: () => child.kill("SIGKILL"), of: (event) => events.filter((e) => e.event === event) };
}
