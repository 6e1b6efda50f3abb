import { Hono } from "hono";
import { deleteQueue, getQueue, listQueues, purgeQueue, putQueue, rotatePushSecret, setPaused } from "../manage";
import { configPatchOf, queueConfigPatch, queueListQuery } from "../schemas";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

/** `/v1/queues`: the queues as resources (all `manage` routes). */
export const queues = new Hono<AppEnv>();

queues.get(
  "/",
  documented({
    operationId: "listQueues",
    summary: "List queues in name order, each with a stats summary unless stats=false",
    tag: "Queues",
    answers: { 200: "queueList" },
    errors: ["UNAVAILABLE"],
  }),
);
queues.get("/", queryParams(queueListQuery), async (c) => {
  const { stats, ...page } = c.req.valid("query");
  return c.json(await listQueues(c.env, { ...page, stats: stats === "true" }));
});

queues.put(
  "/:queue",
  documented({
    operationId: "putQueue",
    summary: "Create a queue, or change some of its settings",
    description:
      "Settings not given keep their value (or take the default). 201 when the queue was created. " +
      "`push` is set whole; the answer of the change that first points it at an endpoint carries the signing secret (`push.signingSecret`), once.",
    tag: "Queues",
    answers: { 200: "queueInfo", 201: "queueInfo" },
    errors: ["CONFLICT", "UNAVAILABLE"],
  }),
);
queues.put("/:queue", jsonBody(queueConfigPatch), async (c) => {
  const { queue, created } = await putQueue(c.env, c.req.param("queue"), configPatchOf(c.req.valid("json")));
  return c.json(queue, created ? 201 : 200);
});

queues.get(
  "/:queue",
  documented({
    operationId: "getQueue",
    summary: "A queue's configuration and full stats",
    tag: "Queues",
    answers: { 200: "queueInfo" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
queues.get("/:queue", async (c) => c.json(await getQueue(c.env, c.req.param("queue"))));

queues.delete(
  "/:queue",
  documented({
    operationId: "deleteQueue",
    summary: "Delete a queue and everything in it",
    tag: "Queues",
    answers: { 200: "queueDeleted" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
queues.delete("/:queue", async (c) => {
  await deleteQueue(c.env, c.req.param("queue"));
  return c.json({ name: c.req.param("queue"), deleted: true });
});

queues.post(
  "/:queue/pause",
  documented({
    operationId: "pauseQueue",
    summary: "Stop delivering; enqueues are still accepted",
    tag: "Queues",
    answers: { 200: "queueInfo" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
queues.post(
  "/:queue/resume",
  documented({
    operationId: "resumeQueue",
    summary: "Deliver again",
    tag: "Queues",
    answers: { 200: "queueInfo" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
queues.post(
  "/:queue/purge",
  documented({
    operationId: "purgeQueue",
    summary: "Delete ready and delayed messages; leased ones stay",
    tag: "Queues",
    answers: { 200: "purgedCount" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
queues.post("/:queue/pause", async (c) => c.json(await setPaused(c.env, c.req.param("queue"), true)));
queues.post("/:queue/resume", async (c) => c.json(await setPaused(c.env, c.req.param("queue"), false)));
queues.post("/:queue/purge", async (c) => c.json({ purged: await purgeQueue(c.env, c.req.param("queue")) }));

queues.post(
  "/:queue/push/rotate-secret",
  documented({
    operationId: "rotatePushSecret",
    summary: "Make a new signing secret for push to an endpoint; the previous one signs too for 24 hours",
    description: "Answers the new secret once, in `push.signingSecret`. 409 CONFLICT when the queue does not push to an endpoint.",
    tag: "Queues",
    answers: { 200: "queueInfo" },
    errors: ["QUEUE_NOT_FOUND", "CONFLICT", "UNAVAILABLE"],
  }),
);
queues.post("/:queue/push/rotate-secret", async (c) => c.json(await rotatePushSecret(c.env, c.req.param("queue"))));
