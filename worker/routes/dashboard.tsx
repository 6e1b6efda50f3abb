/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { z } from "zod";
import { seesEveryTopic } from "../auth/access";
import { DashboardPage } from "../dashboard/page";
import { DashboardView } from "../dashboard/view";
import { listDeadLetters } from "../dead-letters";
import { allQueueStats } from "../queue-stats";
import { queueName } from "../schemas";
import { allTopicStats } from "../topics";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";
import { queryParams } from "../validate";

/**
 * `GET /dashboard`: the page (public, no data). `GET /dashboard/view`: its
 * data as server-rendered HTML, for a token that may manage every queue
 * (worker/auth/access.ts).
 */
export const dashboard = new Hono<AppEnv>();

/** Dead letters listed for the selected queue. */
const DEAD_LETTERS_SHOWN = 50;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

dashboard.get(
  "/",
  documented({
    operationId: "getDashboard",
    summary: "The dashboard page; it asks for a token and loads its data from /dashboard/view",
    tag: "Operations",
    answers: { 200: { mediaType: "text/html", description: "The page" } },
  }),
);
dashboard.get("/", (c) => {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  return c.html(`<!doctype html>${<DashboardPage />}`);
});

dashboard.get(
  "/view",
  documented({
    operationId: "getDashboardView",
    summary: "The dashboard's data, rendered as HTML: every queue, and the dead letters of the selected one",
    tag: "Operations",
    answers: { 200: { mediaType: "text/html", description: "The view" } },
    errors: ["UNAVAILABLE"],
  }),
);
const viewQuery = z.object({ queue: queueName.optional().catch(undefined) });

dashboard.get("/view", queryParams(viewQuery), async (c) => {
  // Topics are shown to a token that covers every topic (and to the admin).
  const [queues, topics] = await Promise.all([allQueueStats(c.env), seesEveryTopic(c.get("principal")) ? allTopicStats(c.env) : []]);
  const wanted = c.req.valid("query").queue;
  const selected = queues.find((q) => q.name === wanted) ?? queues[0] ?? null;
  const deadLetters = selected
    ? (await listDeadLetters(c.env, selected.name, { limit: DEAD_LETTERS_SHOWN })).deadLetters
    : [];
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  return c.html(<DashboardView queues={queues} topics={topics} selected={selected} deadLetters={deadLetters} now={Date.now()} />);
});
