import type { QueueStats } from "../../client/protocol";
import type { OpContext } from "./types";

/** Counts by state in one pass over the messages. */
export function stats({ sql, now }: OpContext): QueueStats {
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
  return {
    ready: row.ready,
    delayed: row.delayed,
    inFlight: row.inFlight,
    deadLetters: row.deadLetters,
    oldestReadyAgeMs: row.oldest === null ? 0 : Math.max(0, now - row.oldest),
  };
}
