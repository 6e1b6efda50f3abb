import { Hono } from "hono";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../metrics";
import { allQueueStats } from "../queue-stats";
import type { AppEnv } from "../types";

/** `GET /metrics`: every queue in Prometheus' text format (manage scope on `*`, or admin). */
export const metrics = new Hono<AppEnv>();

metrics.get("/", async (c) => c.body(renderMetrics(await allQueueStats(c.env)), 200, { "content-type": METRICS_CONTENT_TYPE }));
