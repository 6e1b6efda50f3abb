import { Hono } from "hono";
import { deleteQueue, getQueue, listQueues, purgeQueue, putQueue, setPaused } from "../manage";
import { queueConfigPatch, queueListQuery } from "../schemas";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

/** `/v1/queues`: the queues as resources (all `manage` routes). */
export const queues = new Hono<AppEnv>();

queues.get("/", queryParams(queueListQuery), async (c) => {
  const { stats, ...page } = c.req.valid("query");
  return c.json(await listQueues(c.env, { ...page, stats: stats === "true" }));
});

queues.put("/:queue", jsonBody(queueConfigPatch), async (c) => {
  const { queue, created } = await putQueue(c.env, c.req.param("queue"), c.req.valid("json"));
  return c.json(queue, created ? 201 : 200);
});

queues.get("/:queue", async (c) => c.json(await getQueue(c.env, c.req.param("queue"))));

queues.delete("/:queue", async (c) => {
  await deleteQueue(c.env, c.req.param("queue"));
  return c.json({ name: c.req.param("queue"), deleted: true });
});

queues.post("/:queue/pause", async (c) => c.json(await setPaused(c.env, c.req.param("queue"), true)));
queues.post("/:queue/resume", async (c) => c.json(await setPaused(c.env, c.req.param("queue"), false)));
queues.post("/:queue/purge", async (c) => c.json({ purged: await purgeQueue(c.env, c.req.param("queue")) }));
