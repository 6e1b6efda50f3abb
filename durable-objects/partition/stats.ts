import type { PartitionStats } from "../contract";
import type { OpContext } from "./types";
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
export function stats({ sql, now, leases }: OpContext): PartitionStats {
  const row = sql
    .exec<{ ready: number; delayed: number; oldest: number | null; deadLetters: number }>(
      `SELECT
         COALESCE(SUM(visible_at <= ?1), 0) AS ready,
         COALESCE(SUM(visible_at > ?1), 0) AS delayed,
         MIN(CASE WHEN visible_at <= ?1 THEN enqueued_at END) AS oldest,
         (SELECT COUNT(*) FROM dead_letters) AS deadLetters
       FROM messages WHERE seq NOT IN (SELECT value FROM json_each(?2))`,
      now,
      leases.seqsJson,
    )
    .one();
  const minute = minuteOf(now);
  return {
    now,
    ready: row.ready,
    delayed: row.delayed,
    inFlight: leases.inFlight,
    deadLetters: row.deadLetters,
    oldestReadyAgeMs: row.oldest === null ? 0 : Math.max(0, now - row.oldest),
    counters: minuteCounts(sql, minute - COUNTER_RETENTION_MINUTES + 1),
    totals: counterTotals(sql),
    latency: latencyHistograms(sql, minute - LATENCY_WINDOW_MINUTES + 1),
  };
}
