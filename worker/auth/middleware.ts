/**
 * Authentication and CORS, applied to every request in worker/app.ts. The
 * admin token may do everything; a scoped token (worker/auth/tokens.ts) what
 * its scopes and queues allow, as worker/auth/access.ts decides per route.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { BEARER_PROTOCOL_PREFIX } from "../../client/protocol";
import { ApiError } from "../errors";
import type { AppEnv } from "../types";
import { coversQueue, leftToSqs, requiredAccess } from "./access";
import { verifyToken } from "./tokens";

const encoder = new TextEncoder();

const sha256 = (s: string) => crypto.subtle.digest("SHA-256", encoder.encode(s));

/** The admin token's digest, made once per isolate (and again only if the token changes). */
let adminDigest: { token: string; digest: Promise<ArrayBuffer> } | undefined;

/**
 * Whether `given` is the admin token, in time that does not depend on where
 * they differ: digests of equal length, compared in constant time.
 */
async function isAdminToken(given: string, adminToken: string): Promise<boolean> {
  if (adminDigest?.token !== adminToken) adminDigest = { token: adminToken, digest: sha256(adminToken) };
  const [a, b] = await Promise.all([sha256(given), adminDigest.digest]);
  return crypto.subtle.timingSafeEqual(a, b);
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,4096})[ \t]*$/i;
const PROTOCOL_TOKEN = /^[\x21-\x7e]{1,4096}$/;
const CHALLENGE = { "www-authenticate": 'Bearer realm="edgeq"' };

const unauthorized = (message: string) => new ApiError("UNAUTHORIZED", message, CHALLENGE);

/** The subprotocols a WebSocket upgrade offers (`Sec-WebSocket-Protocol`), in order; none for any other request. */
export function offeredProtocols(request: Request): string[] {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return [];
  const header = request.headers.get("sec-websocket-protocol");
  return header === null ? [] : header.split(",").map((p) => p.trim()).filter(Boolean);
}

/**
 * Where the token is: the Authorization header; or, for a WebSocket upgrade
 * without one, the subprotocol `bearer.<token>` (a browser's WebSocket can
 * set no header, only subprotocols; the server never echoes this one).
 */
function presentedToken(request: Request): { header: string } | { token: string } | null {
  const header = request.headers.get("authorization");
  if (header !== null) return { header };
  const offered = offeredProtocols(request).find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  return offered === undefined ? null : { token: offered.slice(BEARER_PROTOCOL_PREFIX.length) };
}

/**
 * Leaves SQS requests to the SQS endpoint (they are signed with an access
 * key, see worker/sqs/). Refuses every other request while neither EDGEQ_ADMIN_TOKEN nor EDGEQ_TOKEN_SECRET
 * is set (503 AUTH_NOT_CONFIGURED: never open by accident), then checks the
 * bearer token against the route's rule: 401 when it is missing or not valid,
 * 403 when it is valid but lacks the scope or the queue.
 */
export const authenticate = (): MiddlewareHandler<AppEnv> =>
  async function authenticate(c, next) {
    if (leftToSqs(c.req.method, c.req.path)) return next();
    const adminToken = c.env.EDGEQ_ADMIN_TOKEN || "";
    const secret = c.env.EDGEQ_TOKEN_SECRET || "";
    if (!adminToken && !secret) {
      throw new ApiError("AUTH_NOT_CONFIGURED", "no EDGEQ_ADMIN_TOKEN or EDGEQ_TOKEN_SECRET is set: every request is refused");
    }
    const access = requiredAccess(c.req.method, c.req.path);
    if (access.kind === "public") return next();

    const presented = presentedToken(c.req.raw);
    if (!presented) throw unauthorized("missing Authorization: Bearer <token>");
    const token = "header" in presented ? BEARER.exec(presented.header)?.[1] : PROTOCOL_TOKEN.exec(presented.token)?.[0];
    if (!token) throw unauthorized("Authorization must be Bearer <token>");

    if (adminToken && (await isAdminToken(token, adminToken))) {
      c.set("principal", { admin: true });
      return next();
    }
    if (!secret) throw unauthorized("token is not valid");
    const check = await verifyToken(token, secret);
    if (!check.ok) throw unauthorized(check.reason);

    if (access.kind === "admin") throw new ApiError("FORBIDDEN", "this route needs the admin token");
    const { claims } = check;
    if (!access.scopes.some((s) => claims.scopes.includes(s))) {
      throw new ApiError("FORBIDDEN", `token lacks the scope (needs ${access.scopes.join(" or ")})`);
    }
    if ("topic" in access) {
      if (!coversQueue(claims.topics ?? [], access.topic)) {
        throw new ApiError(
          "FORBIDDEN",
          access.topic === null ? "token must cover every topic ('*')" : `token does not cover topic ${access.topic.slice(0, 64)}`,
        );
      }
    } else if (!coversQueue(claims.queues, access.queue)) {
      throw new ApiError(
        "FORBIDDEN",
        access.queue === null ? "token must cover every queue ('*')" : `token does not cover queue ${access.queue.slice(0, 64)}`,
      );
    }
    c.set("principal", { admin: false, claims });
    await next();
  };

/** Whether a browser page of `origin` may use edgeq: EDGEQ_CORS_ORIGINS lists it, or says `*`. */
export function originAllowed(corsOrigins: unknown, origin: string): boolean {
  const allowed = allowedOrigins(String(corsOrigins ?? ""));
  return allowed.has("*") || allowed.has(origin);
}

/** Origins from EDGEQ_CORS_ORIGINS (comma-separated); parsed once per distinct value. */
let parsedOrigins: { source: string; origins: Set<string> } | undefined;
function allowedOrigins(source: string): Set<string> {
  if (parsedOrigins?.source !== source) {
    const origins = new Set(source.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean));
    parsedOrigins = { source, origins };
  }
  return parsedOrigins.origins;
}

/**
 * CORS for browsers on the EDGEQ_CORS_ORIGINS allowlist; no origin is allowed
 * when it is empty (the default), and `*` only when it says `*`. Preflights
 * are answered here, before authentication (browsers send them without the
 * Authorization header).
 */
export const corsFromConfig = (): MiddlewareHandler<AppEnv> => {
  const grant = cors({
    origin: (origin, c) => {
      const allowed = allowedOrigins(String(c.env.EDGEQ_CORS_ORIGINS ?? ""));
      if (allowed.has("*")) return "*";
      return allowed.has(origin) ? origin : null;
    },
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: ["Authorization", "Content-Type"],
    exposeHeaders: ["Retry-After"],
    maxAge: 600,
  });
  // Browsers send Origin with every cross-origin request; a request without
  // it (a server, a Worker) gets no grant, only the Vary that keeps caches
  // from mixing the two. Skipping Hono's cors there saves it building a
  // placeholder Response per request to carry the expose header.
  return async function corsFromConfig(c, next) {
    if (c.req.method === "OPTIONS" || c.req.header("origin") !== undefined) return grant(c, next);
    await next();
    c.res.headers.append("Vary", "Origin");
  };
};
