// The client's consume() over real sockets, in plain workerd: it streams (Node 22 has WebSocket,
// the token goes as a subprotocol, as in a browser), reads every partition fairly, opens the
// partitions a queue grows, explains a refused upgrade over HTTP, and an abort or a killed process
// leaves nothing held. Also the upgrade's own checks, seen from a raw HTTP client.
import { randomBytes } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleClient, consumerProcess, sleep, startWorker, TOKEN, uniqueQueue, until } from "./streams.mjs";

let worker;
let client;
let createClient;

beforeAll(async () => {
  worker = await startWorker();
  client = await bundleClient();
  ({ createClient } = await import(client.path));
});

afterAll(async () => {
  await worker?.stop();
  await client?.remove();
});

const partitionOf = (m) => Number(m.receipt.split(".")[0]);

/** A token minted by the server for `scopes` on `queues`. */
const mint = async (scopes, queues) => (await worker.ok("POST", "/v1/tokens", { scopes, queues })).token;

/** A WebSocket upgrade by hand: resolves the status the server answers (101 when it upgrades). */
function upgradeStatus(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": randomBytes(16).toString("base64"), ...headers },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, protocol: res.headers["sec-websocket-protocol"] });
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("client consume() over real sockets", () => {
  it("streams from every partition of a queue, taking turns", async () => {
    const q = uniqueQueue("fair");
    await worker.configure(q, { partitions: 4 });
    // One message per request: each request's batch goes to the next partition in turn.
    for (let i = 0; i < 40; i++) await worker.send(q, [i]);
    const handled = [];
    const stop = new AbortController();
    const done = createClient({ url: worker.url, token: TOKEN })
      .queue(q)
      .consume(async (m) => void handled.push(m), { concurrency: 1, prefetch: 4, signal: stop.signal });
    await until(() => handled.length === 40, "all forty", 10_000);
    stop.abort();
    await done;
    // The stream is what delivered them (a long-poll's receipts carry tokens of 22 characters, a stream's 34).
    expect(handled.every((m) => m.receipt.split(".")[2].length === 34)).toBe(true);
    const perPartition = [0, 1, 2, 3].map((p) => handled.filter((m) => partitionOf(m) === p).length);
    expect(perPartition.every((n) => n >= 5)).toBe(true);
    // While every partition has some left, no partition waits long: each shows up in any window of 8 handled
    // (after the first 4, which partition 0's stream took before the first frame said how many partitions there are).
    const last = Math.min(...[0, 1, 2, 3].map((p) => handled.findLastIndex((m) => partitionOf(m) === p)));
    for (let i = 4; i + 8 <= last; i++) {
      expect(new Set(handled.slice(i, i + 8).map(partitionOf)).size, `window at ${i}`).toBe(4);
    }
    expect(await worker.stats(q)).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it("opens the partitions a queue grows while it consumes", async () => {
    const q = uniqueQueue("grow");
    await worker.send(q, ["before"]);
    const handled = [];
    const stop = new AbortController();
    const done = createClient({ url: worker.url, token: TOKEN })
      .queue(q)
      .consume(async (m) => void handled.push(m), { signal: stop.signal });
    await until(() => handled.length === 1, "the first message");
    await worker.configure(q, { partitions: 3 });
    for (let i = 0; i < 9; i++) await worker.send(q, [i]);
    await until(() => handled.length === 10, "every message", 10_000);
    expect(new Set(handled.map(partitionOf))).toEqual(new Set([0, 1, 2]));
    stop.abort();
    await done;
  });

  it("a consumer process stopped with SIGTERM settles, gives back what no handler took, and exits on its own", async () => {
    const q = uniqueQueue("term");
    await worker.send(q, [1, 2, 3, 4, 5, 6]);
    const consumer = consumerProcess({ mode: "client", client: client.path, base: worker.url, token: TOKEN, queue: q, concurrency: 2, holdMs: 300 });
    await until(() => consumer.of("handled").length === 2, "two handlers running");
    consumer.child.kill("SIGTERM");
    const exit = await Promise.race([consumer.exited, sleep(5_000).then(() => "still running")]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(consumer.of("done")).toHaveLength(1);
    expect(consumer.of("error")).toEqual([]);
    // The two it was handling were acked; the others are ready again, their attempt not counted.
    const handled = consumer.of("handled").map((e) => e.message.body);
    expect(handled).toHaveLength(2);
    const rest = await worker.receive(q, { max: 10 });
    expect(rest.map((m) => m.body).sort()).toEqual([1, 2, 3, 4, 5, 6].filter((b) => !handled.includes(b)));
    expect(rest.every((m) => m.attempts === 1)).toBe(true);
    expect((await worker.stats(q)).inFlight).toBe(4);
  });

  it("a consumer process SIGKILLed in a handler: another consumer gets its message at once", async () => {
    const q = uniqueQueue("kill");
    await worker.send(q, ["slow"]);
    const consumer = consumerProcess({ mode: "client", client: client.path, base: worker.url, token: TOKEN, queue: q, holdMs: 60_000 });
    await until(() => consumer.of("handled").length === 1, "the handler to start");
    const handled = [];
    const stop = new AbortController();
    const done = createClient({ url: worker.url, token: TOKEN })
      .queue(q)
      .consume(async (m) => void handled.push(m), { signal: stop.signal });
    await sleep(200);
    expect(handled).toEqual([]);
    const killedAt = Date.now();
    consumer.kill();
    await until(() => handled.length === 1, "the message at the other consumer", 1_000);
    expect(Date.now() - killedAt).toBeLessThan(1_000);
    expect(handled[0]).toMatchObject({ body: "slow", attempts: 2 });
    stop.abort();
    await done;
  });

  it("ends with QUEUE_NOT_FOUND when its queue is deleted, as a waiting receive does", async () => {
    const q = uniqueQueue("gone");
    await worker.send(q, ["one"]);
    const handled = [];
    const consuming = createClient({ url: worker.url, token: TOKEN })
      .queue(q)
      .consume(async (m) => void handled.push(m))
      .then(() => null, (e) => e);
    await until(() => handled.length === 1, "the message");
    await worker.ok("DELETE", `/v1/queues/${q}`);
    expect(await consuming).toMatchObject({ name: "QueueError", code: "QUEUE_NOT_FOUND", status: 404 });
  });

  it("a token without the consume scope: the refused upgrade is explained over HTTP, and consume rejects", async () => {
    const q = uniqueQueue("scope");
    const publishOnly = await mint(["publish"], [q]);
    const err = await createClient({ url: worker.url, token: publishOnly })
      .queue(q)
      .consume(async () => {})
      .catch((e) => e);
    expect(err).toMatchObject({ name: "QueueError", code: "FORBIDDEN", status: 403 });
    const consumeOnly = await mint(["consume"], [q]);
    await worker.send(q, ["scoped"]);
    const got = [];
    const stop = new AbortController();
    const done = createClient({ url: worker.url, token: consumeOnly })
      .queue(q)
      .consume(async (m) => void got.push(m), { signal: stop.signal });
    await until(() => got.length === 1, "the message, with a scoped token as a subprotocol");
    stop.abort();
    await done;
    expect(got[0].receipt.split(".")[2]).toHaveLength(34);
  });
});

describe("the upgrade, by hand", () => {
  it("takes the token from the subprotocols and answers the version; refuses what it must before opening", async () => {
    const q = uniqueQueue("raw");
    const url = `${worker.url}/v1/queues/${q}/consume`;
    expect(await upgradeStatus(url, { "sec-websocket-protocol": `edgeq.v1, bearer.${TOKEN}` })).toEqual({ status: 101, protocol: "edgeq.v1" });
    // With the header, no subprotocol needs to be offered, and none is answered.
    expect(await upgradeStatus(url, { authorization: `Bearer ${TOKEN}` })).toEqual({ status: 101, protocol: undefined });
    const refused = async (headers, query = "") => (await upgradeStatus(url + query, headers)).body?.error.code;
    expect(await refused({ "sec-websocket-protocol": "edgeq.v1" })).toBe("UNAUTHORIZED");
    expect(await refused({ "sec-websocket-protocol": "edgeq.v1, bearer.wrong" })).toBe("UNAUTHORIZED");
    expect(await refused({ "sec-websocket-protocol": `edgeq.v9, bearer.${TOKEN}` })).toBe("INVALID_REQUEST");
    // A browser page of an origin that EDGEQ_CORS_ORIGINS does not list may not consume (nor call the API).
    expect(await refused({ "sec-websocket-protocol": `edgeq.v1, bearer.${TOKEN}`, origin: "https://elsewhere.example" })).toBe("FORBIDDEN");
    expect(await refused({ authorization: `Bearer ${TOKEN}` }, "?partition=1")).toBe("INVALID_VALUE");
    expect(await refused({ authorization: `Bearer ${TOKEN}` }, "?prefetch=1001")).toBe("INVALID_VALUE");
    expect(await refused({ authorization: `Bearer ${TOKEN}` }, "?other=1")).toBe("INVALID_REQUEST");
  });
});
