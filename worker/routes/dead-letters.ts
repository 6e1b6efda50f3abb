import { Hono } from "hono";
import { deleteDeadLetters, listDeadLetters, redriveDeadLetters } from "../dead-letters";
import { deadLetterQuery, deleteDeadLetterQuery, redriveRequest } from "../schemas";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

export const deadLetters = new Hono<AppEnv>();

deadLetters.get(
  "/",
  documented({
    operationId: "listDeadLetters",
    summary: "List dead letters with their attempts, reason and last error",
    tag: "Dead letters",
    answers: { 200: "deadLetterPage" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
deadLetters.get("/", queryParams(deadLetterQuery), async (c) => {
  const page = await listDeadLetters(c.env, c.req.param("queue")!, c.req.valid("query"));
  // Bodies and attributes are stored JSON text: spliced in, never parsed.
  const items = page.deadLetters.map(({ body, attributes, ...rest }) => {
    const { id, ...tail } = rest;
    return `${JSON.stringify({ id }).slice(0, -1)},"body":${body},"attributes":${attributes ?? "{}"},${JSON.stringify(tail).slice(1)}`;
  });
  return c.body(`{"deadLetters":[${items.join(",")}],"cursor":${JSON.stringify(page.cursor)}}`, 200, {
    "content-type": "application/json; charset=utf-8",
  });
});

deadLetters.post(
  "/redrive",
  documented({
    operationId: "redriveDeadLetters",
    summary: "Put dead letters back in the queue (all, or the ids given), as many as maxDepth has room for",
    tag: "Dead letters",
    answers: { 200: "redriveResponse" },
    errors: ["QUEUE_NOT_FOUND", "QUEUE_FULL", "UNAVAILABLE"],
  }),
);
deadLetters.post("/redrive", jsonBody(redriveRequest), async (c) => {
  const { ids } = c.req.valid("json");
  return c.json(await redriveDeadLetters(c.env, c.req.param("queue")!, ids ?? null));
});

deadLetters.delete(
  "/",
  documented({
    operationId: "deleteDeadLetters",
    summary: "Delete every dead letter of the queue, or the one named by id",
    tag: "Dead letters",
    answers: { 200: "deletedCount" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
/** Every dead letter of the queue, or only the one named by `?id=`. */
deadLetters.delete("/", queryParams(deleteDeadLetterQuery), async (c) => {
  const { id } = c.req.valid("query");
  return c.json({ deleted: await deleteDeadLetters(c.env, c.req.param("queue")!, id === undefined ? null : [id]) });
});
