// Long-poll consumers over real sockets, for the tests that run edgeq in
// plain workerd (Miniflare) and under `npm start` (wrangler dev): HTTP calls,
// a raw read of a long-poll's body, and the two ways a consumer leaves (an
// aborted fetch, a killed process) followed by a live consumer that must
// get every message the leaver could have taken.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { expect } from "vitest";

/** A free local port (the OS picks it; closed again before it is answered). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** HTTP calls to edgeq at `url` with bearer `token`. */
export function api(url, token) {
  const headers = (body) => ({ authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) });
  const fetchJson = async (method, path, body, signal) => {
    const res = await fetch(`${url}${path}`, { method, headers: headers(body), body: body === undefined ? undefined : JSON.stringify(body), signal });
    return { status: res.status, json: await res.json() };
  };
  return {
    url,
    token,
    call: fetchJson,
    /** A fresh queue, created (the default visibility timeout: 30 s). */
    async queue(prefix) {
      const name = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
      const { status } = await fetchJson("PUT", `/v1/queues/${name}`, {});
      expect(status).toBeLessThan(300);
      return name;
    },
    send: (queue, bodies) => fetchJson("POST", `/v1/queues/${queue}/messages`, { messages: bodies.map((body) => ({ body })) }),
    receive: (queue, request, signal) => fetchJson("POST", `/v1/queues/${queue}/messages/receive`, request, signal),
    stats: async (queue) => (await fetchJson("GET", `/v1/queues/${queue}/stats`)).json,
    /**
     * A receive whose body is read as it arrives: the status, the headers,
     * and each chunk with the ms since the request was sent.
     */
    async receiveRaw(queue, request, signal) {
      const started = performance.now();
      const res = await fetch(`${url}/v1/queues/${queue}/messages/receive`, {
        method: "POST",
        headers: headers(request),
        body: JSON.stringify(request),
        signal,
      });
      const chunks = [];
      const decoder = new TextDecoder();
      for await (const bytes of res.body) chunks.push({ atMs: performance.now() - started, text: decoder.decode(bytes, { stream: true }) });
      return { status: res.status, headers: res.headers, chunks, text: chunks.map((c) => c.text).join("") };
    },
    /** A receive sent by another Node process, which is SIGKILLed `killAfterMs` after it sent it. */
    async receiveThenKilled(queue, request, killAfterMs) {
      const code = `
        process.stdout.write("sent\\n");
        await fetch(${JSON.stringify(`${url}/v1/queues/${queue}/messages/receive`)}, {
          method: "POST",
          headers: ${JSON.stringify(headers(request))},
          body: ${JSON.stringify(JSON.stringify(request))},
        }).then((res) => res.text());
        process.stdout.write("answered\\n");`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (data) => (out += data));
      const exited = new Promise((resolve) => child.on("exit", (exitCode, signal) => resolve(signal ?? exitCode)));
      for (let i = 0; i < 200 && !out.includes("sent"); i++) await sleep(25);
      expect(out).toContain("sent");
      await sleep(killAfterMs);
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      // It was killed while it waited, not after an answer.
      expect(out).not.toContain("answered");
    },
  };
}

/** Ten message bodies, numbered. */
const tenBodies = () => Array.from({ length: 10 }, (_, i) => ({ n: i }));

/** Receives until `count` messages came or `withinMs` passed; answers them and when the last came, ms after `since`. */
async function receiveAll(edgeq, queue, count, since, withinMs) {
  const got = [];
  while (got.length < count && performance.now() - since < withinMs) {
    const left = Math.max(1, Math.ceil(withinMs - (performance.now() - since)));
    const { status, json } = await edgeq.receive(queue, { max: 10, waitMs: Math.min(5_000, left) });
    expect(status).toBe(200);
    got.push(...json.messages);
  }
  return { got, ms: performance.now() - since };
}

/**
 * The issue's scenario: a long-poll whose fetch is aborted after 300 ms;
 * 1 s later ten messages are enqueued, and a live long-poll gets all ten
 * within 2 s, each on its first attempt.
 */
export async function abortedFetchLeavesMessages(edgeq) {
  const queue = await edgeq.queue("lp-abort");
  const leaver = new AbortController();
  const leaving = edgeq.receive(queue, { max: 10, waitMs: 20_000 }, leaver.signal).then(
    () => "answered",
    (err) => err.name,
  );
  await sleep(300);
  leaver.abort();
  expect(await leaving).toBe("AbortError");
  await sleep(1_000);
  const sentAt = performance.now();
  expect((await edgeq.send(queue, tenBodies())).status).toBe(201);
  const { got, ms } = await receiveAll(edgeq, queue, 10, sentAt, 2_000);
  expect(got.map((m) => m.body.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(got.map((m) => m.attempts)).toEqual(got.map(() => 1));
  expect(ms).toBeLessThan(2_000);
  // Leased once, all to the live consumer.
  expect(await edgeq.stats(queue)).toMatchObject({ ready: 0, inFlight: 10 });
}

/**
 * A consumer process SIGKILLed while its long-poll waits; 1 s later a live
 * consumer waits, ten messages are enqueued, and it gets all ten within 2 s.
 */
export async function killedConsumerLeavesMessages(edgeq) {
  const queue = await edgeq.queue("lp-kill");
  await edgeq.receiveThenKilled(queue, { max: 10, waitMs: 20_000 }, 600);
  await sleep(1_000);
  // The live consumer waits first: an older waiter that nobody hears would be served before it.
  const live = edgeq.receive(queue, { max: 10, waitMs: 5_000 });
  await sleep(200);
  const sentAt = performance.now();
  expect((await edgeq.send(queue, tenBodies())).status).toBe(201);
  const first = await live;
  expect(first.status).toBe(200);
  const rest = await receiveAll(edgeq, queue, 10 - first.json.messages.length, sentAt, 2_000);
  const got = [...first.json.messages, ...rest.got];
  expect(got.map((m) => m.body.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(got.map((m) => m.attempts)).toEqual(got.map(() => 1));
  expect(performance.now() - sentAt).toBeLessThan(2_000);
  expect(await edgeq.stats(queue)).toMatchObject({ ready: 0, inFlight: 10 });
}

/** Parses a streamed body: the whitespace before the JSON, and the JSON. */
export function splitStreamed(text) {
  const json = text.trimStart();
  return { leading: text.slice(0, text.length - json.length), json: JSON.parse(json) };
}
