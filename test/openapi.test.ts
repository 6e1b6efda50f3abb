/**
 * The OpenAPI document (GET /openapi.json) and the reference page (GET /docs):
 * every route the app serves is documented with its request, answers, error
 * codes and security; real answers match the documented schemas; the page
 * loads only files of its own origin. The document is checked against the
 * OpenAPI 3.1 schema by a real parser in test/direct/openapi.test.mjs (the
 * parser compiles code at run time, which workerd forbids).
 */
import { Validator } from "@cfworker/json-schema";
import { SELF } from "cloudflare:test";
import { Hono } from "hono";
import { uniqueSymbol } from "hono-openapi";
import { findTargetHandler } from "hono/utils/handler";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../client/protocol";
import { app } from "../worker/app";
import { requiredAccess } from "../worker/auth/access";
import * as answers from "../worker/openapi/answers";
import { documented } from "../worker/openapi/describe";
import { buildOpenApiDocument } from "../worker/openapi/document";
import type { AppEnv } from "../worker/types";
import { jsonBody, queryParams } from "../worker/validate";
import { BASE, call, uniqueQueue } from "./helpers";

type Doc = Record<string, any>;

const EVERY_ROUTE: ErrorCode[] = ["AUTH_NOT_CONFIGURED", "INTERNAL"];
const WITH_TOKEN: ErrorCode[] = ["UNAUTHORIZED", "FORBIDDEN"];
const WITH_BODY: ErrorCode[] = ["INVALID_JSON", "UNSUPPORTED_MEDIA_TYPE", "INVALID_REQUEST", "INVALID_VALUE", "PAYLOAD_TOO_LARGE"];
const WITH_QUERY: ErrorCode[] = ["INVALID_REQUEST", "INVALID_VALUE"];

/** `/v1/queues/:queue` as OpenAPI writes it. */
const openApiPath = (path: string) => path.replace(/\/:(\w+)(\{[^}]*\})?\??/g, "/{$1}");

/** The routes an app serves (middleware-only entries left out), with what their validators check. */
function servedRoutes(hono: Hono<AppEnv>) {
  const routes = new Map<string, { method: string; path: string; targets: Set<string> }>();
  for (const r of hono.routes) {
    if (r.method === "ALL") continue;
    const path = openApiPath(r.path.length > 1 ? r.path.replace(/\/$/, "") : r.path);
    const key = `${r.method} ${path}`;
    const route = routes.get(key) ?? { method: r.method, path, targets: new Set<string>() };
    const mark = (findTargetHandler(r.handler) as unknown as Record<symbol, { target?: string } | undefined>)[uniqueSymbol];
    if (mark?.target) route.targets.add(mark.target);
    routes.set(key, route);
  }
  return [...routes.values()];
}

/** The codes an error answer of the document names, after checking that it is the shared error body. */
function errorCodes(status: string, response: Doc, problem: (p: string) => void): ErrorCode[] {
  const schema = response?.content?.["application/json"]?.schema;
  if (schema?.allOf?.[0]?.$ref !== "#/components/schemas/ErrorBody") {
    problem(`${status} is not the shared error body`);
    return [];
  }
  const codes: ErrorCode[] = schema.allOf[1]?.properties?.error?.properties?.code?.enum ?? [];
  if (codes.length === 0) problem(`${status} names no error code`);
  for (const code of codes) {
    if (!(code in ERROR_STATUS)) problem(`${status} names ${code}, which is not an error code`);
    else if (String(ERROR_STATUS[code]) !== status) problem(`${status} names ${code}, which is ${ERROR_STATUS[code]}`);
  }
  return codes;
}

/**
 * What is wrong with the document of `hono`: a served route missing from it
 * or described in part, or an operation that no route serves. Empty when
 * every route is documented.
 */
function documentProblems(hono: Hono<AppEnv>, doc: Doc): string[] {
  const problems: string[] = [];
  const routes = servedRoutes(hono);
  const operationIds = new Set<string>();
  for (const { method, path, targets } of routes) {
    const problem = (p: string) => problems.push(`${method} ${path}: ${p}`);
    const op = doc.paths?.[path]?.[method.toLowerCase()];
    if (!op) {
      problem("not in the document");
      continue;
    }
    if (!op.operationId || !op.summary || !(op.tags?.length > 0)) problem("no operationId, summary or tag");
    if (operationIds.has(op.operationId)) problem(`operationId ${op.operationId} is used twice`);
    operationIds.add(op.operationId);

    const statuses = Object.keys(op.responses ?? {});
    const successes = statuses.filter((s) => /^(2\d\d|101)$/.test(s));
    if (successes.length === 0) problem("no successful answer");
    for (const status of successes) {
      const response = op.responses[status];
      if (!response.description) problem(`${status} has no description`);
      if (status === "101" || status === "204") continue;
      const media = Object.values(response.content ?? {}) as Doc[];
      if (media.length === 0 || media.some((m) => !m.schema || Object.keys(m.schema).length === 0)) {
        problem(`${status} has no answer schema`);
      }
    }

    const body = op.requestBody?.content?.["application/json"]?.schema;
    if (targets.has("json") && !body?.type && !body?.anyOf) {
      problem("takes a JSON body but documents no request schema");
    }
    if (targets.has("query") && !(op.parameters ?? []).some((p: Doc) => p.in === "query")) {
      problem("takes a query string but documents no query parameter");
    }

    const codes = new Set(statuses.filter((s) => Number(s) >= 400).flatMap((s) => errorCodes(s, op.responses[s], problem)));
    const access = requiredAccess(method, path);
    const needed = [
      ...EVERY_ROUTE,
      ...(access.kind === "public" ? [] : WITH_TOKEN),
      ...(targets.has("json") ? WITH_BODY : []),
      ...(targets.has("query") ? WITH_QUERY : []),
    ];
    for (const code of needed) if (!codes.has(code)) problem(`does not document ${code}`);

    const scoped = access.kind === "scoped" ? access.scopes.map((s) => ({ scopedToken: [s] })) : [];
    const security = access.kind === "public" ? [] : [{ adminToken: [] }, ...scoped];
    if (JSON.stringify(op.security) !== JSON.stringify(security)) {
      problem(`security ${JSON.stringify(op.security)} is not its access rule's`);
    }
  }
  const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${r.path}`));
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(item as Doc)) {
      if (!served.has(`${method} ${path}`)) problems.push(`${method.toUpperCase()} ${path}: documented but not served`);
    }
  }
  return problems;
}

async function servedDocument(): Promise<Doc> {
  const res = await SELF.fetch(`${BASE}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  return res.json();
}

/** Whether `value` is what the document says `method path` answers with `status`. */
function matchesDocument(doc: Doc, method: string, path: string, status: number, value: unknown) {
  const response = doc.paths[path]?.[method]?.responses?.[String(status)];
  if (!response) return { valid: false, errors: [`${method} ${path} documents no ${status}`] };
  const schema = response.content["application/json"].schema;
  // Refs point into the document's components: validate inside a copy of them.
  const validator = new Validator({ ...structuredClone(schema), components: structuredClone(doc.components) }, "2020-12", false);
  const result = validator.validate(value);
  return { valid: result.valid, errors: result.errors.map((e) => `${e.instanceLocation}: ${e.error}`) };
}

describe("openapi: the document", () => {
  it("is served at /openapi.json without a token, as an OpenAPI 3.1 document built from the app", async () => {
    const doc = await servedDocument();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("edgeq");
    expect(doc).toEqual(await buildOpenApiDocument(app));
    // A request with a token that is not valid is still answered: the route is public.
    const res = await SELF.fetch(`${BASE}/openapi.json`, { headers: { authorization: "Bearer nope" } });
    expect(res.status).toBe(200);
  });

  it("documents every route the app serves: request, answers, error codes and security", async () => {
    const doc = await servedDocument();
    expect(documentProblems(app, doc)).toEqual([]);
    const routes = servedRoutes(app);
    // The walk covers the API (a sanity check of servedRoutes itself).
    expect(routes.length).toBeGreaterThanOrEqual(20);
    expect(routes.find((r) => r.path === "/v1/queues/{queue}/messages" && r.method === "POST")?.targets).toEqual(new Set(["json"]));
    expect(routes.find((r) => r.path === "/v1/queues/{queue}/dead-letters" && r.method === "GET")?.targets).toEqual(new Set(["query"]));
  });

  it("catches a route added without its documentation", async () => {
    const probe = new Hono<AppEnv>();
    probe.route("/", app);
    probe.post("/v1/queues/:queue/topics", jsonBody(z.strictObject({ name: z.string() })), (c) => c.json({ ok: true }));
    probe.get("/v1/undocumented", (c) => c.text("no docs"));
    probe.get(
      "/v1/documented",
      documented({ operationId: "probe", summary: "A documented probe", tag: "Queues", answers: { 200: "apiIndex" } }),
      queryParams(z.strictObject({ n: z.string().optional() })),
      (c) => c.json({ name: "edgeq", api: "/v1" }),
    );
    const problems = documentProblems(probe, await buildOpenApiDocument(probe));
    expect(problems.filter((p) => p.startsWith("POST /v1/queues/{queue}/topics:"))).toEqual(
      expect.arrayContaining([expect.stringContaining("no operationId"), expect.stringContaining("no answer schema")]),
    );
    expect(problems).toContain("GET /v1/undocumented: not in the document");
    expect(problems.filter((p) => p.startsWith("GET /v1/documented"))).toEqual([]);
    expect(problems.filter((p) => !p.includes("/topics") && !p.includes("/v1/undocumented"))).toEqual([]);
  });

  it("takes request schemas from the routes' validators, and the enqueue body's documented shape", async () => {
    const doc = await servedDocument();
    const enqueue = doc.paths["/v1/queues/{queue}/messages"].post.requestBody;
    expect(enqueue.required).toBe(true);
    const [single, batch] = enqueue.content["application/json"].schema.anyOf;
    expect(single.required).toEqual(["body"]);
    expect(batch.properties.messages.maxItems).toBe(100);
    // An empty body counts as {}: receive takes its defaults.
    const receive = doc.paths["/v1/queues/{queue}/messages/receive"].post.requestBody;
    expect(receive.required).toBe(false);
    expect(receive.content["application/json"].schema.properties.waitMs).toMatchObject({ maximum: 20_000, default: 0 });
    const peek = doc.paths["/v1/queues/{queue}/messages"].get.parameters;
    expect(peek).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: "query", name: "limit" }),
        expect.objectContaining({ in: "path", name: "queue", required: true, schema: expect.objectContaining({ pattern: "^[A-Za-z0-9_-]{1,64}(?:\\.fifo)?$" }) }),
      ]),
    );
  });

  it("names each route's own error codes and derives the rest", async () => {
    const doc = await servedDocument();
    const codes = (path: string, method: string) =>
      Object.entries(doc.paths[path][method].responses as Doc)
        .filter(([s]) => Number(s) >= 400)
        .flatMap(([, r]) => (r as Doc).content["application/json"].schema.allOf[1].properties.error.properties.code.enum);
    expect(codes("/v1/queues/{queue}/messages", "post")).toEqual(
      expect.arrayContaining(["QUEUE_FULL", "QUEUE_NOT_FOUND", "UNAVAILABLE", "INVALID_JSON", "PAYLOAD_TOO_LARGE", "UNAUTHORIZED"]),
    );
    expect(codes("/v1/queues/{queue}", "put")).toContain("CONFLICT");
    // A public route cannot answer 401 or 403, nor a route without a body 415.
    expect(codes("/docs", "get").sort()).toEqual(["AUTH_NOT_CONFIGURED", "INTERNAL"]);
    expect(codes("/v1/queues/{queue}/stats", "get")).not.toContain("UNSUPPORTED_MEDIA_TYPE");
    // Scopes from worker/auth/access.ts.
    expect(doc.paths["/v1/queues/{queue}/stats"].get.security).toEqual([
      { adminToken: [] },
      { scopedToken: ["publish"] },
      { scopedToken: ["consume"] },
      { scopedToken: ["manage"] },
    ]);
    expect(doc.paths["/v1/tokens"].post.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths["/metrics"].get.description).toContain("covering every queue");
  });
});

describe("openapi: real answers match the documented schemas", () => {
  /** Checks an answer against the document and against the zod schema of answers.ts. */
  async function expectDocumented(doc: Doc, method: string, path: string, res: { status: number; json: unknown; text: string }, schema: z.ZodType) {
    const check = matchesDocument(doc, method, path, res.status, res.json);
    expect(check.errors, `${method} ${path} ${res.status}: ${res.text.slice(0, 300)}`).toEqual([]);
    expect(check.valid).toBe(true);
    const parsed = schema.safeParse(res.json);
    expect(parsed.error?.issues ?? [], `${method} ${path} ${res.status} (zod)`).toEqual([]);
  }

  it("the schemas refuse what is not an answer (the check is not vacuous)", async () => {
    const doc = await servedDocument();
    const path = "/v1/queues/{queue}/messages";
    expect(matchesDocument(doc, "post", path, 201, { messages: [{ id: "a", seq: 1 }] }).valid).toBe(true);
    expect(matchesDocument(doc, "post", path, 201, { messages: [{ id: 1, seq: 1 }] }).valid).toBe(false);
    expect(matchesDocument(doc, "post", path, 201, { messages: [], extra: true }).valid).toBe(false);
    expect(matchesDocument(doc, "post", path, 429, { error: { code: "QUEUE_FULL", message: "full" } }).valid).toBe(true);
    expect(matchesDocument(doc, "post", path, 429, { error: { code: "RATE_LIMITED", message: "not this route" } }).valid).toBe(false);
    expect(answers.sendResponse.safeParse({ messages: [{ id: "a", seq: 1, extra: 1 }] }).success).toBe(false);
  });

  it("messages: enqueue, peek, receive (with ack), ack, nack, extend", async () => {
    const doc = await servedDocument();
    const q = uniqueQueue("doc");
    const p = `/v1/queues/${q}/messages`;
    const path = "/v1/queues/{queue}/messages";

    const sent = await call("POST", p, {
      messages: [
        { body: { order: 1 }, attributes: { source: "test" }, groupId: "g1" },
        { body: [1, "two", null], dedupId: "d-1" },
        { body: "three" },
        { body: 4, delayMs: 60_000 },
      ],
    });
    expect(sent.status).toBe(201);
    await expectDocumented(doc, "post", path, sent, answers.sendResponse);
    const duplicate = await call("POST", p, { body: "again", dedupId: "d-1" });
    expect(duplicate.json.messages[0].duplicate).toBe(true);
    await expectDocumented(doc, "post", path, duplicate, answers.sendResponse);

    const peek = await call("GET", `${p}?limit=10`);
    expect(peek.json.messages.map((m: Doc) => m.state)).toContain("delayed");
    await expectDocumented(doc, "get", path, peek, answers.peekPage);

    const first = await call("POST", `${p}/receive`, { max: 2, visibilityTimeoutMs: 60_000 });
    expect(first.json.messages).toHaveLength(2);
    await expectDocumented(doc, "post", `${path}/receive`, first, answers.receiveResponse);
    const [a, b] = first.json.messages.map((m: Doc) => m.receipt as string);

    const next = await call("POST", `${p}/receive`, { ack: [a], max: 1 });
    expect(next.json.ackResults).toEqual([{ receipt: a, ok: true }]);
    await expectDocumented(doc, "post", `${path}/receive`, next, answers.receiveResponse);
    const c = next.json.messages[0].receipt as string;

    const extended = await call("POST", `${p}/extend`, { receipts: [b], visibilityTimeoutMs: 120_000 });
    expect(extended.json.results[0].leaseExpiresAt).toBeGreaterThan(Date.now());
    await expectDocumented(doc, "post", `${path}/extend`, extended, answers.receiptResponse);
    const nacked = await call("POST", `${p}/nack`, { receipts: [c], error: "boom", delayMs: 1000 });
    await expectDocumented(doc, "post", `${path}/nack`, nacked, answers.receiptResponse);
    // An ack of a receipt already acked: a result with a code, not an error.
    const acked = await call("POST", `${p}/ack`, { receipts: [b, a] });
    expect(acked.json.results[1]).toMatchObject({ ok: false });
    await expectDocumented(doc, "post", `${path}/ack`, acked, answers.receiptResponse);
  });

  it("queues, stats, dead letters and tokens", async () => {
    const doc = await servedDocument();
    const q = uniqueQueue("doc");
    const created = await call("PUT", `/v1/queues/${q}`, { maxAttempts: 1, maxDepth: 1000 });
    expect(created.status).toBe(201);
    await expectDocumented(doc, "put", "/v1/queues/{queue}", created, answers.queueInfo);
    const changed = await call("PUT", `/v1/queues/${q}`, { deliveryRatePerSec: 2.5 });
    expect(changed.status).toBe(200);
    await expectDocumented(doc, "put", "/v1/queues/{queue}", changed, answers.queueInfo);

    await call("POST", `/v1/queues/${q}/messages`, { body: { poison: true }, groupId: "g" });
    const [leased] = (await call("POST", `/v1/queues/${q}/messages/receive`, {})).json.messages;
    await call("POST", `/v1/queues/${q}/messages/nack`, { receipts: [leased.receipt], error: "cannot pay" });
    await call("POST", `/v1/queues/${q}/messages`, { body: "waiting" });

    const stats = await call("GET", `/v1/queues/${q}/stats`);
    expect(stats.json.deadLetters).toBe(1);
    await expectDocumented(doc, "get", "/v1/queues/{queue}/stats", stats, answers.queueStats);
    const info = await call("GET", `/v1/queues/${q}`);
    await expectDocumented(doc, "get", "/v1/queues/{queue}", info, answers.queueInfo);
    const list = await call("GET", `/v1/queues?limit=5&cursor=${q.slice(0, -1)}`);
    expect(list.json.queues.length).toBeGreaterThan(0);
    await expectDocumented(doc, "get", "/v1/queues", list, answers.queueList);
    const bare = await call("GET", "/v1/queues?limit=2&stats=false");
    await expectDocumented(doc, "get", "/v1/queues", bare, answers.queueList);

    const dead = await call("GET", `/v1/queues/${q}/dead-letters`);
    expect(dead.json.deadLetters[0]).toMatchObject({ reason: "max_attempts", lastError: "cannot pay", groupId: "g" });
    await expectDocumented(doc, "get", "/v1/queues/{queue}/dead-letters", dead, answers.deadLetterPage);
    const redriven = await call("POST", `/v1/queues/${q}/dead-letters/redrive`, {});
    expect(redriven.json.redriven).toBe(1);
    await expectDocumented(doc, "post", "/v1/queues/{queue}/dead-letters/redrive", redriven, answers.redriveResponse);
    const deleted = await call("DELETE", `/v1/queues/${q}/dead-letters`);
    await expectDocumented(doc, "delete", "/v1/queues/{queue}/dead-letters", deleted, answers.deletedCount);

    for (const verb of ["pause", "resume"]) {
      const res = await call("POST", `/v1/queues/${q}/${verb}`);
      await expectDocumented(doc, "post", `/v1/queues/{queue}/${verb}`, res, answers.queueInfo);
    }
    const purged = await call("POST", `/v1/queues/${q}/purge`);
    expect(purged.json.purged).toBeGreaterThan(0);
    await expectDocumented(doc, "post", "/v1/queues/{queue}/purge", purged, answers.purgedCount);
    const gone = await call("DELETE", `/v1/queues/${q}`);
    await expectDocumented(doc, "delete", "/v1/queues/{queue}", gone, answers.queueDeleted);

    const token = await call("POST", "/v1/tokens", { scopes: ["consume"], queues: [q] });
    expect(token.status).toBe(201);
    await expectDocumented(doc, "post", "/v1/tokens", token, answers.tokenResponse);
    await expectDocumented(doc, "get", "/", await call("GET", "/"), answers.apiIndex);
  });

  it("push: the secret's one answer, a rotation, a queue's push config and push stats", async () => {
    const doc = await servedDocument();
    const q = uniqueQueue("doc");
    const set = await call("PUT", `/v1/queues/${q}`, { push: { url: "https://hooks.test/ok", headers: { authorization: "x" } }, paused: true });
    expect(set.json.push.signingSecret).toMatch(/^whsec_/);
    await expectDocumented(doc, "put", "/v1/queues/{queue}", set, answers.queueInfo);
    const rotated = await call("POST", `/v1/queues/${q}/push/rotate-secret`);
    await expectDocumented(doc, "post", "/v1/queues/{queue}/push/rotate-secret", rotated, answers.queueInfo);
    const info = await call("GET", `/v1/queues/${q}`);
    expect(info.json.stats.push).toMatchObject({ deliveries: 0, pausedUntil: null });
    await expectDocumented(doc, "get", "/v1/queues/{queue}", info, answers.queueInfo);
    const refused = await call("POST", `/v1/queues/${q}/messages/receive`, {});
    expect(refused.json.error.code).toBe("CONFLICT");
    await expectDocumented(doc, "post", "/v1/queues/{queue}/messages/receive", refused, answers.errorBody);
    const notPushing = await call("POST", `/v1/queues/${uniqueQueue("doc")}/push/rotate-secret`);
    expect(notPushing.status).toBe(404);
    await expectDocumented(doc, "post", "/v1/queues/{queue}/push/rotate-secret", notPushing, answers.errorBody);
  });

  it("topics: put, get, list, publish, stats, delete", async () => {
    const doc = await servedDocument();
    const t = uniqueQueue("doc");
    const subscriptions = [{ queue: `${t}-a` }, { queue: `${t}-b`, filter: { kind: ["paid"] } }];
    const created = await call("PUT", `/v1/topics/${t}`, { subscriptions });
    expect(created.status).toBe(201);
    await expectDocumented(doc, "put", "/v1/topics/{topic}", created, answers.topicInfo);
    const changed = await call("PUT", `/v1/topics/${t}`, { dedupWindowMs: 1000 });
    expect(changed.status).toBe(200);
    await expectDocumented(doc, "put", "/v1/topics/{topic}", changed, answers.topicInfo);

    const published = await call("POST", `/v1/topics/${t}/messages`, {
      messages: [{ body: 1, attributes: { kind: "paid" }, dedupId: "x" }, { body: 2, dedupId: "x" }],
    });
    expect(published.json.messages[1].duplicate).toBe(true);
    await expectDocumented(doc, "post", "/v1/topics/{topic}/messages", published, answers.publishResponse);
    const stats = await call("GET", `/v1/topics/${t}/stats`);
    expect(stats.json.published).toBe(1);
    await expectDocumented(doc, "get", "/v1/topics/{topic}/stats", stats, answers.topicStats);
    const info = await call("GET", `/v1/topics/${t}`);
    await expectDocumented(doc, "get", "/v1/topics/{topic}", info, answers.topicInfo);
    for (const query of [`limit=5&cursor=${t.slice(0, -1)}`, "limit=2&stats=false"]) {
      const list = await call("GET", `/v1/topics?${query}`);
      expect(list.json.topics.length).toBeGreaterThan(0);
      await expectDocumented(doc, "get", "/v1/topics", list, answers.topicList);
    }
    const gone = await call("DELETE", `/v1/topics/${t}`);
    await expectDocumented(doc, "delete", "/v1/topics/{topic}", gone, answers.topicDeleted);
    const missing = await call("POST", `/v1/topics/${t}/messages`, { body: 1 });
    expect(missing.json.error.code).toBe("TOPIC_NOT_FOUND");
    await expectDocumented(doc, "post", "/v1/topics/{topic}/messages", missing, answers.errorBody);
    const badName = await call("GET", "/v1/topics/bad.name/stats");
    expect(badName.json.error.code).toBe("INVALID_REQUEST");
    await expectDocumented(doc, "get", "/v1/topics/{topic}/stats", badName, answers.errorBody);
    expect(doc.paths["/v1/topics"].get.description).toContain("covering every topic");
  });

  it("error bodies: each code is one the route documents for its status", async () => {
    const doc = await servedDocument();
    const q = uniqueQueue("doc");
    const m = "/v1/queues/{queue}/messages";
    const cases: [method: string, path: string, res: Awaited<ReturnType<typeof call>>, code: ErrorCode][] = [
      ["post", m, await call("POST", `/v1/queues/${q}/messages`, { nobody: 1 }), "INVALID_REQUEST"],
      ["post", m, await call("POST", `/v1/queues/${q}/messages`, "{not json"), "INVALID_JSON"],
      ["post", m, await call("POST", `/v1/queues/${q}/messages`, "x", { "content-type": "text/plain" }), "UNSUPPORTED_MEDIA_TYPE"],
      ["post", m, await call("POST", `/v1/queues/${q}/messages`, { body: 1, delayMs: -1 }), "INVALID_VALUE"],
      ["post", m, await call("POST", `/v1/queues/${q}/messages`, { body: 1 }, { authorization: "" }), "UNAUTHORIZED"],
      ["post", `${m}/receive`, await call("POST", `/v1/queues/bad.name/messages/receive`, {}), "INVALID_REQUEST"],
      ["get", "/v1/queues/{queue}", await call("GET", `/v1/queues/${q}-missing`), "QUEUE_NOT_FOUND"],
      ["get", "/v1/queues", await call("GET", "/v1/queues?limit=0"), "INVALID_VALUE"],
      ["get", "/docs/{file}", await call("GET", "/docs/index.html"), "NOT_FOUND"],
    ];
    await call("PUT", `/v1/queues/${q}`, { partitions: 2 });
    cases.push(["put", "/v1/queues/{queue}", await call("PUT", `/v1/queues/${q}`, { partitions: 1 }), "CONFLICT"]);
    for (const [method, path, res, code] of cases) {
      expect(res.json?.error?.code, `${method} ${path}: ${res.text}`).toBe(code);
      expect(res.status).toBe(ERROR_STATUS[code]);
      await expectDocumented(doc, method, path, res, answers.errorBody);
    }
  });
});

describe("openapi: the reference page", () => {
  it("GET /docs answers HTML that loads only files of its own origin, and they answer 200", async () => {
    const page = await SELF.fetch(`${BASE}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    const expected: Record<string, string> = { ".js": "javascript", ".css": "text/css", ".png": "image/png" };
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^\/docs\/[\w.-]+$/);
      const res = await SELF.fetch(`${BASE}${ref}`);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get("content-type"), ref).toContain(expected[ref.slice(ref.lastIndexOf("."))]);
      expect((await res.arrayBuffer()).byteLength, ref).toBeGreaterThan(100);
    }
    const bundle = await (await SELF.fetch(`${BASE}/docs/swagger-ui-bundle.js`)).text();
    expect(bundle).toContain("SwaggerUIBundle");
    const start = await (await SELF.fetch(`${BASE}/docs/start.js`)).text();
    expect(start).toContain('url: "/openapi.json"');
  });

  it("serves no other file of the package, and nothing of it outside /docs", async () => {
    for (const path of ["/docs/index.html", "/docs/package.json", "/docs/swagger-ui-bundle.js.map", "/docs/..%2Fpackage.json"]) {
      const res = await SELF.fetch(`${BASE}${path}`);
      expect(res.status, path).toBe(404);
      expect((await res.json<Doc>()).error.code).toBe("NOT_FOUND");
    }
    // Outside /docs the Worker answers as for any unknown path (admin-only: 401 without a token).
    const root = await SELF.fetch(`${BASE}/swagger-ui.css`);
    expect(root.status).toBe(401);
  });
});
