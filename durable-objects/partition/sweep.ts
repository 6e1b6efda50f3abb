import type { OpContext } from "./types";
import { pruneCounters } from "./counters";
import { pruneLatency } from "./latency";
import { deadLetter } from "./dead-letter";
import { retryOrDeadLetter } from "./retry";

export const LEASE_EXPIRED_ERROR = "lease expired";

/**
 * Everything time makes due, in the caller's transaction. Idempotent: run
 * twice at the same time, the second run finds nothing to do (alarms are
 * at-least-once).
 *
 * - leases that ended without an ack count as a failed attempt: retry after
 *   backoff, or dead letter after the last attempt;
 * - unleased messages older than the retention become dead letters
 *   (`expired`), never silently dropped;
 * - dedup ids, counters and latency histograms past their window are forgotten.
 */
export function sweep(ctx: OpContext): { retried: number; deadLettered: number; expired: number } {
  const { sql, config, now } = ctx;
  const { retried, deadLettered } = sweepExpiredLeases(ctx);

  let expired = 0;
  const cutoff = now - config.retentionMs;
  // enqueued_at grows with seq (a redrive re-enqueues), so the first unleased row tells
  // whether anything is old enough before any scan.
  const oldest = sql
    .exec<{ enqueued_at: number }>("SELECT enqueued_at FROM messages WHERE lease_token IS NULL ORDER BY seq LIMIT 1")
    .toArray()[0];
  if (oldest && oldest.enqueued_at <= cutoff) {
    const seqs = sql
      .exec<{ seq: number }>("SELECT seq FROM messages WHERE lease_token IS NULL AND enqueued_at <= ?", cutoff)
      .toArray()
      .map((r) => r.seq);
    expired = deadLetter(sql, seqs, "expired", null, now);
  }

  sql.exec("DELETE FROM dedup WHERE expires_at <= ?", now);
  pruneCounters(sql, now);
  pruneLatency(sql, now);
  return { retried, deadLettered, expired };
}

/**
 * Expired leases only: run before every receive too, so it is free when no
 * lease has ended (the lease clock answers from memory). The backoff of an
 * expired lease runs from its end (`failedAt`), not from this sweep.
 */
export function sweepExpiredLeases(ctx: OpContext): { retried: number; deadLettered: number } {
  const expired = ctx.leases.checkDue(ctx.now);
  if (expired.size === 0) return { retried: 0, deadLettered: 0 };
  const { retried, deadLettered } = retryOrDeadLetter(ctx, expired, LEASE_EXPIRED_ERROR, null);
  return { retried, deadLettered };
}

/**
 * The next time anything becomes due: a lease ends, a delayed or retrying
 * message becomes ready, the oldest message reaches the retention, a dedup
 * id expires. Null when nothing ever will.
 */
export function nextDueAt({ sql, config, now, leases }: OpContext): number | null {
  const row = sql
    .exec<{ delayed: number | null; oldest: number | null; dedup: number | null }>(
      `SELECT
         (SELECT MIN(visible_at) FROM messages
            WHERE lease_token IS NULL AND visible_at > enqueued_at AND visible_at > ?) AS delayed,
         (SELECT enqueued_at FROM messages WHERE lease_token IS NULL ORDER BY seq LIMIT 1) AS oldest,
         (SELECT MIN(expires_at) FROM dedup) AS dedup`,
      now,
    )
    .one();
  const candidates = [
    leases.nextEnd,
    row.delayed,
    row.oldest === null ? null : row.oldest + config.retentionMs,
    row.dedup,
  ].filter((t): t is number => t !== null);
  return candidates.length === 0 ? null : Math.min(...candidates);
}
