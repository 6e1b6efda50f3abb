import { Hono } from "hono";
import { deleteDeadLetters, listDeadLetters, redriveDeadLetters } from "../dead-letters";
import { deadLetterQuery, deleteDeadLetterQuery, redriveRequest } from "../schemas";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

export const deadLetters = new Hono<AppEnv>();

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

deadLetters.post("/redrive", jsonBody(redriveRequest), async (c) => {
  const { ids } = c.req.valid("json");
  return c.json(await redriveDeadLetters(c.env, c.req.param("queue")!, ids ?? null));
});

/** Every dead letter of the queue, or only the one named by `?id=`. */
deadLetters.delete("/", queryParams(deleteDeadLetterQuery), async (c) => {
  const { id } = c.req.valid("query");
  return c.json({ deleted: await deleteDeadLetters(c.env, c.req.param("queue")!, id === undefined ? null : [id]) });
});
