import { Hono } from "hono";
import { partitionStub, partitionsOf, resolveQueue } from "../queues";
import { deadLetterQuery, redriveRequest } from "../schemas";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

export const deadLetters = new Hono<AppEnv>();

/** Pages through the partitions in order; the cursor is `<partition>.<last dead-letter seq>`. */
deadLetters.get("/", queryParams(deadLetterQuery), async (c) => {
  const queue = c.req.param("queue")!;
  const { limit, cursor } = c.req.valid("query");
  const config = await resolveQueue(c.env, queue, false);
  let [partition, after] = cursor ? cursor.split(".").map(Number) : [0, 0];
  const parts: string[] = [];
  let next: string | null = null;
  while (partition < config.partitions && parts.length < limit) {
    const page = await partitionStub(c.env, queue, partition).deadLetters(after, limit - parts.length);
    for (const d of page.deadLetters) {
      const head = JSON.stringify({ id: d.id }).slice(0, -1);
      const tail = JSON.stringify({
        attempts: d.attempts,
        reason: d.reason,
        lastError: d.lastError,
        enqueuedAt: d.enqueuedAt,
        deadLetteredAt: d.deadLetteredAt,
        ...(d.groupId === null ? {} : { groupId: d.groupId }),
      }).slice(1);
      parts.push(`${head},"body":${d.body},"attributes":${d.attributes ?? "{}"},${tail}`);
    }
    if (page.next !== null) {
      next = `${partition}.${page.next}`;
      break;
    }
    partition += 1;
    after = 0;
    if (parts.length >= limit && partition < config.partitions) next = `${partition}.0`;
  }
  return c.body(`{"deadLetters":[${parts.join(",")}],"cursor":${JSON.stringify(next)}}`, 200, {
    "content-type": "application/json; charset=utf-8",
  });
});

deadLetters.post("/redrive", jsonBody(redriveRequest), async (c) => {
  const queue = c.req.param("queue")!;
  const { ids } = c.req.valid("json");
  const config = await resolveQueue(c.env, queue, false);
  const counts = await Promise.all(
    partitionsOf(config).map((p) => partitionStub(c.env, queue, p).redrive(ids ?? null)),
  );
  return c.json({ redriven: counts.reduce((a, b) => a + b, 0) });
});

deadLetters.delete("/", async (c) => {
  const queue = c.req.param("queue")!;
  const config = await resolveQueue(c.env, queue, false);
  const counts = await Promise.all(
    partitionsOf(config).map((p) => partitionStub(c.env, queue, p).deleteDeadLetters(null)),
  );
  return c.json({ deleted: counts.reduce((a, b) => a + b, 0) });
});
