import { Hono } from "hono";
import { seesEveryTopic } from "../auth/access";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics";
import { allQueueStats } from "../queue-stats";
import { renderTopicMetrics } from "../topic-metrics";
import { allTopicStats } from "../topics";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";

/**
 * `GET /metrics`: every queue in Prometheus' text format (manage scope on
 * `*`, or admin), and every topic for a token that covers every topic.
 */
export const metrics = new Hono<AppEnv>();

metrics.get(
  "/",
  documented({
    operationId: "getMetrics",
    summary: "Every queue's depth, counters and latency, and every topic's fan-out, in Prometheus' text format",
    tag: "Operations",
    answers: { 200: { mediaType: METRICS_CONTENT_TYPE, description: "Prometheus text exposition format" } },
    errors: ["UNAVAILABLE"],
  }),
);
metrics.get("/", async (c) => {
  const [queues, topics] = await Promise.all([allQueueStats(c.env), seesEveryTopic(c.get("principal")) ? allTopicStats(c.env) : []]);
  return c.body(renderMetrics(queues) + renderTopicMetrics(topics), 200, { "content-type": METRICS_CONTENT_TYPE });
});
