import { Hono } from "hono";
import { queueStats } from "../queue-stats";
import type { AppEnv } from "../types";

export const stats = new Hono<AppEnv>();

stats.get("/", async (c) => c.json(await queueStats(c.env, c.req.param("queue")!)));
