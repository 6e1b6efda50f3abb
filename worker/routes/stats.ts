import { Hono } from "hono";
import type { QueueStats } from "../../client/protocol";
import { partitionStub, partitionsOf, resolveQueue } from "../queues";
import type { AppEnv } from "../types";

/** Sums the partitions' counts; the oldest age is the oldest of any partition. */
export function mergeStats(all: QueueStats[]): QueueStats {
  return all.reduce(
    (sum, s) => ({
      ready: sum.ready + s.ready,
      delayed: sum.delayed + s.delayed,
      inFlight: sum.inFlight + s.inFlight,
      deadLetters: sum.deadLetters + s.deadLetters,
      oldestReadyAgeMs: Math.max(sum.oldestReadyAgeMs, s.oldestReadyAgeMs),
    }),
    { ready: 0, delayed: 0, inFlight: 0, deadLetters: 0, oldestReadyAgeMs: 0 },
  );
}

export const stats = new Hono<AppEnv>();

stats.get("/", async (c) => {
  const queue = c.req.param("queue")!;
  const config = await resolveQueue(c.env, queue, false);
  const all = await Promise.all(partitionsOf(config).map((p) => partitionStub(c.env, queue, p).stats()));
  return c.json(mergeStats(all));
});
