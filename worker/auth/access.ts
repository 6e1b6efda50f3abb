/**
 * Who may call what: every route's access rule, in one table. A route that is
 * not listed here needs the admin token (default deny), so a route added
 * without a rule is safe, merely admin-only until it gets one.
 */
import type { Scope } from "../../client/protocol";
import { isSqsPath } from "../sqs/queue-url";
import type { Principal } from "../types";

/** What a request needs. */
export type Access =
  | { kind: "public" }
  | { kind: "admin" }
  /** Any one of `scopes`, on `queue`; `queue` null means the token must cover every queue (`*`). */
  | { kind: "scoped"; scopes: readonly Scope[]; queue: string | null }
  /** Any one of `scopes`, on `topic` (the token's topic grants); null: every topic (`*`). */
  | { kind: "scoped"; scopes: readonly Scope[]; topic: string | null };

type Need = "public" | readonly Scope[];

const ANY_SCOPE: readonly Scope[] = ["publish", "consume", "manage"];

/**
 * `[methods, path, need]`; first match wins. `:queue` is the queue the token
 * must cover, `:topic` the topic (a path under /v1/topics is about topics,
 * and without `:topic` needs every topic); a trailing `/*` matches anything
 * below the path. HEAD goes with GET, as Hono routes it.
 */
const RULES: [methods: string, path: string, need: Need][] = [
  ["GET", "/", "public"],
  // The dashboard page is public HTML that asks for a token; its data comes from the API.
  ["GET", "/dashboard", "public"],
  // ...but the view it fetches is the data of every queue.
  ["GET", "/dashboard/view", ["manage"]],
  ["GET", "/dashboard/*", "public"],
  // The API reference: the OpenAPI document, its page and the page's assets.
  ["GET", "/openapi.json", "public"],
  ["GET", "/docs/*", "public"],

  ["POST", "/v1/queues/:queue/messages", ["publish"]],
  ["POST", "/v1/queues/:queue/messages/receive", ["consume"]],
  ["POST", "/v1/queues/:queue/messages/ack", ["consume"]],
  ["POST", "/v1/queues/:queue/messages/nack", ["consume"]],
  ["POST", "/v1/queues/:queue/messages/extend", ["consume"]],
  // A consume stream (WebSocket): checked at the upgrade; its frames settle what it was pushed.
  ["GET", "/v1/queues/:queue/consume", ["consume"]],
  // Peek browses messages without leasing them: an operator's view.
  ["GET", "/v1/queues/:queue/messages", ["manage"]],
  // Depth is what producers and consumers need for backpressure: any scope on the queue reads it.
  ["GET", "/v1/queues/:queue/stats", ANY_SCOPE],

  ["GET DELETE", "/v1/queues/:queue/dead-letters", ["manage"]],
  ["POST", "/v1/queues/:queue/dead-letters/redrive", ["manage"]],
  ["GET PUT PATCH DELETE", "/v1/queues/:queue", ["manage"]],
  ["POST", "/v1/queues/:queue/pause", ["manage"]],
  ["POST", "/v1/queues/:queue/resume", ["manage"]],
  ["POST", "/v1/queues/:queue/purge", ["manage"]],
  // Answers a push endpoint's new signing secret.
  ["POST", "/v1/queues/:queue/push/rotate-secret", ["manage"]],

  // Publishing to a topic is producing; its stats are for any scope on it, as a queue's.
  ["POST", "/v1/topics/:topic/messages", ["publish"]],
  ["GET", "/v1/topics/:topic/stats", ANY_SCOPE],
  ["GET PUT DELETE", "/v1/topics/:topic", ["manage"]],
  ["GET", "/v1/topics", ["manage"]],

  // Routes over every queue need a token for every queue (`*`).
  ["GET POST", "/v1/queues", ["manage"]],
  ["GET", "/metrics", ["manage"]],
  // POST /v1/tokens is deliberately absent: admin only.
];

interface CompiledRule {
  methods: Set<string>;
  pattern: RegExp;
  need: Need;
  /** The rule is about topics, not queues. */
  topics: boolean;
}

const compiled: CompiledRule[] = RULES.map(([methods, path, need]) => {
  const list = methods.split(" ");
  if (list.includes("GET")) list.push("HEAD");
  const source = path
    .replace(/\/\*$/, "")
    .replace(/\/$/, "")
    .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
    .replace(/:queue|:topic/, "([^/]+)");
  const tail = path.endsWith("/*") ? "(?:/.*)?" : "/?";
  return { methods: new Set(list), pattern: new RegExp(`^${source}${tail}$`), need, topics: path.startsWith("/v1/topics") };
});

/**
 * The access a request needs, from its method and its path as the router
 * sees it (Hono's `c.req.path`). The queue segment is decoded the way Hono
 * decodes a route parameter, so the queue checked is the queue served.
 */
export function requiredAccess(method: string, path: string): Access {
  for (const rule of compiled) {
    if (!rule.methods.has(method)) continue;
    const match = rule.pattern.exec(path);
    if (!match) continue;
    if (rule.need === "public") return { kind: "public" };
    let name: string | null = null;
    try {
      if (match[1] !== undefined) name = decodeURIComponent(match[1]);
    } catch {
      return { kind: "admin" };
    }
    return rule.topics ? { kind: "scoped", scopes: rule.need, topic: name } : { kind: "scoped", scopes: rule.need, queue: name };
  }
  return { kind: "admin" };
}

/**
 * Whether the request is for the SQS endpoint (a POST to `/` or to a queue
 * URL `/<account id>/<queue>`): those carry an AWS SigV4 signature, not a
 * bearer token, and the endpoint verifies it (worker/sqs/signature.ts), with
 * the access key's own scopes and queues (worker/sqs/keys.ts).
 */
export const leftToSqs = (method: string, path: string): boolean => isSqsPath(method, path);

/** Whether a token's queue grants cover a queue (`null`: every queue, which only `*` covers); topic grants a topic alike. */
export function coversQueue(grants: readonly string[], queue: string | null): boolean {
  if (queue === null) return grants.includes("*");
  return grants.some((g) => (g.endsWith("*") ? queue.startsWith(g.slice(0, -1)) : g === queue));
}

/**
 * Whether the request's principal may see every topic: the admin, or a token
 * whose topics include `*`. Routes over every queue (/metrics, the
 * dashboard) show topics only to it.
 */
export const seesEveryTopic = (principal: Principal): boolean => principal.admin || coversQueue(principal.claims.topics ?? [], null);
