import { Hono } from "hono";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics";
import { allQueueStats } from "../queue-stats";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";

/** `GET /metrics`: every queue in Prometheus' text format (manage scope on `*`, or admin). */
export const metrics = new Hono<AppEnv>();

metrics.get(
  "/",
  documented({
    operationId: "getMetrics",
    summary: "Every queue's depth, counters and latency in Prometheus' text format",
    tag: "Operations",
    answers: { 200: { mediaType: METRICS_CONTENT_TYPE, description: "Prometheus text exposition format" } },
    errors: ["UNAVAILABLE"],
  }),
);
metrics.get("/", async (c) => c.body(renderMetrics(await allQueueStats(c.env)), 200, { "content-type": METRICS_CONTENT_TYPE }));
