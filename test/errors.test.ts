import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_CONFIG, ERROR_STATUS, LIMITS } from "../client/protocol";
import { type Fixture, type PartitionState, buildFixture, callRaw, expectUntouched, inspect } from "./fixture";
import { stats } from "./helpers";

/**
 * Every bad request answers `{"error": {"code", "message"}}` with a code from
 * the closed set and its status, never a 500 or a stack trace, and changes
 * nothing: each case runs against the fixture queue and checks it after.
 * (Real time here: the fixture's leases and delays are minutes long.)
 */

let fx: Fixture;
let before: PartitionState;
let statsBefore: Awaited<ReturnType<typeof stats>>;

beforeAll(async () => {
  fx = await buildFixture("err");
  before = await inspect(fx.queue);
  statsBefore = await stats(fx.queue);
});

const counts = (s: Awaited<ReturnType<typeof stats>>) => ({
  ready: s.ready,
  delayed: s.delayed,
  inFlight: s.inFlight,
  deadLetters: s.deadLetters,
});

interface Case {
  name: string;
  method?: string;
  /** Path below `/v1/queues/<fixture queue>`, or an absolute path when it starts with `//`. */
  path: string;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  contentType?: string | null;
  status: number;
  code: keyof typeof ERROR_STATUS;
  /** Text the message must contain, e.g. the field name. */
  mentions?: string;
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const receipt = () => fx.leasedReceipt;
const big = "x".repeat(DEFAULT_QUEUE_CONFIG.maxMessageBytes);

const cases = (): Case[] => [
  // 400 INVALID_JSON
  { name: "enqueue, truncated JSON", path: "/messages", body: '{"body":', status: 400, code: "INVALID_JSON" },
  { name: "receive, not JSON", path: "/messages/receive", body: "{max:1}", status: 400, code: "INVALID_JSON" },
  { name: "ack, not JSON", path: "/messages/ack", body: "[", status: 400, code: "INVALID_JSON" },
  { name: "nack, not JSON", path: "/messages/nack", body: "nack!", status: 400, code: "INVALID_JSON" },
  { name: "extend, not JSON", path: "/messages/extend", body: "{", status: 400, code: "INVALID_JSON" },
  { name: "redrive, not JSON", path: "/dead-letters/redrive", body: "{ids:[]}", status: 400, code: "INVALID_JSON" },
  { name: "no Content-Type, not JSON", path: "/messages", body: "{oops", contentType: null, status: 400, code: "INVALID_JSON" },
  { name: "JSON nested 100000 deep", path: "/messages", body: `{"body":${nested(100_000)}}`, status: 422, code: "INVALID_VALUE", mentions: "nested" },

  // 400 INVALID_REQUEST: the shape or a type is wrong; the message names the field
  {
    name: "a wrong type deep in a batch",
    path: "/messages",
    body: { messages: [{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4, delayMs: "5" }] },
    status: 400,
    code: "INVALID_REQUEST",
    mentions: "messages[3].delayMs",
  },
  { name: "an unknown field", path: "/messages", body: { body: 1, dealyMs: 5 }, status: 400, code: "INVALID_REQUEST", mentions: "dealyMs" },
  { name: "no body", path: "/messages", body: { delayMs: 5 }, status: 400, code: "INVALID_REQUEST", mentions: "body: required" },
  { name: "no body in a batch", path: "/messages", body: { messages: [{ body: 1 }, { delayMs: 5 }] }, status: 400, code: "INVALID_REQUEST", mentions: "messages[1].body: required" },
  {
    name: "an attribute that is not a string",
    path: "/messages",
    body: { body: 1, attributes: { n: 1 } },
    status: 400,
    code: "INVALID_REQUEST",
    mentions: "attributes.n",
  },
  { name: "nested attributes", path: "/messages", body: { body: 1, attributes: { a: { b: "c" } } }, status: 400, code: "INVALID_REQUEST", mentions: "attributes.a" },
  { name: "a JSON array as request", path: "/messages", body: [{ body: 1 }], status: 400, code: "INVALID_REQUEST" },
  { name: "messages not a list", path: "/messages", body: { messages: "x" }, status: 400, code: "INVALID_REQUEST", mentions: "messages" },
  { name: "max as a string", path: "/messages/receive", body: { max: "10" }, status: 400, code: "INVALID_REQUEST", mentions: "max" },
  { name: "receive with an unknown field", path: "/messages/receive", body: { limit: 10 }, status: 400, code: "INVALID_REQUEST", mentions: "limit" },
  { name: "ack without receipts", path: "/messages/ack", body: {}, status: 400, code: "INVALID_REQUEST", mentions: "receipts" },
  { name: "receipts not a list", path: "/messages/ack", body: { receipts: "abc" }, status: 400, code: "INVALID_REQUEST", mentions: "receipts" },
  { name: "a receipt not a string", path: "/messages/ack", body: { receipts: [7] }, status: 400, code: "INVALID_REQUEST", mentions: "receipts[0]" },
  { name: "nack error not a string", path: "/messages/nack", body: () => ({ receipts: [receipt()], error: 5 }), status: 400, code: "INVALID_REQUEST", mentions: "error" },
  { name: "extend without visibilityTimeoutMs", path: "/messages/extend", body: () => ({ receipts: [receipt()] }), status: 400, code: "INVALID_REQUEST", mentions: "visibilityTimeoutMs: required" },
  { name: "redrive ids not a list", path: "/dead-letters/redrive", body: { ids: "x" }, status: 400, code: "INVALID_REQUEST", mentions: "ids" },
  { name: "dead letters, limit not a number", method: "GET", path: "/dead-letters?limit=abc", status: 400, code: "INVALID_REQUEST", mentions: "limit" },
  { name: "dead letters, unknown parameter", method: "GET", path: "/dead-letters?after=3", status: 400, code: "INVALID_REQUEST", mentions: "after" },
  { name: "a queue name with a dot", path: "//v1/queues/bad.name/messages", body: { body: 1 }, status: 400, code: "INVALID_REQUEST", mentions: "queue" },
  { name: "a queue name of 65 characters", method: "GET", path: `//v1/queues/${"q".repeat(65)}/stats`, status: 400, code: "INVALID_REQUEST", mentions: "queue" },
  { name: "a queue name with bad percent-encoding", method: "GET", path: "//v1/queues/%E0%A4%A/stats", status: 400, code: "INVALID_REQUEST", mentions: "queue" },

  // 422 INVALID_VALUE: the shape is right, a value is not
  { name: "a negative delay", path: "/messages", body: { body: 1, delayMs: -1 }, status: 422, code: "INVALID_VALUE", mentions: "delayMs" },
  { name: "a delay past the limit", path: "/messages", body: { body: 1, delayMs: LIMITS.maxDelayMs + 1 }, status: 422, code: "INVALID_VALUE", mentions: "delayMs" },
  {
    name: "a bad value deep in a batch",
    path: "/messages",
    body: { messages: [{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4, delayMs: -5 }] },
    status: 422,
    code: "INVALID_VALUE",
    mentions: "messages[3].delayMs",
  },
  {
    name: "a batch of 101",
    path: "/messages",
    body: { messages: Array.from({ length: 101 }, () => ({ body: 1 })) },
    status: 422,
    code: "INVALID_VALUE",
    mentions: "messages",
  },
  { name: "an empty batch", path: "/messages", body: { messages: [] }, status: 422, code: "INVALID_VALUE", mentions: "messages" },
  { name: "a body nested too deep", path: "/messages", body: `{"body":${nested(LIMITS.maxBodyDepth + 1)}}`, status: 422, code: "INVALID_VALUE", mentions: "body" },
  { name: "an attribute name too long", path: "/messages", body: { body: 1, attributes: { ["k".repeat(257)]: "v" } }, status: 422, code: "INVALID_VALUE", mentions: "attributes" },
  { name: "max 0", path: "/messages/receive", body: { max: 0 }, status: 422, code: "INVALID_VALUE", mentions: "max" },
  { name: "max 101", path: "/messages/receive", body: { max: 101 }, status: 422, code: "INVALID_VALUE", mentions: "max" },
  { name: "a lease under 1 s", path: "/messages/receive", body: { visibilityTimeoutMs: 999 }, status: 422, code: "INVALID_VALUE", mentions: "visibilityTimeoutMs" },
  { name: "a lease over 12 h", path: "/messages/receive", body: { visibilityTimeoutMs: LIMITS.maxVisibilityTimeoutMs + 1 }, status: 422, code: "INVALID_VALUE", mentions: "visibilityTimeoutMs" },
  { name: "no receipts", path: "/messages/ack", body: { receipts: [] }, status: 422, code: "INVALID_VALUE", mentions: "receipts" },
  { name: "101 receipts", path: "/messages/ack", body: () => ({ receipts: Array(101).fill(receipt()) }), status: 422, code: "INVALID_VALUE", mentions: "receipts" },
  { name: "a malformed receipt", path: "/messages/ack", body: () => ({ receipts: [receipt(), "nope"] }), status: 422, code: "INVALID_VALUE", mentions: "receipts[1]" },
  { name: "a negative nack delay", path: "/messages/nack", body: () => ({ receipts: [receipt()], delayMs: -1 }), status: 422, code: "INVALID_VALUE", mentions: "delayMs" },
  { name: "a nack error too long", path: "/messages/nack", body: () => ({ receipts: [receipt()], error: "e".repeat(4097) }), status: 422, code: "INVALID_VALUE", mentions: "error" },
  { name: "an extend under 1 s", path: "/messages/extend", body: () => ({ receipts: [receipt()], visibilityTimeoutMs: 500 }), status: 422, code: "INVALID_VALUE", mentions: "visibilityTimeoutMs" },
  { name: "dead letters, limit 0", method: "GET", path: "/dead-letters?limit=0", status: 422, code: "INVALID_VALUE", mentions: "limit" },
  { name: "dead letters, limit 101", method: "GET", path: "/dead-letters?limit=101", status: 422, code: "INVALID_VALUE", mentions: "limit" },
  { name: "dead letters, a bad cursor", method: "GET", path: "/dead-letters?cursor=abc", status: 422, code: "INVALID_VALUE", mentions: "cursor" },
  { name: "redrive of no ids", path: "/dead-letters/redrive", body: { ids: [] }, status: 422, code: "INVALID_VALUE", mentions: "ids" },
  { name: "redrive of an empty id", path: "/dead-letters/redrive", body: { ids: [""] }, status: 422, code: "INVALID_VALUE", mentions: "ids[0]" },

  // 404, 405
  { name: "an unknown route", method: "GET", path: "//v1/nothing-here", status: 404, code: "NOT_FOUND" },
  { name: "an unknown route under a queue", path: "/messages/peekaboo", body: {}, status: 404, code: "NOT_FOUND" },
  { name: "GET on receive", method: "GET", path: "/messages/receive", status: 405, code: "METHOD_NOT_ALLOWED" },
  { name: "DELETE on stats", method: "DELETE", path: "/stats", status: 405, code: "METHOD_NOT_ALLOWED" },
  { name: "PATCH on dead letters", method: "PATCH", path: "/dead-letters", body: {}, status: 405, code: "METHOD_NOT_ALLOWED" },

  // 413, 415
  {
    name: "a request over 1 MiB",
    path: "/messages",
    body: JSON.stringify({ body: "x".repeat(LIMITS.maxRequestBytes) }),
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
  },
  { name: "one message over 256 KiB", path: "/messages", body: { body: big }, status: 413, code: "PAYLOAD_TOO_LARGE", mentions: "maxMessageBytes" },
  {
    name: "one message of a batch over 256 KiB",
    path: "/messages",
    body: { messages: [{ body: 1 }, { body: 2, attributes: { a: big } }] },
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    mentions: "messages[1]",
  },
  { name: "text/plain", path: "/messages", body: '{"body":1}', contentType: "text/plain", status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
  { name: "a form", path: "/messages/ack", body: "receipts=1", contentType: "application/x-www-form-urlencoded", status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
];

describe("errors", () => {
  // The list is built lazily: some bodies need the fixture's receipt.
  const names = cases().map((c) => c.name);
  it.each(names)("%s", async (name) => {
    const c = cases().find((x) => x.name === name)!;
    const path = c.path.startsWith("//") ? c.path.slice(1) : `/v1/queues/${fx.queue}${c.path}`;
    const raw = typeof c.body === "function" ? (c.body as () => unknown)() : c.body;
    const body = raw === undefined ? undefined : typeof raw === "string" ? raw : JSON.stringify(raw);
    const contentType = c.contentType === undefined ? (body === undefined ? null : "application/json") : c.contentType;
    const res = await callRaw(c.method ?? "POST", path, body, contentType === null ? {} : { "content-type": contentType });

    expect({ status: res.status, code: res.json?.error?.code }, res.text.slice(0, 300)).toEqual({
      status: c.status,
      code: c.code,
    });
    expect(ERROR_STATUS[c.code]).toBe(c.status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Object.keys(res.json)).toEqual(["error"]);
    expect(Object.keys(res.json.error).sort()).toEqual(["code", "message"]);
    expect(typeof res.json.error.message).toBe("string");
    expect(res.json.error.message.length).toBeGreaterThan(0);
    expect(res.json.error.message).not.toMatch(/\bat .+:\d+|\.ts\b|Error:/);
    if (c.mentions) expect(res.json.error.message).toContain(c.mentions);
    if (c.status === 405) expect(res.headers.get("allow")).toBeTruthy();

    // Nothing changed.
    expectUntouched(before, await inspect(fx.queue));
    expect(counts(await stats(fx.queue))).toEqual(counts(statsBefore));
  });

  it("405 names the allowed methods in Allow", async () => {
    const res = await callRaw("GET", `/v1/queues/${fx.queue}/messages/receive`);
    expect(res.headers.get("allow")).toBe("POST");
    const dl = await callRaw("PATCH", `/v1/queues/${fx.queue}/dead-letters`);
    expect(dl.headers.get("allow")!.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD"]);
  });

  it("an empty body without Content-Type counts as {}", async () => {
    const q = `${fx.queue}-empty`;
    const res = await callRaw("POST", `/v1/queues/${q}/messages/receive`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ messages: [] });
  });
});
