/**
 * Reading a queue's stats: each partition's figures, merged by stats.ts.
 */
import type { QueueConfig, QueueStats, QueueStatsSummary } from "../client/protocol";
import { logEvent } from "../durable-objects/contract";
import { partitionStub, partitionsOf, registry, resolveQueue } from "./queues";
import { summarizeStats } from "./stats";

/** A queue's stats (QUEUE_NOT_FOUND for a queue never used). */
export async function queueStats(env: Env, queue: string): Promise<QueueStats> {
  const config = await resolveQueue(env, queue, false);
  return statsOf(env, queue, config);
}

/** The stats of a queue whose configuration is known: one call per partition, all at once. */
export async function statsOf(env: Env, queue: string, config: QueueConfig): Promise<QueueStats> {
  const parts = await Promise.all(partitionsOf(config).map((p) => partitionStub(env, queue, p).stats()));
  return summarizeStats(parts, Date.now());
}

/** Queues asked for their stats at once: bounds the partition calls in flight. */
export const STATS_CONCURRENCY = 16;

/**
 * Every queue of the registry with its configuration and stats, by name. A
 * queue whose partitions cannot answer is left out (and logged), so one bad
 * queue does not blank a whole scrape or dashboard.
 */
export async function allQueueStats(env: Env): Promise<{ name: string; config: QueueConfig; stats: QueueStats }[]> {
  const queues = await registry(env).list();
  const out: { name: string; config: QueueConfig; stats: QueueStats }[] = [];
  for (let i = 0; i < queues.length; i += STATS_CONCURRENCY) {
    const settled = await Promise.allSettled(
      queues.slice(i, i + STATS_CONCURRENCY).map(async (q) => ({ ...q, stats: await statsOf(env, q.name, q.config) })),
    );
    settled.forEach((r, j) => {
      if (r.status === "fulfilled") out.push(r.value);
      else logEvent("internal_error", { queue: queues[i + j].name, during: "stats", error: String(r.reason) });
    });
  }
  return out;
}

/** A queue's stats in brief, as lists show them. */
export const statsSummary = ({ ready, delayed, inFlight, deadLetters, depth, oldestReadyAgeMs, status, reason }: QueueStats): QueueStatsSummary => ({
  ready,
  delayed,
  inFlight,
  deadLetters,
  depth,
  oldestReadyAgeMs,
  status,
  reason,
});
