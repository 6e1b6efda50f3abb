/**
 * `documented(...)`: the OpenAPI description of one route, registered just
 * above the route as a handler of its own on the same method and path
 * (Hono runs a route's handlers in order; this one only calls `next`), so
 * the route's own line stays as it is. It states what only the route knows (its name,
 * its answers, the error codes of its own work); the request schema comes
 * from the route's `jsonBody`/`queryParams` validator (worker/validate.ts),
 * and the security and the error codes that follow from the access rule,
 * the request or the path are added when the document is built
 * (worker/openapi/document.ts).
 */
import type { MiddlewareHandler } from "hono";
import { describeRoute } from "hono-openapi";
import type { z } from "zod";
import type { ErrorCode } from "../../client/protocol";
import type * as Answers from "./answers";

/** The groups of the reference page, in its order. */
export const TAGS = [
  { name: "Messages", description: "Enqueue, receive, acknowledge: the life of a message" },
  { name: "Dead letters", description: "Messages that ran out of attempts or expired: list, redrive, delete" },
  { name: "Queues", description: "Queues as resources: create, configure, pause, purge, delete, stats" },
  { name: "Topics", description: "Fan-out: publish once, every subscribed queue receives a copy" },
  { name: "Tokens", description: "Scoped tokens for producers, consumers and operators" },
  { name: "Operations", description: "Metrics and the dashboard" },
  { name: "Reference", description: "This document and its reference page" },
] as const;

/** One group of TAGS. */
export type Tag = (typeof TAGS)[number]["name"];

/**
 * An answer without a zod schema: a page, a script, metrics text, JSON this
 * API does not define (the document itself), or no body at all (a 101
 * upgrade, a 204) when `mediaType` is left out.
 */
export interface MediaAnswer {
  mediaType?: string;
  description: string;
}

/**
 * The name of a zod schema of worker/openapi/answers.ts. Routes name their
 * answers instead of importing them: the document loads that module when it
 * is first asked for, so building some forty zod schemas costs the Worker's
 * start-up nothing.
 */
export type AnswerName = { [K in keyof typeof Answers]: (typeof Answers)[K] extends z.ZodType ? K : never }[keyof typeof Answers];

/** What a route answers for one status: JSON of a schema of answers.ts, or a media answer. */
export type Answer = AnswerName | MediaAnswer;

/** The description of one route. */
export interface RouteDoc {
  /** A unique camelCase verb; generated clients name their methods after it. */
  operationId: string;
  /** One line. */
  summary: string;
  /** More, in Markdown. Default none. */
  description?: string;
  tag: Tag;
  /** Successful answers by status. */
  answers: Partial<Record<101 | 200 | 201 | 202 | 204, Answer>>;
  /**
   * The error codes of the route's own work (QUEUE_NOT_FOUND, QUEUE_FULL,
   * UNAVAILABLE...). Default none. Those of authentication, of a JSON body
   * or a query string, and of the `:queue` name are added by the document.
   */
  errors?: readonly ErrorCode[];
}

/** Where a route's answers and own error codes wait in its operation until the document turns them into responses. */
export const ROUTE_ANSWERS = "x-edgeq-answers";
export const ROUTE_ERRORS = "x-edgeq-errors";

/** The route's description, as hono-openapi's `describeRoute` middleware (it only calls `next`). */
export function documented(doc: RouteDoc): MiddlewareHandler {
  const spec = {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    tags: [doc.tag],
    responses: {},
    [ROUTE_ANSWERS]: { ...doc.answers },
    [ROUTE_ERRORS]: [...(doc.errors ?? [])],
  };
  return describeRoute(spec as Parameters<typeof describeRoute>[0]);
}
