/**
 * Hostile input, property-based: well over a thousand malformed or hostile
 * requests (wrong types, huge or deep JSON, bad names, bad receipts, forged
 * tokens, bad headers, odd methods and paths). Every answer must be a 4xx
 * with a code from the closed set and the status that code has, and the
 * fixture queue (one message in each state) and the fixture topic must be
 * exactly as they were, down to their rows inside their objects. The same
 * for the frames of a consume stream: each hostile frame gets an error frame
 * with a code from the closed set, and the stream and the fixture stay as
 * they were.
 *
 * Every generated request is invalid by construction: a valid request may
 * change state, so the generators never produce one (an extra unknown field
 * makes any body invalid, receipts never match the pattern unless another
 * field is wrong, and so on).
 */
import { SELF, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ERROR_STATUS,
  LIMITS,
  PUSH_RANGES,
  QUEUE_CONFIG_RANGES,
  QUEUE_NAME_PATTERN,
  RECEIPT_PATTERN,
  TOPIC_LIMITS,
  type ErrorCode,
} from "../client/protocol";
import { mintToken } from "../client/tokens";
import { ADMIN_TOKEN, BASE, get, partition, post, receive, send, settle, stats, uniqueQueue } from "./helpers";
import { openStream } from "./stream-socket";
import { publish, putTopic, topicObject, topicStats } from "./topic-helpers";

const RUNS = 1200;
/** Replays a run: FUZZ_SEED=<seed printed by a failure> npx vitest run test/fuzz.test.ts */
const FUZZ_SEED = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const SECRET = "test-token-secret";

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const fixture = uniqueQueue("fuzz");
let leasedReceipt = "";
let tokens: Record<string, string> = {};

/** The fixture topic (named as the fixture queue: topics and queues have names of their own) fans out to this queue. */
const fanQueue = `${fixture}-fan`;

/** Everything the partition stores about its messages, and the fixture topic all it stores, as text. */
const snapshot = async () =>
  JSON.stringify({
    partition: await runInDurableObject(partition(fixture), (_, state) => {
      const all = (table: string, order: string) =>
        state.storage.sql.exec(`SELECT * FROM ${table} ORDER BY ${order}`).toArray();
      return {
        messages: all("messages", "seq"),
        deadLetters: all("dead_letters", "dl_seq"),
        dedup: all("dedup", "dedup_id"),
      };
    }),
    topic: await runInDurableObject(topicObject(fixture) as unknown as DurableObjectStub, (_: unknown, state: DurableObjectState) => {
      const all = (table: string, order: string) =>
        state.storage.sql.exec(`SELECT * FROM ${table} ORDER BY ${order}`).toArray();
      return {
        messages: all("messages", "seq"),
        subscriptions: all("subscriptions", "queue"),
        dedup: all("dedup", "dedup_id"),
        totals: all("totals", "name"),
        meta: all("meta", "key"),
      };
    }),
  });

const counts = async () => {
  const s = await stats(fixture);
  return { ready: s.ready, delayed: s.delayed, inFlight: s.inFlight, deadLetters: s.deadLetters };
};

/** The queue's configuration as the registry has it. */
const config = async () => {
  const res = await get(`/v1/queues/${fixture}`);
  expect(res.status).toBe(200);
  return JSON.stringify(res.json.config ?? res.json);
};

// ---- generators -------------------------------------------------------------

const json = (value: unknown) => JSON.stringify(value);
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const jsonHeaders = { ...admin, "content-type": "application/json" };

/** Any JSON value, some of them awkward (unicode, big numbers, __proto__ keys). */
const anyJson = fc.jsonValue({ maxDepth: 4 });
const oddKey = fc.constantFrom("__proto__", "constructor", "", " ", "body ", "BODY", "messages\u0000", "\u{1F4A5}", "x".repeat(300));
/** An object with a key no schema knows: invalid for every route, whatever else it holds. */
const withUnknownKey = fc
  .tuple(fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 }), oddKey, anyJson)
  .map(([base, key, value]) => {
    const out: Record<string, unknown> = { ...base };
    Object.defineProperty(out, key === "" ? "__fuzz__" : `${key}__fuzz`, { value, enumerable: true });
    return out;
  });
const notReceipt = fc
  .oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom("0.1.short", "100.1.aaaaaaaaaaaaaaaaaaaa", "0.1234567890123456.aaaaaaaaaaaaaaaaaaaa", "-1.1.aaaaaaaaaaaaaaaaaaaa", "0.1.aaaaaaaaaaaaaaaa!", " 0.1.aaaaaaaaaaaaaaaaaaaa", "0.1.aaaaaaaaaaaaaaaaaaaa\n"),
  )
  .filter((s) => !RECEIPT_PATTERN.test(s));
const notReceiptValue = fc.oneof(notReceipt, fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const deep = (depth: number, open: string, close: string) => open.repeat(depth) + "1" + close.repeat(depth);
const deepJsonText = fc.oneof(
  fc.integer({ min: LIMITS.maxBodyDepth + 1, max: 5_000 }).map((d) => deep(d, "[", "]")),
  fc.constantFrom(100_000, 400_000).map((d) => deep(d, "[", "]")),
  fc.integer({ min: LIMITS.maxBodyDepth + 1, max: 2_000 }).map((d) => deep(d, '{"a":', "}")),
);

const badInt = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: -1e9, max: Math.ceil(min) - 1 }),
    fc.integer({ min: Math.floor(max) + 1, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(1e308, -0.5, Number.MAX_SAFE_INTEGER + 2),
    fc.constantFrom<unknown>("1", null, true, [], {}, "", "1e3"),
  );

/** A message with exactly one field made wrong. */
const badMessage = fc.oneof(
  fc.record({ body: fc.constant(1), delayMs: badInt(0, LIMITS.maxDelayMs) }),
  fc.record({ body: fc.constant(1), attributes: fc.constantFrom<unknown>({ a: 1 }, [], "x", { k: null }, { k: ["v"] }, 5, { ["x".repeat(257)]: "v" }) }),
  fc.record({ body: fc.constant(1), groupId: fc.constantFrom<unknown>("", "a b", "x".repeat(129), 5, "é", "a\u007fb", "a\tb", null) }),
  fc.record({ body: fc.constant(1), dedupId: fc.constantFrom<unknown>("", "x".repeat(129), 1, null, []) }),
  fc.constant({}),
  fc.constant({ delayMs: 0 }),
  withUnknownKey.map((o) => ({ ...o, body: 1 })),
);

const routes = (q: string) => ({
  enqueue: `/v1/queues/${q}/messages`,
  receive: `/v1/queues/${q}/messages/receive`,
  ack: `/v1/queues/${q}/messages/ack`,
  nack: `/v1/queues/${q}/messages/nack`,
  extend: `/v1/queues/${q}/messages/extend`,
  stats: `/v1/queues/${q}/stats`,
  deadLetters: `/v1/queues/${q}/dead-letters`,
  redrive: `/v1/queues/${q}/dead-letters/redrive`,
});
const R = routes(fixture);
const T = {
  topic: `/v1/topics/${fixture}`,
  publish: `/v1/topics/${fixture}/messages`,
  stats: `/v1/topics/${fixture}/stats`,
};
const ALL_ROUTES: [string, string][] = [
  ["POST", T.publish],
  ["GET", T.stats],
  ["GET", T.topic],
  ["PUT", T.topic],
  ["DELETE", T.topic],
  ["GET", "/v1/topics"],
  ["POST", R.enqueue],
  ["POST", R.receive],
  ["POST", R.ack],
  ["POST", R.nack],
  ["POST", R.extend],
  ["GET", R.stats],
  ["GET", R.deadLetters],
  ["DELETE", R.deadLetters],
  ["POST", R.redrive],
  ["PUT", `/v1/queues/${fixture}`],
  ["DELETE", `/v1/queues/${fixture}`],
  ["POST", `/v1/queues/${fixture}/purge`],
  ["POST", `/v1/queues/${fixture}/pause`],
  ["POST", `/v1/queues/${fixture}/push/rotate-secret`],
  ["GET", `/v1/queues/${fixture}/messages`],
  ["POST", "/v1/tokens"],
];
const POST_ROUTES = [R.enqueue, R.receive, R.ack, R.nack, R.extend, R.redrive, "/v1/tokens", T.publish];
/** Routes that take a JSON body: the POST routes and the queue's and the topic's configuration. */
const BODY_ROUTES: [string, string][] = [
  ...POST_ROUTES.map((p): [string, string] => ["POST", p]),
  ["PUT", `/v1/queues/${fixture}`],
  ["PUT", T.topic],
];

/** Valid-looking requests to every route, with a token that must not pass. */
const badToken = fc
  .tuple(
    fc.constantFrom(...ALL_ROUTES),
    fc.oneof(
      fc.constant(""),
      fc.constantFrom("Bearer", "Bearer ", "Basic dGVzdDp0ZXN0", "bearer test-admin-token2", `Bearer ${ADMIN_TOKEN} x`, `Token ${ADMIN_TOKEN}`),
      fc.string({ maxLength: 60, unit: "binary-ascii" }).map((s) => `Bearer ${s.replace(/[^\x20-\x7e]/g, "")}`),
      fc.constant(`Bearer ${"a".repeat(5000)}`),
      fc.constantFrom("forged", "expired", "alg-none", "swapped", "other-queue", "wrong-scope", "hs512", "no-exp", "weird-claims").map((k) => `Bearer ${tokens[k]}`),
    ),
  )
  .map(([[method, path], authorization]): Req => {
    // A consume token for the right queue may read stats: that one would pass.
    if (path === R.stats && authorization === `Bearer ${tokens["wrong-scope"]}`) authorization = "Bearer x";
    const body = method === "GET" || method === "DELETE" ? undefined : json({ body: 1 });
    return { method, path, headers: { authorization, "content-type": "application/json" }, body };
  });

/** The admin token, with bodies that are not what the route takes. */
const badBody = fc.oneof(
  // Not JSON at all, or JSON of the wrong kind.
  fc.tuple(fc.constantFrom(...POST_ROUTES), fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom("{", "[1,", "{'a':1}", "nul", "\u0000", "{\"body\":1}}", "1 2", "NaN", "{\"body\": -}")))
    .filter(([, text]) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return text.trim() !== "";
      }
    })
    .map(([path, text]): Req => ({ method: "POST", path, headers: jsonHeaders, body: text })),
  fc.tuple(fc.constantFrom(...POST_ROUTES), fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean(), fc.array(anyJson, { maxLength: 3 })))
    .map(([path, value]): Req => ({ method: "POST", path, headers: jsonHeaders, body: json(value) })),
  fc.tuple(fc.constantFrom(...BODY_ROUTES), withUnknownKey).map(([[method, path], value]): Req => ({ method, path, headers: jsonHeaders, body: json(value) })),
  // Invalid UTF-8.
  fc.tuple(fc.constantFrom(...POST_ROUTES), fc.uint8Array({ minLength: 1, maxLength: 64 }))
    .map(([path, bytes]): Req => ({ method: "POST", path, headers: jsonHeaders, body: new Uint8Array([0xff, 0xfe, ...bytes]) })),
  // Enqueue and publish: one wrong field, in one message or in a batch.
  fc.tuple(fc.constantFrom(R.enqueue, T.publish), badMessage).map(([path, m]): Req => ({ method: "POST", path, headers: jsonHeaders, body: json(m) })),
  fc.tuple(fc.array(fc.constant<Record<string, unknown>>({ body: 1 }), { maxLength: 5 }), badMessage, fc.nat(5))
    .map(([ok, bad, at]): Req => {
      const messages = [...ok];
      messages.splice(at % (ok.length + 1), 0, bad);
      return { method: "POST", path: R.enqueue, headers: jsonHeaders, body: json({ messages }) };
    }),
  fc.tuple(fc.constantFrom(R.enqueue, T.publish), fc.constantFrom<unknown>({ messages: [] }, { messages: Array.from({ length: LIMITS.maxBatch + 1 }, () => ({ body: 1 })) }, { messages: {} }, { messages: null }))
    .map(([path, b]): Req => ({ method: "POST", path, headers: jsonHeaders, body: json(b) })),
  fc.constantFrom(
    { messages: [{ body: 1 }, { body: "x".repeat(300 * 1024) }] },
    { body: "x".repeat(LIMITS.maxRequestBytes) },
    { body: 1, attributes: { a: "x".repeat(300 * 1024) } },
  ).map((b): Req => ({ method: "POST", path: T.publish, headers: jsonHeaders, body: json(b) })),
  // Topic settings: one wrong value or shape.
  fc.constantFrom<unknown>(
    { subscriptions: [{ queue: "a" }, { queue: "a" }] },
    { subscriptions: Array.from({ length: TOPIC_LIMITS.maxSubscriptions + 1 }, (_, i) => ({ queue: `q${i}` })) },
    { subscriptions: [{ queue: "a b" }] },
    { subscriptions: [{ queue: "" }] },
    { subscriptions: [{}] },
    { subscriptions: [{ queue: "a", filter: { k: [] } }] },
    { subscriptions: [{ queue: "a", filter: { k: "v" } }] },
    { subscriptions: [{ queue: "a", filter: { k: [1] } }] },
    { subscriptions: [{ queue: "a", filter: { k: Array.from({ length: TOPIC_LIMITS.maxFilterValues + 1 }, () => "v") } }] },
    { subscriptions: [{ queue: "a", filter: Object.fromEntries(Array.from({ length: TOPIC_LIMITS.maxFilterNames + 1 }, (_, i) => [`k${i}`, ["v"]])) }] },
    { subscriptions: [{ queue: "a", filter: { ["x".repeat(257)]: ["v"] } }] },
    { subscriptions: [{ queue: "a", filter: null }] },
    { subscriptions: [{ queue: "a", filter: ["k"] }] },
    { subscriptions: "a" },
    { subscriptions: null },
    { dedupWindowMs: -1 },
    { dedupWindowMs: 1.5 },
    { dedupWindowMs: "5" },
    { dedupWindowMs: 24 * 3600_000 + 1 },
  ).map((b): Req => ({ method: "PUT", path: T.topic, headers: jsonHeaders, body: json(b) })),
  fc.constantFrom("limit=0", "limit=1001", "stats=maybe", "cursor=a/b", "x=1", "limit=abc")
    .map((qs): Req => ({ method: "GET", path: `/v1/topics?${qs}`, headers: admin })),
  // Deep JSON bodies, bare or as a message body.
  fc.tuple(fc.constantFrom(...POST_ROUTES), deepJsonText, fc.boolean())
    .map(([path, text, wrapped]): Req => ({ method: "POST", path, headers: jsonHeaders, body: wrapped ? `{"body":${text}}` : text })),
  // Too large: the request (over 1 MiB) or one message (over 256 KiB).
  fc.constantFrom(
    { path: R.enqueue, body: json({ body: "x".repeat(LIMITS.maxRequestBytes) }) },
    { path: R.enqueue, body: json({ body: "x".repeat(300 * 1024) }) },
    { path: R.enqueue, body: json({ messages: [{ body: "x".repeat(200 * 1024) }, { body: "y".repeat(200 * 1024), attributes: { a: "z".repeat(60 * 1024) } }] }) },
    { path: R.ack, body: "[".repeat(LIMITS.maxRequestBytes + 10) },
  ).map(({ path, body }): Req => ({ method: "POST", path, headers: jsonHeaders, body })),
  // Receive, nack, extend, ack: a wrong value in a field that is otherwise fine.
  fc.oneof(
    badInt(1, LIMITS.maxReceive).map((max) => ({ max })),
    badInt(LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs).map((visibilityTimeoutMs) => ({ visibilityTimeoutMs })),
    badInt(0, LIMITS.maxWaitMs).map((waitMs) => ({ waitMs })),
  ).map((b): Req => ({ method: "POST", path: R.receive, headers: jsonHeaders, body: json(b) })),
  fc.tuple(fc.constantFrom(R.ack, R.nack, R.extend), fc.array(notReceiptValue, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([path, bad, withReal]): Req => {
      const receipts = withReal ? [leasedReceipt, ...bad] : bad;
      const extra = path === R.extend ? { visibilityTimeoutMs: 5000 } : {};
      return { method: "POST", path, headers: jsonHeaders, body: json({ receipts, ...extra }) };
    }),
  fc.constantFrom(R.ack, R.nack, R.extend).map((path): Req => ({
    method: "POST",
    path,
    headers: jsonHeaders,
    body: json({ receipts: Array.from({ length: LIMITS.maxBatch + 1 }, () => leasedReceipt), visibilityTimeoutMs: 5000 }),
  })),
  // A real receipt of the leased message, with another field wrong: nothing may happen to the lease.
  badInt(0, LIMITS.maxDelayMs).map((delayMs): Req => ({ method: "POST", path: R.nack, headers: jsonHeaders, body: json({ receipts: [leasedReceipt], delayMs }) })),
  fc.constantFrom<unknown>(1, null, ["e"], { m: 1 }, "x".repeat(4097)).map((error): Req => ({ method: "POST", path: R.nack, headers: jsonHeaders, body: json({ receipts: [leasedReceipt], error }) })),
  badInt(LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs).map((visibilityTimeoutMs): Req => ({ method: "POST", path: R.extend, headers: jsonHeaders, body: json({ receipts: [leasedReceipt], visibilityTimeoutMs }) })),
  fc.constant<Req>({ method: "POST", path: R.extend, headers: jsonHeaders, body: json({ receipts: [leasedReceipt] }) }),
  // Redrive and dead-letter listing with wrong values.
  fc.constantFrom<unknown>({ ids: [] }, { ids: "all" }, { ids: [1] }, { ids: [""] }, { ids: ["x".repeat(65)] }, { ids: null })
    .map((b): Req => ({ method: "POST", path: R.redrive, headers: jsonHeaders, body: json(b) })),
  fc.constantFrom("limit=0", "limit=101", "limit=x", "limit=1.5", "cursor=abc", "cursor=1.2.3", "cursor=", "other=1", "limit=-1", "cursor=99999999999999999.1")
    .map((qs): Req => ({ method: "GET", path: `${R.deadLetters}?${qs}`, headers: admin })),
  // Queue configuration: one setting out of its range or of the wrong type.
  fc.constantFrom(...(Object.keys(QUEUE_CONFIG_RANGES) as (keyof typeof QUEUE_CONFIG_RANGES)[]))
    .chain((field) => {
      const { min, max } = QUEUE_CONFIG_RANGES[field];
      // null means "no limit" for the limits, and a rate may have a fraction: neither is wrong there.
      const nullable = field === "maxDepth" || field === "maxInFlight" || field === "deliveryRatePerSec";
      return badInt(min, max)
        .filter((v) => !(nullable && v === null) && !(field === "deliveryRatePerSec" && typeof v === "number" && v >= min && v <= max))
        .map((value) => ({ [field]: value }));
    })
    .map((b): Req => ({ method: "PUT", path: `/v1/queues/${fixture}`, headers: jsonHeaders, body: json(b) })),
  fc.constantFrom<unknown>({ paused: "yes" }, { paused: null }, { partitions: 0 }, { backoffBaseMs: 5000, backoffMaxMs: 10 }, { name: "x" })
    .map((b): Req => ({ method: "PUT", path: `/v1/queues/${fixture}`, headers: jsonHeaders, body: json(b) })),
  // Push: a wrong shape, a target that is not one, a setting out of its range.
  fc.constantFrom<unknown>(
    {},
    "https://hooks.test/ok",
    [],
    { url: "https://hooks.test/ok", service: "CONSUMER" },
    { service: "CONSUMER", headers: { a: "b" } },
    { url: "ftp://hooks.test/ok" },
    { url: "not a url" },
    { url: "https://user:pass@hooks.test/ok" },
    { url: `https://hooks.test/${"x".repeat(2100)}` },
    { url: "https://hooks.test/ok", headers: { "webhook-signature": "v1,x" } },
    { url: "https://hooks.test/ok", headers: { "a b": "x" } },
    { url: "https://hooks.test/ok", headers: { a: "x\r\ny" } },
    { url: "https://hooks.test/ok", headers: { a: 1 } },
    { url: "https://hooks.test/ok", headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`h${i}`, "v"])) },
    { url: "https://hooks.test/ok", extra: 1 },
    { service: "NO_SUCH_BINDING" },
    { service: "QUEUE_PARTITION" },
    { service: "ASSETS" },
    { service: "not a name" },
  )
    .map((push): Req => ({ method: "PUT", path: `/v1/queues/${fixture}`, headers: jsonHeaders, body: json({ push }) })),
  fc.constantFrom(...(Object.keys(PUSH_RANGES) as (keyof typeof PUSH_RANGES)[]))
    .chain((field) => badInt(PUSH_RANGES[field].min, PUSH_RANGES[field].max).map((value) => ({ url: "https://hooks.test/ok", [field]: value })))
    .map((push): Req => ({ method: "PUT", path: `/v1/queues/${fixture}`, headers: jsonHeaders, body: json({ push }) })),
  fc.constantFrom("limit=0", "limit=1001", "stats=maybe", "cursor=a/b", "x=1", "limit=abc")
    .map((qs): Req => ({ method: "GET", path: `/v1/queues?${qs}`, headers: admin })),
  fc.constantFrom("limit=0", "limit=101", "cursor=zz", "x=1")
    .map((qs): Req => ({ method: "GET", path: `/v1/queues/${fixture}/messages?${qs}`, headers: admin })),
  // Tokens with wrong values.
  fc.constantFrom<unknown>({ scopes: ["admin"], queues: ["a"] }, { scopes: "publish", queues: ["a"] }, { scopes: ["publish"], queues: ["a*b"] }, { scopes: ["publish", "publish"], queues: ["a"] }, { scopes: ["publish"], queues: ["a"], expiresInSeconds: -5 }, { scopes: ["publish"], queues: Array.from({ length: 101 }, (_, i) => `q${i}`) })
    .map((b): Req => ({ method: "POST", path: "/v1/tokens", headers: jsonHeaders, body: json(b) })),
);

/** The admin token, with headers that are wrong. */
const badHeaders = fc.oneof(
  fc.tuple(
    fc.constantFrom(...POST_ROUTES),
    fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/jsonx", "json", "text/json", "application/json-seq", "*/*", "application/octet-stream"),
  ).map(([path, type]): Req => ({ method: "POST", path, headers: { ...admin, "content-type": type }, body: json({ body: 1 }) })),
  fc.tuple(fc.constantFrom(...POST_ROUTES), fc.string({ maxLength: 40, unit: "binary-ascii" }))
    .map(([path, type]) => [path, type.replace(/[^\x20-\x7e]/g, "").trim()] as const)
    .filter(([, type]) => type !== "" && !/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type))
    .map(([path, type]): Req => ({ method: "POST", path, headers: { ...admin, "content-type": type }, body: json({ body: 1, x: 1 }) })),
);

/** Queue names that are not names: in every route, with the admin token. */
const badQueueName = fc
  .oneof(
    fc.string({ minLength: 65, maxLength: 100, unit: fc.constantFrom("a", "b", "-", "_") }),
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !QUEUE_NAME_PATTERN.test(s)),
    fc.constantFrom("a.b", "a b", "%00", "é", "a%2Fb", "..", "%2e%2e", "a%", "%zz", "<script>", "a;b", "a*", "*", "\u{1F4A5}", "a\u0000b"),
  )
  // "." is a path segment the URL parser removes: the request would then name another route.
  .filter((s) => !QUEUE_NAME_PATTERN.test(s) && !/^(\.|%2e)$/i.test(s))
  .chain((name) =>
    fc.constantFrom(...ALL_ROUTES.filter(([, p]) => p.includes(fixture))).map(([method, path]): Req => {
      const encoded = /%/.test(name) ? name : encodeURIComponent(name);
      return {
        method,
        path: path.replace(fixture, encoded),
        headers: jsonHeaders,
        body: method === "GET" || method === "DELETE" ? undefined : json({ body: 1 }),
      };
    }),
  );

/** Methods no route has, known paths with a method they do not take, paths that are not routes. */
const oddRoute = fc.oneof(
  fc.tuple(// workerd takes the HTTP methods it knows (WebDAV and friends), no others.
    fc.constantFrom("PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "MKCOL", "MOVE", "COPY", "PURGE", "REPORT", "SEARCH", "ACL", "NOTIFY", "SUBSCRIBE", "MERGE", "TRACE", "patch", "purge"), fc.constantFrom(...ALL_ROUTES.map(([, p]) => p)))
    .map(([method, path]): Req => ({ method, path, headers: admin })),
  fc.tuple(
    fc.constantFrom("PUT", "PATCH", "DELETE", "GET"),
    fc.constantFrom(R.receive, R.ack, R.nack, R.extend, R.redrive, "/v1/tokens"),
  ).map(([method, path]): Req => ({ method, path, headers: jsonHeaders, body: method === "GET" || method === "DELETE" ? undefined : json({ body: 1 }) })),
  fc.tuple(fc.constantFrom("POST", "PUT", "PATCH", "DELETE"), fc.constantFrom(R.stats, T.stats)).map(([method, path]): Req => ({ method, path, headers: jsonHeaders, body: method === "DELETE" ? undefined : "{}" })),
  fc.tuple(fc.constantFrom("PATCH", "POST"), fc.constantFrom(T.topic)).map(([method, path]): Req => ({ method, path, headers: jsonHeaders, body: "{}" })),
  fc.tuple(fc.constantFrom("GET", "PUT", "DELETE", "PATCH"), fc.constantFrom(T.publish)).map(([method, path]): Req => ({ method, path, headers: jsonHeaders, body: method === "GET" || method === "DELETE" ? undefined : "{}" })),
  fc.tuple(fc.constantFrom("GET", "POST", "DELETE"), fc.array(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 5 }))
    .map(([method, segments]): Req => ({
      method,
      path: `/v1/zz-${segments.map(encodeURIComponent).join("/")}`,
      headers: jsonHeaders,
      body: method === "POST" ? "{}" : undefined,
    })),
  fc.constantFrom(
    `/v1/queues/${fixture}/messages/receive/extra`,
    `/v1/queues/${fixture}/messages//receive`,
    `/v1/queues//messages`,
    `/v1/queues/${fixture}/stats/..%2F..%2Ftokens`,
    `/V1/queues/${fixture}/stats`,
    "/v2/queues",
    "/%",
    "/v1/%E0%A4%A",
    `/v1/queues/${fixture}/dead-letters/redrive/`.repeat(20),
  ).map((path): Req => ({ method: "POST", path, headers: jsonHeaders, body: json({ body: 1, x: 1 }) })),
);

/** A frame of a consume stream, text or binary, invalid by construction. */
type Frame = string | Uint8Array;

const settleType = fc.constantFrom("ack", "nack", "extend", "release");
/** A settle frame whose receipts (and only they) are wrong. */
const badReceipts = fc
  .tuple(
    settleType,
    fc.oneof(
      fc.array(notReceiptValue, { minLength: 1, maxLength: 3 }).chain((bad) => fc.boolean().map((withReal) => (withReal ? () => [leasedReceipt, ...bad] : () => bad))),
      fc.constantFrom(
        () => [],
        () => Array.from({ length: LIMITS.maxBatch + 1 }, () => leasedReceipt),
        // A receipt of a partition the stream is not on.
        () => [leasedReceipt.replace(/^0\./, "1.")],
        () => leasedReceipt,
        () => null,
        () => ({ receipt: leasedReceipt }),
      ),
    ),
  )
  .map(([type, receipts]) => () => json({ type, id: 1, receipts: receipts(), ...(type === "extend" ? { visibilityTimeoutMs: 5000 } : {}) }));

const hostileFrame = fc
  .oneof(
    // Not JSON, or JSON that is not an object.
    fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom("{", "[1,", "{'a':1}", "nul", "\u0000", '{"type":"ack"}}', "NaN", "ping ", "PING"))
      .filter((text) => {
        try {
          JSON.parse(text);
          return false;
        } catch {
          return true;
        }
      })
      .map((text) => () => text),
    fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean(), fc.array(anyJson, { maxLength: 3 })).map((v) => () => json(v)),
    // No type, a type that is not one, an unknown field.
    fc.constantFrom<unknown>({}, { type: "ACK" }, { type: "receive", max: 1 }, { type: "__proto__" }, { type: "constructor" }, { type: ["ack"] }, { type: null }).map((v) => () => json(v)),
    fc.tuple(fc.constantFrom("ack", "nack", "extend", "release", "prefetch"), withUnknownKey).map(([type, o]) => () => json({ ...o, type, id: 1, receipts: [leasedReceipt], prefetch: 1 })),
    // Settle frames without an id, or with one that is not an id.
    settleType.map((type) => () => json({ type, receipts: [leasedReceipt], ...(type === "extend" ? { visibilityTimeoutMs: 5000 } : {}) })),
    fc.tuple(settleType, fc.constantFrom<unknown>(-1, 1.5, "1", null, [], {}, Number.MAX_SAFE_INTEGER + 2)).map(([type, id]) => () => json({ type, id, receipts: [leasedReceipt] })),
    badReceipts,
    // The real receipt of the leased message, with another field wrong: nothing may happen to the lease.
    badInt(0, LIMITS.maxDelayMs).map((delayMs) => () => json({ type: "nack", id: 2, receipts: [leasedReceipt], delayMs })),
    fc.constantFrom<unknown>(1, null, ["e"], { m: 1 }, "x".repeat(4097)).map((error) => () => json({ type: "nack", id: 3, receipts: [leasedReceipt], error })),
    badInt(LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs).map((visibilityTimeoutMs) => () => json({ type: "extend", id: 4, receipts: [leasedReceipt], visibilityTimeoutMs })),
    fc.constant(() => json({ type: "extend", id: 5, receipts: [leasedReceipt] })),
    // A prefetch out of range.
    badInt(0, LIMITS.maxPrefetch).map((prefetch) => () => json({ type: "prefetch", prefetch })),
    // Deep JSON, a frame over the limit, binary frames.
    deepJsonText.map((text) => () => `{"type":"ack","id":1,"receipts":${text}}`),
    fc.constantFrom(LIMITS.maxFrameBytes + 1, 200_000).map((n) => () => json({ type: "ack", id: 1, receipts: [leasedReceipt], pad: "x".repeat(n) })),
    fc.constantFrom(2 ** 15, 2 ** 14).map((n) => () => `{"type":"nack","id":1,"receipts":["${leasedReceipt}"],"error":"${"\u00e9".repeat(n)}"}`),
    fc.uint8Array({ minLength: 0, maxLength: 64 }).map((bytes) => () => bytes),
  )
  .map((make) => {
    const frame = make as () => Frame;
    return Object.assign(frame, { [fc.toStringMethod]: () => String(typeof frame() === "string" ? frame() : "<bytes>").slice(0, 200) });
  });

/** Counterexamples print short: a request can be a megabyte. */
const labelled = (req: Req): Req =>
  Object.assign(req, {
    [fc.toStringMethod]: () =>
      `${req.method} ${req.path.slice(0, 150)} ${JSON.stringify(req.headers).slice(0, 200)} body(${req.body?.length ?? 0}): ${String(typeof req.body === "string" ? req.body : "<bytes>").slice(0, 200)}`,
  });

const hostile = fc.oneof(
  { arbitrary: badToken, weight: 3 },
  { arbitrary: badBody, weight: 6 },
  { arbitrary: badHeaders, weight: 1 },
  { arbitrary: badQueueName, weight: 2 },
  { arbitrary: oddRoute, weight: 2 },
).map(labelled);

async function sendRaw(req: Req) {
  const res = await SELF.fetch(`${BASE}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  return { status: res.status, text };
}

// ---- the test ---------------------------------------------------------------

describe("hostile input", () => {
  beforeAll(async () => {
    // One message in each state: dead letter, leased, delayed, ready.
    await send(fixture, { body: "dead" });
    for (let attempt = 0; attempt < 5; attempt++) {
      const [m] = await receive(fixture);
      await settle(fixture, "nack", { receipts: [m.receipt], delayMs: 0, error: "fixture" });
    }
    await send(fixture, { body: "leased", groupId: "g1", dedupId: "d1" });
    leasedReceipt = (await receive(fixture, { visibilityTimeoutMs: LIMITS.maxVisibilityTimeoutMs }))[0].receipt;
    await send(fixture, { messages: [{ body: "delayed", delayMs: LIMITS.maxDelayMs }, { body: { ready: [1, "two"] }, attributes: { k: "v" } }] });

    // The fixture topic: one subscription, a message delivered, a dedup id remembered; nothing pending.
    await putTopic(fixture, { subscriptions: [{ queue: fanQueue, filter: { k: ["v"] } }], dedupWindowMs: 3_600_000 });
    await publish(fixture, { messages: [{ body: "fanned", attributes: { k: "v" }, dedupId: "t1" }, { body: "filtered" }] });
    for (let i = 0; i < 100 && (await topicStats(fixture)).pending > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await topicStats(fixture)).toMatchObject({ published: 2, filtered: 1, pending: 0 });

    const other = uniqueQueue("other");
    const valid = await mintToken(SECRET, { scopes: ["publish", "consume", "manage"], queues: [fixture] });
    const [head, payload] = valid.token.split(".");
    const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const hs512 = await mintToken(SECRET, { scopes: ["manage"], queues: ["*"] });
    tokens = {
      forged: (await mintToken("guessed-secret", { scopes: ["publish", "consume", "manage"], queues: ["*"] })).token,
      expired: (await mintToken(SECRET, { scopes: ["publish", "consume", "manage"], queues: ["*"], now: Date.now() - 86_400_000 })).token,
      "alg-none": `${b64({ alg: "none", typ: "JWT" })}.${payload}.`,
      swapped: `${head}.${b64({ scopes: ["manage"], queues: ["*"], exp: 9_999_999_999 })}.${valid.token.split(".")[2]}`,
      "other-queue": (await mintToken(SECRET, { scopes: ["publish", "consume", "manage"], queues: [other, `${other}-*`] })).token,
      // Consume on the right queue: it passes on receive and settle, where the body ({body: 1}) is wrong;
      // stats takes any scope, so badToken swaps it out there.
      "wrong-scope": (await mintToken(SECRET, { scopes: ["consume"], queues: [fixture] })).token,
      hs512: `${b64({ alg: "HS512", typ: "JWT" })}.${hs512.token.split(".")[1]}.${hs512.token.split(".")[2]}`,
      "no-exp": `${head}.${b64({ scopes: ["manage"], queues: ["*"] })}.${valid.token.split(".")[2]}`,
      "weird-claims": (await mintToken(SECRET, { scopes: [{}] as never, queues: "*" as never })).token,
    };
  });

  it(`answers ${RUNS} hostile requests with a 4xx from the closed set, and changes nothing`, async () => {
    const before = await snapshot();
    const countsBefore = await counts();
    const configBefore = await config();
    expect(countsBefore).toEqual({ ready: 1, delayed: 1, inFlight: 1, deadLetters: 1 });

    let ran = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (req) => {
        ran++;
        const res = await sendRaw(req);
        const label = `${req.method} ${req.path.slice(0, 120)} -> ${res.status} ${res.text.slice(0, 200)}`;
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        const code = (JSON.parse(res.text) as { error: { code: ErrorCode } }).error.code;
        expect(Object.keys(ERROR_STATUS), label).toContain(code);
        expect(ERROR_STATUS[code], label).toBe(res.status);
        if (ran % 200 === 0) expect(await snapshot(), `state after ${label}`).toBe(before);
      }),
      { numRuns: RUNS, seed: FUZZ_SEED, verbose: 1 },
    );
    expect(ran).toBeGreaterThanOrEqual(1000);
    expect(await snapshot()).toBe(before);
    expect(await counts()).toEqual(countsBefore);
    expect(await config()).toBe(configBefore);
  }, 120_000);

  it(`answers ${RUNS} hostile frames of a consume stream with error frames from the closed set, and changes nothing`, async () => {
    const before = await snapshot();
    const countsBefore = await counts();
    // Prefetch 0: the stream is pushed nothing, so that any change to the fixture would be a frame's doing.
    const stream = await openStream(fixture, { prefetch: 0 });
    await stream.until((t) => t.frames.length === 1);
    expect(stream.frames[0]).toMatchObject({ type: "welcome" });

    let ran = 0;
    await fc.assert(
      fc.asyncProperty(hostileFrame, async (make) => {
        ran++;
        const frame = make();
        const errors = stream.frames.length;
        stream.ws.send(frame);
        await stream.until((t) => t.frames.length > errors);
        const label = `${String(typeof frame === "string" ? frame : "<bytes>").slice(0, 200)} -> ${JSON.stringify(stream.frames.slice(errors))}`;
        expect(stream.frames.length, label).toBe(errors + 1);
        const answer = stream.frames[errors];
        expect(answer.type, label).toBe("error");
        if (answer.type !== "error") return;
        expect(Object.keys(ERROR_STATUS), label).toContain(answer.code);
        expect(ERROR_STATUS[answer.code], label).toBeGreaterThanOrEqual(400);
        expect(ERROR_STATUS[answer.code], label).toBeLessThan(500);
        expect(stream.closed, label).toBeNull();
        if (ran % 200 === 0) expect(await snapshot(), `state after ${label}`).toBe(before);
      }),
      { numRuns: RUNS, seed: FUZZ_SEED, verbose: 1 },
    );
    expect(ran).toBeGreaterThanOrEqual(1000);
    // The stream still works: a settle frame with the real receipt is answered.
    const [extended] = await stream.settle("extend", [leasedReceipt], { visibilityTimeoutMs: LIMITS.maxVisibilityTimeoutMs });
    expect(extended).toMatchObject({ receipt: leasedReceipt, ok: true });
    stream.close();
    await stream.until((t) => t.closed !== null);
    expect(await counts()).toEqual(countsBefore);
    const after = JSON.parse(await snapshot());
    // The extend moved the leased message's lease end (kept in the leases table, not in these rows): nothing else changed.
    expect(after).toEqual(JSON.parse(before));
  }, 120_000);

  it("the body limit applies before parsing, whatever Content-Length claims", async () => {
    const huge = new Uint8Array(LIMITS.maxRequestBytes + 1).fill(0x20);
    const res = await SELF.fetch(`${BASE}${R.enqueue}`, { method: "POST", headers: jsonHeaders, body: huge });
    expect(res.status).toBe(413);
    // A streamed body has no Content-Length: it is counted as it arrives.
    let chunks = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (chunks++ >= 32) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x5b));
      },
    });
    const streamed = await SELF.fetch(`${BASE}${R.enqueue}`, { method: "POST", headers: jsonHeaders, body: stream });
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("names the field in validation errors", async () => {
    const cases: [string, unknown, string][] = [
      [R.enqueue, { messages: [{ body: 1 }, { body: 1, delayMs: -1 }] }, "messages[1].delayMs"],
      [R.enqueue, { body: 1, groupId: "a b" }, "groupId"],
      [R.receive, { max: 0 }, "max"],
      [R.receive, { visibilityTimeoutMs: 5 }, "visibilityTimeoutMs"],
      [R.nack, { receipts: ["nope"] }, "receipts[0]"],
      [R.extend, { receipts: [leasedReceipt] }, "visibilityTimeoutMs"],
    ];
    for (const [path, body, field] of cases) {
      const res = await post(path, body);
      // 400 for a wrong shape, 422 for a wrong value: either way the field is named.
      expect([400, 422], field).toContain(res.status);
      expect(res.json.error.message, field).toContain(field);
    }
  });
});
