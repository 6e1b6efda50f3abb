// A small keep-alive HTTP client and bounded load loops for the bench and
// the crash test. Traffic goes to 127.0.0.1 only.
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

/**
 * One request; resolves { status, text, ms } and never rejects (a network
 * error is status 0), so that load loops and the crash test can count it.
 */
export function request(method, url, { body, headers = {}, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const u = new URL(url);
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost") throw new Error(`refusing non-local URL ${url}`);
    const req = http.request(
      {
        agent,
        method,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers: {
          ...headers,
          ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }),
        );
        res.on("error", (err) => resolve({ status: 0, text: String(err), ms: performance.now() - started }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, text: String(err), ms: performance.now() - started }));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Closes idle keep-alive sockets (after the server went away). */
export const resetConnections = () => agent.destroy();

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const median = (xs) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/**
 * `concurrency` workers each run `step(i)` back to back until `durationMs`
 * has passed or `maxSteps` steps were started. `step` resolves the number of
 * units it moved (messages, requests) or throws to stop the loop.
 * Resolves { units, steps, seconds, perSec, p50, p99, latencies }.
 */
export async function closedLoop({ concurrency, durationMs, maxSteps = Infinity, warmupMs = 0, step }) {
  let started = 0;
  const deadline = performance.now() + warmupMs + durationMs;
  if (warmupMs > 0) {
    const warmEnd = performance.now() + warmupMs;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < warmEnd) await step(-1);
      }),
    );
  }
  const t0 = performance.now();
  let units = 0;
  const latencies = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && started < maxSteps) {
        const i = started++;
        const s = performance.now();
        const moved = await step(i); // not `units += await ...`: that reads units before the await
        units += moved;
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    units,
    steps: latencies.length,
    seconds,
    perSec: units / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
  };
}

/**
 * Starts `step(i)` on a fixed schedule, `rate` per second for `durationMs`
 * (open loop: on time whatever the answers, as W4's producers do), and
 * waits for every step. Resolves { steps, seconds, perSec, p50, p95, p99 }
 * of each step's time from its start to its end. A step that throws stops
 * the schedule; the loop then rejects with its error once the others end.
 */
export async function openLoop({ rate, durationMs, step }) {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const latencies = [];
  const running = [];
  let failed = null;
  const t0 = performance.now();
  for (let i = 0; i < total && !failed; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const s = performance.now();
    running.push(
      step(i).then(
        () => latencies.push(performance.now() - s),
        (err) => (failed ??= { err }),
      ),
    );
  }
  await Promise.all(running);
  if (failed) throw failed.err;
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    steps: latencies.length,
    seconds,
    perSec: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}
