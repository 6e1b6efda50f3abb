// Builds the worker and runs bench/server.mjs as a child process; shared by
// the bench (run.mjs) and the crash test (crash.mjs).
import { execFileSync, fork } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { request, resetConnections } from "./http.mjs";

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ADMIN_TOKEN = "bench-admin-token";
export const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

export const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  X_LOCAL_OBSERVABILITY: "false",
};

/**
 * `wrangler deploy --dry-run` of the Worker with the metered partition
 * (bench/metered-worker.ts, which W7 reads) into a temp dir; returns the
 * bundle's path.
 */
export function buildWorker() {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "edgeq-build-"));
  execFileSync("npx", ["wrangler", "deploy", "bench/metered-worker.ts", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, ...OFFLINE_ENV },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return path.join(outdir, "metered-worker.js");
}

export const tempDir = (prefix) => mkdtempSync(path.join(os.tmpdir(), prefix));

/**
 * Starts server.mjs (Miniflare + workerd) on `persist`. With `detached`, the
 * child leads its own process group, so that the crash test can SIGKILL the
 * Node process and its workerd together.
 */
export function startServer({ bundle, persist, limits = false, detached = false, timeoutMs = 60_000, inspectorPort }) {
  return new Promise((resolve, reject) => {
    const child = fork(
      path.join(ROOT, "bench", "server.mjs"),
      [JSON.stringify({ bundle, persist, limits, adminToken: ADMIN_TOKEN, inspectorPort })],
      { detached, stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, ...OFFLINE_ENV } },
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("server did not start in time"));
    }, timeoutMs);
    const pending = new Map();
    let nextId = 1;
    child.on("message", (m) => {
      if (m.ready) {
        clearTimeout(timer);
        resolve({
          child,
          url: m.url.replace(/\/$/, ""),
          limitsUrl: m.limitsUrl?.replace(/\/$/, "") ?? null,
          /** A partition's meter (bench-only RPC, through Miniflare). */
          meter: (queue, partition = 0) =>
            new Promise((res, rej) => {
              const id = nextId++;
              pending.set(id, { res, rej });
              child.send({ id, op: "meter", name: `${queue}/${partition}` });
            }),
        });
      } else if (m.id && pending.has(m.id)) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        m.error ? p.rej(new Error(m.error)) : p.res(m.result);
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      for (const p of pending.values()) p.rej(new Error("server exited"));
      pending.clear();
      reject(new Error(`server exited (${code ?? signal}) before it was ready`));
    });
  });
}

export async function stopServer(server) {
  resetConnections();
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.send("stop");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Versions for the report. */
export function versions() {
  const pkg = (name) => JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  let workerd = "?";
  try {
    workerd = pkg("workerd");
  } catch {}
  return { node: process.version, workerd, miniflare: pkg("miniflare"), wrangler: pkg("wrangler") };
}

export const api = (server) => ({
  send: (queue, body) => request("POST", `${server.url}/v1/queues/${queue}/messages`, { body, headers: AUTH }),
  receive: (queue, body) => request("POST", `${server.url}/v1/queues/${queue}/messages/receive`, { body, headers: AUTH, timeoutMs: 60_000 }),
  ack: (queue, receipts) => request("POST", `${server.url}/v1/queues/${queue}/messages/ack`, { body: { receipts }, headers: AUTH }),
  nack: (queue, receipts, extra = {}) =>
    request("POST", `${server.url}/v1/queues/${queue}/messages/nack`, { body: { receipts, ...extra }, headers: AUTH }),
  stats: (queue) => request("GET", `${server.url}/v1/queues/${queue}/stats`, { headers: AUTH }),
  configure: (queue, config) => request("PUT", `${server.url}/v1/queues/${queue}`, { body: config, headers: AUTH }),
  getQueue: (queue) => request("GET", `${server.url}/v1/queues/${queue}`, { headers: AUTH }),
  deadLetters: (queue, cursor) =>
    request("GET", `${server.url}/v1/queues/${queue}/dead-letters?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { headers: AUTH }),
});

/**
 * CPU time (user + system, ms) that the server's workerd process has used,
 * read from /proc; null where there is no /proc or no workerd under the
 * server (W4's CPU per message, W9). Clock ticks are taken as getconf's.
 */
export function workerdCpuMs(server) {
  try {
    server.workerdPid ??= findWorkerd(server.child.pid);
    server.clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
    const fields = readFileSync(`/proc/${server.workerdPid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / server.clockTicks;
  } catch {
    return null;
  }
}

function findWorkerd(pid) {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,comm="])
    .toString()
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/));
  const stack = [String(pid)];
  while (stack.length > 0) {
    const parent = stack.pop();
    for (const [child, ppid, comm] of rows) {
      if (ppid !== parent) continue;
      if (comm.startsWith("workerd")) return Number(child);
      stack.push(child);
    }
  }
  throw new Error("no workerd process under the server");
}
