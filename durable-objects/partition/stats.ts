import type { OpContext, PartitionStats } from "./types";
import { COUNTER_RETENTION_MINUTES, counterTotals, minuteCounts, minuteOf } from "./counters";
import { latencyHistograms } from "./latency";

/** Minutes of latency histograms that stats read (the current one included). */
export const LATENCY_WINDOW_MINUTES = 5;

/**
 * The partition's raw figures: counts by state in one pass over the
 * messages, the counters of the last hour, lifetime totals and the latency
 * histograms of the last minutes. The worker merges partitions and derives
 * rates, percentiles and status from them (worker/stats.ts).
 */
export function stats({ sql, now }: OpContext): PartitionStats {
  const row = sql
    .exec<{ ready: number; delayed: number; inFlight: number; oldest: number | null; deadLetters: number }>(
      `SELECT
         COALESCE(SUM(lease_token IS NULL AND visible_at <= ?1), 0) AS ready,
         COALESCE(SUM(lease_token IS NULL AND visible_at > ?1), 0) AS delayed,
         COALESCE(SUM(lease_token IS NOT NULL), 0) AS inFlight,
         MIN(CASE WHEN lease_token IS NULL AND visible_at <= ?1 THEN enqueued_at END) AS oldest,
         (SELECT COUNT(*) FROM dead_letters) AS deadLetters
       FROM messages`,
      now,
    )
    .one();
  const minute = minuteOf(now);
  return {
    now,
    ready: row.ready,
    delayed: row.delayed,
    inFlight: row.inFlight,
    deadLetters: row.deadLetters,
    oldestReadyAgeMs: row.oldest === null ? 0 : Math.max(0, now - row.oldest),
    counters: minuteCounts(sql, minute - COUNTER_RETENTION_MINUTES + 1),
    totals: counterTotals(sql),
    latency: latencyHistograms(sql, minute - LATENCY_WINDOW_MINUTES + 1),
  };
}
