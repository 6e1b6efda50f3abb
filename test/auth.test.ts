import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ERROR_STATUS, type Scope } from "../client/protocol";
import { mintToken } from "../client/tokens";
import { AwsV4Signer } from "aws4fetch";
import { app } from "../worker/app";
import { leftToSqs, requiredAccess } from "../worker/auth/access";
import { BASE, call, uniqueQueue } from "./helpers";

const SECRET = "test-token-secret";

async function scopedToken(scopes: Scope[], queues: string[], expiresInSeconds = 600, topics?: string[]) {
  const res = await call("POST", "/v1/tokens", { scopes, queues, expiresInSeconds, ...(topics ? { topics } : {}) });
  expect(res.status).toBe(201);
  return res.json.token as string;
}

const as = (token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(method, path, body, token === null ? { authorization: "", ...headers } : { authorization: `Bearer ${token}`, ...headers });

/** Answers of the app with other bindings than vitest.config.ts gives. */
async function withEnv(bindings: Record<string, string>, path: string, init: RequestInit = {}) {
  return app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...bindings } as never, {
    waitUntil() {},
    passThroughOnException() {},
    props: {},
  } as never);
}

/**
 * What each route needs, by `METHOD path` as app.routes lists it. A route
 * that is not listed here must be admin-only: the test below walks every
 * route the app has, so a route added without an access rule is caught.
 */
const EXPECTED: Record<string, Scope[] | "public"> = {
  "GET /": "public",
  "GET /dashboard": "public",
  "GET /openapi.json": "public",
  "GET /docs": "public",
  "GET /docs/:file": "public",
  "POST /v1/queues/:queue/messages": ["publish"],
  "POST /v1/queues/:queue/messages/receive": ["consume"],
  "POST /v1/queues/:queue/messages/ack": ["consume"],
  "POST /v1/queues/:queue/messages/nack": ["consume"],
  "POST /v1/queues/:queue/messages/extend": ["consume"],
  "GET /v1/queues/:queue/consume": ["consume"],
  "GET /v1/queues/:queue/messages": ["manage"],
  "GET /v1/queues/:queue/stats": ["publish", "consume", "manage"],
  "GET /v1/queues/:queue/dead-letters": ["manage"],
  "DELETE /v1/queues/:queue/dead-letters": ["manage"],
  "POST /v1/queues/:queue/dead-letters/redrive": ["manage"],
  "GET /v1/queues/:queue": ["manage"],
  "PUT /v1/queues/:queue": ["manage"],
  "PATCH /v1/queues/:queue": ["manage"],
  "DELETE /v1/queues/:queue": ["manage"],
  "POST /v1/queues/:queue/pause": ["manage"],
  "POST /v1/queues/:queue/resume": ["manage"],
  "POST /v1/queues/:queue/purge": ["manage"],
  "POST /v1/queues/:queue/push/rotate-secret": ["manage"],
  "POST /v1/topics/:topic/messages": ["publish"],
  "GET /v1/topics/:topic/stats": ["publish", "consume", "manage"],
  "GET /v1/topics/:topic": ["manage"],
  "PUT /v1/topics/:topic": ["manage"],
  "DELETE /v1/topics/:topic": ["manage"],
};
/** Routes over every queue (or every topic): the token must cover `*`. */
const ALL_QUEUES: Record<string, Scope[]> = {
  "GET /v1/queues": ["manage"],
  "GET /v1/topics": ["manage"],
  "POST /v1/queues": ["manage"],
  "GET /metrics": ["manage"],
  "GET /dashboard/view": ["manage"],
};

const appRoutes = () => {
  const seen = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const path = r.path.length > 1 ? r.path.replace(/\/$/, "") : r.path;
    if (path.includes("*")) continue;
    seen.add(`${r.method} ${path}`);
  }
  return [...seen];
};

/** Statuses that mean authentication let the request through. */
const passed = (status: number) => status !== 401 && status !== 403 && status !== 503;

describe("auth: tokens", () => {
  it("POST /v1/tokens mints a token that works; only the admin may mint", async () => {
    const q = uniqueQueue();
    const res = await call("POST", "/v1/tokens", { scopes: ["publish"], queues: [q], expiresInSeconds: 60 });
    expect(res.status).toBe(201);
    expect(res.json.expiresAt).toBeGreaterThan(Date.now() + 55_000);
    expect(res.json.expiresAt).toBeLessThanOrEqual(Date.now() + 61_000);
    const sent = await as(res.json.token, "POST", `/v1/queues/${q}/messages`, { body: 1 });
    expect(sent.status).toBe(201);

    const manage = await scopedToken(["publish", "consume", "manage"], ["*"]);
    const again = await as(manage, "POST", "/v1/tokens", { scopes: ["publish"], queues: [q] });
    expect(again.status).toBe(403);
    expect(again.json.error.code).toBe("FORBIDDEN");
  });

  it("validates the token request and names the field", async () => {
    // Values out of their range or set: 422 INVALID_VALUE; an unknown field (the shape): 400 INVALID_REQUEST.
    for (const [body, field, status] of [
      [{ scopes: ["root"], queues: ["a"] }, "scopes", 422],
      [{ scopes: [], queues: ["a"] }, "scopes", 422],
      [{ scopes: ["publish"], queues: ["a/b"] }, "queues", 422],
      [{ scopes: ["publish"], queues: [] }, "queues", 422],
      [{ scopes: ["publish"], queues: ["a"], expiresInSeconds: 0 }, "expiresInSeconds", 422],
      [{ scopes: ["publish"], queues: ["a"], expiresInSeconds: 10 ** 9 }, "expiresInSeconds", 422],
      [{ scopes: ["publish"], queues: ["a"], admin: true }, "admin", 400],
    ] as const) {
      const res = await call("POST", "/v1/tokens", body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.message).toContain(field);
    }
  });

  it("a token minted by the client helper is accepted (same format as the worker's)", async () => {
    const q = uniqueQueue();
    const { token, expiresAt } = await mintToken(SECRET, { scopes: ["publish"], queues: [q], expiresInSeconds: 30 });
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect((await as(token, "POST", `/v1/queues/${q}/messages`, { body: "hi" })).status).toBe(201);
    // ...and one signed with another secret is refused.
    const forged = await mintToken("not-the-secret", { scopes: ["publish"], queues: [q] });
    const res = await as(forged.token, "POST", `/v1/queues/${q}/messages`, { body: "hi" });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe("UNAUTHORIZED");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("401 for a missing, malformed, forged or expired token", async () => {
    const q = uniqueQueue();
    const expired = await mintToken(SECRET, { scopes: ["publish"], queues: [q], now: Date.now() - 7200_000 });
    const valid = await mintToken(SECRET, { scopes: ["publish"], queues: [q] });
    const [head, , sig] = valid.token.split(".");
    const widened = btoa(JSON.stringify({ scopes: ["manage"], queues: ["*"], exp: 9e9 })).replace(/=+$/, "");
    // A token whose claims are not edgeq's, properly signed.
    const alien = await mintToken(SECRET, { scopes: ["root" as Scope], queues: [q] });
    const cases: Record<string, string> = {
      missing: "",
      "not bearer": `Basic ${btoa("admin:test-admin-token")}`,
      "bearer alone": "Bearer",
      garbage: "Bearer not-a-token",
      "wrong admin": "Bearer test-admin-tokeN",
      "alg none": `Bearer ${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${widened}.`,
      "claims swapped": `Bearer ${head}.${widened}.${sig}`,
      expired: `Bearer ${expired.token}`,
      "alien claims": `Bearer ${alien.token}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await call("POST", `/v1/queues/${q}/messages`, { body: 1 }, { authorization });
      expect(res.status, name).toBe(401);
      expect(res.json.error.code, name).toBe("UNAUTHORIZED");
    }
    const expiredRes = await as(expired.token, "POST", `/v1/queues/${q}/messages`, { body: 1 });
    expect(expiredRes.json.error.message).toContain("expired");
  });
});

describe("auth: the matrix of routes by tokens", () => {
  it("covers every route of the app; each answers as its rule says", async () => {
    const routes = appRoutes();
    // Known routes must be in the app (they are what this issue secures).
    expect(routes).toContain("POST /v1/queues/:queue/messages");
    expect(routes).toContain("POST /v1/tokens");

    const q = uniqueQueue("team");
    const other = uniqueQueue("other");
    // Each token names the same topics as queues: a route on topic q passes where a route on queue q does.
    const scoped = (scopes: Scope[], grants: string[]) => scopedToken(scopes, grants, 600, grants);
    const tokens = {
      publish: await scoped(["publish"], [q]),
      consume: await scoped(["consume"], [q]),
      manage: await scoped(["manage"], [q]),
      all: await scoped(["publish", "consume", "manage"], [q]),
      prefix: await scoped(["publish", "consume", "manage"], ["team-*"]),
      otherQueue: await scoped(["publish", "consume", "manage"], [other]),
      otherPrefix: await scoped(["publish", "consume", "manage"], ["teamx*"]),
      star: await scoped(["publish", "consume", "manage"], ["*"]),
      starPublish: await scoped(["publish"], ["*"]),
      expired: (await mintToken(SECRET, { scopes: ["publish", "consume", "manage"], queues: ["*"], now: Date.now() - 10_000_000 })).token,
    };
    const grants: Record<keyof typeof tokens, { scopes: Scope[]; queue: boolean; all: boolean }> = {
      publish: { scopes: ["publish"], queue: true, all: false },
      consume: { scopes: ["consume"], queue: true, all: false },
      manage: { scopes: ["manage"], queue: true, all: false },
      all: { scopes: ["publish", "consume", "manage"], queue: true, all: false },
      prefix: { scopes: ["publish", "consume", "manage"], queue: true, all: false },
      otherQueue: { scopes: ["publish", "consume", "manage"], queue: false, all: false },
      otherPrefix: { scopes: ["publish", "consume", "manage"], queue: false, all: false },
      star: { scopes: ["publish", "consume", "manage"], queue: true, all: true },
      starPublish: { scopes: ["publish"], queue: true, all: true },
      expired: { scopes: [], queue: false, all: false },
    };

    let checked = 0;
    for (const route of routes) {
      const [method, pattern] = route.split(" ");
      const path = pattern.replace(":queue", q).replace(":topic", q);
      const need = EXPECTED[`${method} ${pattern}`] ?? ALL_QUEUES[`${method} ${pattern}`];
      const everyQueue = `${method} ${pattern}` in ALL_QUEUES;
      const body = method === "GET" || method === "HEAD" || method === "DELETE" ? undefined : {};

      // Without a token: 401, unless the route is public.
      const anonymous = await as(null, method, path, body);
      if (need === "public") {
        expect(passed(anonymous.status), `${route} anonymous`).toBe(true);
        continue;
      }
      expect(anonymous.status, `${route} anonymous`).toBe(401);

      // The admin token passes everywhere.
      const admin = await call(method, path, body);
      expect(passed(admin.status), `${route} admin: ${admin.text}`).toBe(true);

      for (const [name, token] of Object.entries(tokens) as [keyof typeof tokens, string][]) {
        const res = await as(token, method, path, body);
        const g = grants[name];
        let expected: number | "pass";
        if (name === "expired") expected = 401;
        else if (need === undefined) expected = 403; // not in the table: admin only
        else if (!need.some((s) => g.scopes.includes(s))) expected = 403;
        else if (everyQueue ? !g.all : !g.queue) expected = 403;
        else expected = "pass";
        if (expected === "pass") expect(passed(res.status), `${route} as ${name}: ${res.status} ${res.text}`).toBe(true);
        else {
          expect(res.status, `${route} as ${name}: ${res.text}`).toBe(expected);
          expect(res.json.error.code).toBe(expected === 401 ? "UNAUTHORIZED" : "FORBIDDEN");
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9 * Object.keys(tokens).length);
  });

  it("topic grants and queue grants are apart: a token covers a topic only by its topics", async () => {
    const name = uniqueQueue("same");
    const topic = uniqueQueue("t");
    expect((await call("PUT", `/v1/topics/${name}`, { subscriptions: [] })).status).toBe(201);
    expect((await call("PUT", `/v1/topics/${topic}`, { subscriptions: [] })).status).toBe(201);
    const queuesOnly = await scopedToken(["publish"], [name]);
    const topicsOnly = (await call("POST", "/v1/tokens", { scopes: ["publish"], topics: [`${topic.slice(0, 4)}*`] })).json.token;
    const both = await scopedToken(["publish"], [name], 600, [name]);

    expect((await as(queuesOnly, "POST", `/v1/queues/${name}/messages`, { body: 1 })).status).toBe(201);
    const refused = await as(queuesOnly, "POST", `/v1/topics/${name}/messages`, { body: 1 });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toEqual({ code: "FORBIDDEN", message: `token does not cover topic ${name}` });

    expect((await as(topicsOnly, "POST", `/v1/topics/${topic}/messages`, { body: 1 })).status).toBe(201);
    expect((await as(topicsOnly, "GET", `/v1/topics/${topic}/stats`)).status).toBe(200);
    expect((await as(topicsOnly, "POST", `/v1/queues/${topic}/messages`, { body: 1 })).status).toBe(403);
    expect((await as(topicsOnly, "POST", `/v1/topics/${name}/messages`, { body: 1 })).status).toBe(403);
    // Publishing is not managing: the topic's settings stay out of reach.
    expect((await as(topicsOnly, "PUT", `/v1/topics/${topic}`, {})).status).toBe(403);

    expect((await as(both, "POST", `/v1/topics/${name}/messages`, { body: 1 })).status).toBe(201);
    expect((await as(both, "POST", `/v1/queues/${name}/messages`, { body: 1 })).status).toBe(201);

    // The client's mintToken signs the same claim.
    const minted = await mintToken(SECRET, { scopes: ["publish"], topics: [topic] });
    expect((await as(minted.token, "POST", `/v1/topics/${topic}/messages`, { body: 1 })).status).toBe(201);
    expect((await as(minted.token, "POST", `/v1/queues/${topic}/messages`, { body: 1 })).status).toBe(403);

    // A token must name some queues or some topics.
    const none = await call("POST", "/v1/tokens", { scopes: ["publish"] });
    expect(none.status).toBe(422);
    expect(none.json.error.message).toContain("queues");
    expect((await call("POST", "/v1/tokens", { scopes: ["publish"], topics: [] })).status).toBe(422);
    expect((await call("POST", "/v1/tokens", { scopes: ["publish"], topics: ["a/b"] })).status).toBe(422);
  });

  it("an unknown route needs the admin token: a scoped token gets 403, the admin 404", async () => {
    const star = await scopedToken(["publish", "consume", "manage"], ["*"]);
    expect((await as(star, "GET", "/v1/nothing-here")).status).toBe(403);
    expect((await call("GET", "/v1/nothing-here")).status).toBe(404);
    expect((await as(null, "GET", "/v1/nothing-here")).status).toBe(401);
  });

  it("a percent-encoded queue name is checked as the route decodes it", async () => {
    const token = await scopedToken(["publish"], ["abc"]);
    // %61 is "a": the route serves queue "abc", which the token covers.
    expect((await as(token, "POST", "/v1/queues/%61bc/messages", { body: 1 })).status).toBe(201);
    // "ab%2Fc" decodes to "ab/c", not a queue the token covers.
    expect((await as(token, "POST", "/v1/queues/ab%2Fc/messages", { body: 1 })).status).toBe(403);
  });
});

describe("auth: the SQS endpoint", () => {
  /** An SQS JSON-protocol request signed with the key bound in vitest.config.ts. */
  async function signedSqs(action: string, input: object, secretAccessKey = "fuzz-secret") {
    const signer = new AwsV4Signer({
      url: `${BASE}/`,
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}` },
      body: JSON.stringify(input),
      accessKeyId: "AKIDFUZZ",
      secretAccessKey,
      service: "sqs",
      region: "eu-west-3",
    });
    return signer.sign();
  }

  it("POST / and POST /<12-digit account>/<queue> are left to the SQS endpoint; every other route keeps its rule", () => {
    for (const path of ["/", "/000000000000/orders", "/123456789012/jobs.fifo"]) expect(leftToSqs("POST", path), path).toBe(true);
    for (const [method, path] of [
      ["GET", "/"],
      ["GET", "/000000000000/orders"],
      ["POST", "/1234/orders"],
      ["POST", "/000000000000/orders/extra"],
      ["POST", "/v1/queues/orders/messages"],
      ["POST", "/v1/tokens"],
    ]) {
      expect(leftToSqs(method, path), `${method} ${path}`).toBe(false);
    }
    expect(requiredAccess("GET", "/")).toEqual({ kind: "public" });
  });

  it("a bearer token, even the admin's, does not pass the SQS endpoint; its key's signature does", async () => {
    const bearer = await call("POST", "/", { QueueName: "x" }, { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.GetQueueUrl" });
    expect(bearer.status).toBe(403);
    expect(bearer.json.__type).toBe("com.amazonaws.sqs#SignatureDoesNotMatch");
    const signed = await signedSqs("ListQueues", {});
    const res = await SELF.fetch(signed.url, { method: "POST", headers: signed.headers, body: signed.body });
    expect(res.status).toBe(200);
    const wrong = await signedSqs("ListQueues", {}, "not-it");
    expect((await SELF.fetch(wrong.url, { method: "POST", headers: wrong.headers, body: wrong.body })).status).toBe(403);
  });

  it("answers with its keys while the bearer API has no token configured (and the other way round)", async () => {
    const signed = await signedSqs("ListQueues", {});
    const sqsOnly = await withEnv({ EDGEQ_ADMIN_TOKEN: "", EDGEQ_TOKEN_SECRET: "" }, "/", { method: "POST", headers: signed.headers, body: signed.body });
    expect(sqsOnly.status).toBe(200);
    const noKeys = await withEnv({ EDGEQ_SQS_KEYS: "" }, "/", { method: "POST", headers: signed.headers, body: signed.body });
    expect(noKeys.status).toBe(403);
    expect(((await noKeys.json()) as { __type: string }).__type).toBe("com.amazonaws.sqs#InvalidClientTokenId");
    expect((await withEnv({ EDGEQ_SQS_KEYS: "" }, "/v1/queues", { headers: { authorization: "Bearer test-admin-token" } })).status).toBe(200);
  });
});

describe("auth: configuration", () => {
  it("with no admin token and no signing secret every request is refused 503, never open", async () => {
    for (const path of ["/", "/v1/queues/a/stats", "/v1/tokens", "/nope"]) {
      const res = await withEnv({ EDGEQ_ADMIN_TOKEN: "", EDGEQ_TOKEN_SECRET: "" }, path, {
        headers: { authorization: "Bearer " },
      });
      expect(res.status, path).toBe(503);
      expect(((await res.json()) as any).error.code).toBe("AUTH_NOT_CONFIGURED");
      expect(ERROR_STATUS.AUTH_NOT_CONFIGURED).toBe(503);
    }
  });

  it("with only the admin token, scoped tokens are refused and cannot be minted", async () => {
    const q = uniqueQueue();
    const { token } = await mintToken(SECRET, { scopes: ["publish"], queues: [q] });
    const refused = await withEnv({ EDGEQ_TOKEN_SECRET: "" }, `/v1/queues/${q}/stats`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(401);
    const mint = await withEnv({ EDGEQ_TOKEN_SECRET: "" }, "/v1/tokens", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ scopes: ["publish"], queues: [q] }),
    });
    expect(mint.status).toBe(503);
    expect(((await mint.json()) as any).error.code).toBe("AUTH_NOT_CONFIGURED");
  });

  it("with only the signing secret, scoped tokens work and no admin token exists", async () => {
    const q = uniqueQueue();
    const { token } = await mintToken(SECRET, { scopes: ["publish"], queues: [q] });
    const ok = await withEnv({ EDGEQ_ADMIN_TOKEN: "" }, `/v1/queues/${q}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ body: 1 }),
    });
    expect(ok.status).toBe(201);
    const empty = await withEnv({ EDGEQ_ADMIN_TOKEN: "" }, "/v1/tokens", {
      method: "POST",
      headers: { authorization: "Bearer ", "content-type": "application/json" },
      body: "{}",
    });
    expect(empty.status).toBe(401);
  });
});

describe("CORS", () => {
  const ORIGINS = { EDGEQ_CORS_ORIGINS: "https://app.example, https://admin.example/" };

  it("answers a preflight from an allowed origin without a token", async () => {
    const res = await withEnv(ORIGINS, "/v1/queues/q/messages", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(res.headers.get("vary")).toContain("Origin");
    // A trailing slash in the configuration is forgiven.
    const admin = await withEnv(ORIGINS, "/v1/queues/q/messages", {
      method: "OPTIONS",
      headers: { origin: "https://admin.example", "access-control-request-method": "POST" },
    });
    expect(admin.headers.get("access-control-allow-origin")).toBe("https://admin.example");
  });

  it("gives no CORS grant to an origin that is not listed, or to any origin by default", async () => {
    const listed = await withEnv(ORIGINS, "/v1/queues/q/messages", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(listed.headers.get("access-control-allow-origin")).toBeNull();
    const byDefault = await SELF.fetch(`${BASE}/v1/queues/q/messages`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(byDefault.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("adds the grant to answers and errors alike, and exposes Retry-After", async () => {
    const q = uniqueQueue();
    const ok = await withEnv(ORIGINS, `/v1/queues/${q}/messages`, {
      method: "POST",
      headers: { origin: "https://app.example", authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ body: "from a browser" }),
    });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-expose-headers")).toContain("Retry-After");
    const denied = await withEnv(ORIGINS, `/v1/queues/${q}/messages`, {
      method: "POST",
      headers: { origin: "https://app.example", "content-type": "application/json" },
      body: "{}",
    });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe("https://app.example");
  });
});
