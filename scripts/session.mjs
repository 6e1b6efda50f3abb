// A scripted session against a running edgeq (`npm start`): enqueue, receive,
// ack; nack until dead-lettered; redrive; a stale receipt refused; a few
// errors. Every answer is checked; the first mismatch exits non-zero.
//
//   npm run session                      # http://localhost:8787
//   EDGEQ_URL=http://host:port npm run session
//
// Sends `Authorization: Bearer $EDGEQ_ADMIN_TOKEN` (default: the token of
// .dev.vars.example). Uses a queue of its own and deletes it at the end.
import { isDeepStrictEqual } from "node:util";

const BASE = (process.env.EDGEQ_URL ?? "http://localhost:8787").replace(/\/$/, "");
const TOKEN = process.env.EDGEQ_ADMIN_TOKEN ?? "dev-admin-token";
const QUEUE = `session-${Date.now().toString(36)}`;
const MAX_ATTEMPTS = 5; // the default of a queue created on first use

let checks = 0;

function fail(what, detail) {
  console.error(`FAIL  ${what}`);
  if (detail !== undefined) console.error(`      ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  process.exit(1);
}

function check(what, ok, detail) {
  checks++;
  if (!ok) fail(what, detail);
  console.log(`ok    ${what}`);
}

/** Checks that `actual` has every field of `expected` with the same value (deep). */
function matches(actual, expected) {
  if (expected === null || typeof expected !== "object") return isDeepStrictEqual(actual, expected);
  if (actual === null || typeof actual !== "object") return false;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  }
  return Object.entries(expected).every(([k, v]) => matches(actual[k], v));
}

async function call(method, path, body, headers = {}) {
  const init = { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  let res;
  try {
    res = await fetch(`${BASE}${path}`, init);
  } catch (err) {
    fail(`${method} ${path}: edgeq is not reachable at ${BASE} (is \`npm start\` running?)`, String(err.cause ?? err));
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const q = (rest) => `/v1/queues/${QUEUE}${rest}`;

/** Calls and checks the status and (part of) the answer. */
async function expectAnswer(what, method, path, body, status, shape) {
  const res = await call(method, path, body);
  if (res.status !== status) fail(what, `expected ${status}, got ${res.status}: ${res.text.slice(0, 300)}`);
  if (shape !== undefined && !matches(res.json, shape)) fail(what, `answer ${res.text.slice(0, 500)} does not match ${JSON.stringify(shape)}`);
  check(what, true);
  return res;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Receives until something comes (a message waiting out its backoff), for at most `ms`. */
async function receiveWithin(ms, body) {
  const until = Date.now() + ms;
  for (;;) {
    const res = await call("POST", q("/messages/receive"), body);
    if (res.status !== 200) fail("receive", `${res.status}: ${res.text}`);
    if (res.json.messages.length > 0 || Date.now() > until) return res.json.messages;
    await sleep(100);
  }
}

console.log(`edgeq session against ${BASE}, queue ${QUEUE}\n`);

// 1. Enqueue, receive, ack.
const one = await expectAnswer("enqueue one message: 201 with id and seq", "POST", q("/messages"), { body: { order: 1 }, attributes: { kind: "order" } }, 201);
check("  the answer is {messages: [{id, seq}]}", one.json.messages.length === 1 && typeof one.json.messages[0].id === "string" && Number.isInteger(one.json.messages[0].seq), one.json);
const batch = await expectAnswer("enqueue a batch of 3: 201, in the order given", "POST", q("/messages"), { messages: [{ body: { order: 2 } }, { body: { order: 3 } }, { body: { order: 4 } }] }, 201);
const seqs = [one.json.messages[0].seq, ...batch.json.messages.map((m) => m.seq)];
check("  seqs grow in enqueue order", seqs.every((s, i) => i === 0 || s > seqs[i - 1]), seqs);

const received = await expectAnswer("receive max 10: the 4 messages in seq order, attempts 1", "POST", q("/messages/receive"), { max: 10 }, 200, {
  messages: [1, 2, 3, 4].map((order) => ({ body: { order }, attempts: 1 })),
});
const first = received.json.messages[0];
check("  each has id, seq, body, attributes, attempts, enqueuedAt, receipt, leaseExpiresAt",
  ["id", "seq", "body", "attributes", "attempts", "enqueuedAt", "receipt", "leaseExpiresAt"].every((k) => k in first) && matches(first.attributes, { kind: "order" }),
  first);
check("  the lease is the default 30 s", Math.abs(first.leaseExpiresAt - Date.now() - 30_000) < 5_000, first.leaseExpiresAt - Date.now());
await expectAnswer("a second receive finds nothing: leased messages are invisible", "POST", q("/messages/receive"), { max: 10 }, 200, { messages: [] });
const receipts = received.json.messages.map((m) => m.receipt);
await expectAnswer("ack the 4 receipts in one request: all ok", "POST", q("/messages/ack"), { receipts }, 200, {
  results: receipts.map((receipt) => ({ receipt, ok: true })),
});
await expectAnswer("ack them again: NOT_FOUND, the messages are gone", "POST", q("/messages/ack"), { receipts: receipts.slice(0, 1) }, 200, {
  results: [{ receipt: receipts[0], ok: false, code: "NOT_FOUND" }],
});
await expectAnswer("stats: nothing left", "GET", q("/stats"), undefined, 200, { ready: 0, delayed: 0, inFlight: 0, deadLetters: 0 });

// 2. Nack until dead-lettered.
const poison = (await expectAnswer("enqueue a poison message", "POST", q("/messages"), { body: "poison" }, 201)).json.messages[0].id;
for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
  const got = await expectAnswer(`receive the poison message: attempt ${attempt}`, "POST", q("/messages/receive"), { visibilityTimeoutMs: 5_000 }, 200, {
    messages: [{ id: poison, attempts: attempt }],
  });
  await expectAnswer(`nack it (delayMs 0, error "failure ${attempt}")`, "POST", q("/messages/nack"), { receipts: [got.json.messages[0].receipt], delayMs: 0, error: `failure ${attempt}` }, 200, {
    results: [{ ok: true }],
  });
}
await expectAnswer(`after ${MAX_ATTEMPTS} attempts it is a dead letter, not ready`, "GET", q("/stats"), undefined, 200, { ready: 0, delayed: 0, inFlight: 0, deadLetters: 1 });
await expectAnswer("receive finds nothing", "POST", q("/messages/receive"), {}, 200, { messages: [] });
const dead = await expectAnswer("list dead letters: reason max_attempts, the last error kept", "GET", q("/dead-letters"), undefined, 200, {
  deadLetters: [{ id: poison, body: "poison", attributes: {}, attempts: MAX_ATTEMPTS, reason: "max_attempts", lastError: `failure ${MAX_ATTEMPTS}` }],
  cursor: null,
});
check("  it has enqueuedAt and deadLetteredAt", typeof dead.json.deadLetters[0].enqueuedAt === "number" && typeof dead.json.deadLetters[0].deadLetteredAt === "number", dead.json);

// 3. Redrive.
await expectAnswer("redrive all: 1 redriven", "POST", q("/dead-letters/redrive"), {}, 200, { redriven: 1, remaining: 0 });
await expectAnswer("stats: ready again, no dead letters", "GET", q("/stats"), undefined, 200, { ready: 1, deadLetters: 0 });

// 4. A stale receipt is refused.
const leasedOnce = await expectAnswer("receive it with a 1 s lease: attempts start over at 1", "POST", q("/messages/receive"), { visibilityTimeoutMs: 1_000 }, 200, {
  messages: [{ id: poison, attempts: 1 }],
});
const stale = leasedOnce.json.messages[0].receipt;
await sleep(1_100);
const again = await receiveWithin(5_000, { visibilityTimeoutMs: 30_000 });
check("the lease ended unacked: the message comes back after backoff with attempts 2", matches(again, [{ id: poison, attempts: 2 }]), again);
const fresh = again[0].receipt;
for (const verb of ["ack", "nack", "extend"]) {
  const body = verb === "extend" ? { receipts: [stale], visibilityTimeoutMs: 60_000 } : { receipts: [stale] };
  await expectAnswer(`${verb} with the stale receipt: LEASE_LOST`, "POST", q(`/messages/${verb}`), body, 200, {
    results: [{ receipt: stale, ok: false, code: "LEASE_LOST" }],
  });
}
await expectAnswer("  and nothing changed: still one message in flight", "GET", q("/stats"), undefined, 200, { ready: 0, inFlight: 1, deadLetters: 0 });
const extended = await expectAnswer("extend with the current receipt: ok, lease moved", "POST", q("/messages/extend"), { receipts: [fresh], visibilityTimeoutMs: 60_000 }, 200, {
  results: [{ receipt: fresh, ok: true }],
});
check("  leaseExpiresAt is 60 s from now", Math.abs(extended.json.results[0].leaseExpiresAt - Date.now() - 60_000) < 5_000, extended.json);
await expectAnswer("ack with the current receipt: ok", "POST", q("/messages/ack"), { receipts: [fresh] }, 200, { results: [{ receipt: fresh, ok: true }] });

// 5. Errors.
await expectAnswer("bad JSON: 400 INVALID_JSON", "POST", q("/messages"), '{"body":', 400, { error: { code: "INVALID_JSON" } });
const shape = await expectAnswer("a wrong type: 400 INVALID_REQUEST naming the field", "POST", q("/messages"), { messages: [{ body: 1 }, { body: 2, delayMs: "5" }] }, 400, { error: { code: "INVALID_REQUEST" } });
check("  the message names messages[1].delayMs", shape.json.error.message.includes("messages[1].delayMs"), shape.json);
await expectAnswer("a value out of range: 422 INVALID_VALUE", "POST", q("/messages/receive"), { max: 0 }, 422, { error: { code: "INVALID_VALUE" } });
const wrongMethod = await expectAnswer("GET on receive: 405", "GET", q("/messages/receive"), undefined, 405, { error: { code: "METHOD_NOT_ALLOWED" } });
check("  with Allow: POST", wrongMethod.headers.get("allow") === "POST", wrongMethod.headers.get("allow"));
await expectAnswer("an unknown route: 404 NOT_FOUND", "GET", "/v1/nothing", undefined, 404, { error: { code: "NOT_FOUND" } });
await expectAnswer("stats: still empty after the bad requests", "GET", q("/stats"), undefined, 200, { ready: 0, delayed: 0, inFlight: 0, deadLetters: 0 });

// Clean up (queue deletion is part of the queue routes; not checked here).
await call("DELETE", `/v1/queues/${QUEUE}`);

console.log(`\nsession passed: ${checks} checks`);
