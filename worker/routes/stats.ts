import { Hono } from "hono";
import { queueStats } from "../queue-stats";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";

export const stats = new Hono<AppEnv>();

stats.get(
  "/",
  documented({
    operationId: "getQueueStats",
    summary: "Depth, per-minute rates, latency, trend and health of a queue",
    tag: "Queues",
    answers: { 200: "queueStats" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
stats.get("/", async (c) => c.json(await queueStats(c.env, c.req.param("queue")!)));
