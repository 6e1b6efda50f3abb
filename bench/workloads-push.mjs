// Push delivery (issue 18): edgeq POSTs batches from its partitions' alarms
// to a no-op endpoint on loopback, in this process. Two measures:
//   push throughput: a backlog enqueued first, then push turned on; messages
//     a second that reach the endpoint, until the backlog is gone;
//   push end-to-end latency: an open loop of enqueues at a steady rate; each
//     message's time from the start of its enqueue request to its arrival at
//     the endpoint (the same clock: both ends are in this process).
// Rows as in workloads.mjs. Every loop is bounded in steps and time.
import { createServer } from "node:http";
import { api } from "./harness.mjs";
import { openLoop, percentile } from "./http.mjs";
import { body } from "./workloads.mjs";

let queueCounter = 0;
const freshQueue = (prefix) => `${prefix}-${Date.now().toString(36)}-${(queueCounter++).toString(36)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A no-op endpoint: answers 204 to every POST; tells `onDelivery(delivery, at)` of each. */
async function endpoint(onDelivery) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      res.writeHead(204).end();
      onDelivery(JSON.parse(Buffer.concat(chunks).toString("utf8")), at);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function ok(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.text ? JSON.parse(res.text) : null;
}

/** Waits until `done()` or `ms` pass; answers whether it got there. */
async function until(done, ms) {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) return false;
    await sleep(5);
  }
  return true;
}

/** A backlog of `total`, then push on: how fast it reaches the endpoint. */
async function throughput(server, { total, batchSize, partitions }) {
  const q = api(server);
  const queue = freshQueue("push-tp");
  let received = 0;
  let last = 0;
  const hook = await endpoint((delivery, at) => {
    received += delivery.messages.length;
    last = at;
  });
  try {
    ok(await q.configure(queue, { partitions }), 201, "create");
    const batches = Math.ceil(total / 100);
    for (let b = 0; b < batches; b += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, batches - b) }, (_, i) =>
          q.send(queue, { messages: Array.from({ length: 100 }, (_, j) => ({ body: body((b + i) * 100 + j), key: `k${j}` })) }).then((r) => ok(r, 201, "enqueue")),
        ),
      );
    }
    const t0 = performance.now();
    ok(await q.configure(queue, { push: { url: hook.url, batchSize } }), 200, "push on");
    const complete = await until(() => received >= batches * 100, 120_000);
    const seconds = (last - t0) / 1000;
    return {
      workload: "P1",
      case: `push throughput, batch ${batchSize}, ${partitions} partition${partitions > 1 ? "s" : ""}, ${batches * 100} backlog`,
      value: complete ? received / seconds : null,
      unit: "msg/s",
      note: complete ? "" : `only ${received} of ${batches * 100} arrived in 120 s`,
    };
  } finally {
    await hook.close();
  }
}

/** Enqueues at `rate` a second for a while; each message's time from its enqueue to the endpoint. */
async function latency(server, T, { rate, batchSize }) {
  const q = api(server);
  const queue = freshQueue("push-lat");
  const sentAt = new Map();
  const latencies = [];
  const hook = await endpoint((delivery, at) => {
    for (const m of delivery.messages) if (sentAt.has(m.body.n)) latencies.push(at - sentAt.get(m.body.n));
  });
  try {
    ok(await q.configure(queue, { push: { url: hook.url, batchSize } }), 201, "create");
    const r = await openLoop({
      rate,
      durationMs: 10_000 * T,
      step: async (i) => {
        sentAt.set(i, performance.now());
        ok(await q.send(queue, { body: body(i) }), 201, "enqueue");
      },
    });
    await until(() => latencies.length >= r.steps, 30_000);
    latencies.sort((a, b) => a - b);
    return {
      workload: "P2",
      case: `push end-to-end latency, ${rate} msg/s, batch ${batchSize}`,
      value: percentile(latencies, 50),
      unit: "ms",
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      note: latencies.length < r.steps ? `only ${latencies.length} of ${r.steps} arrived` : "",
    };
  } finally {
    await hook.close();
  }
}

/** The push workloads' rows. */
export async function push(server, T) {
  const total = Math.max(2000, Math.round(20_000 * T));
  return [
    await throughput(server, { total, batchSize: 10, partitions: 1 }),
    await throughput(server, { total, batchSize: 100, partitions: 1 }),
    await throughput(server, { total, batchSize: 100, partitions: 4 }),
    await latency(server, T, { rate: 100, batchSize: 10 }),
  ];
}
