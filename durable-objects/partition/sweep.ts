import { pruneCounters } from "./counters";
import { pruneLatency } from "./latency";
import { deadLetter } from "./dead-letter";
import { nextForwardAt } from "./forward";
import { nextMoveAt } from "./move-tasks";
import { unleased } from "./receive";
import { retryOrDeadLetter } from "./retry";
import type { OpContext } from "./types";

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
export function sweep(ctx: OpContext): void {
  const { sql, config, now } = ctx;
  sweepExpiredLeases(ctx);

  const cutoff = now - config.retentionMs;
  // enqueued_at grows with seq (a redrive re-enqueues), so the first unleased row tells
  // whether anything is old enough before any scan.
  const oldest = oldestUnleased(ctx);
  if (oldest !== null && oldest <= cutoff) {
    const dying = unleased<{ seq: number }>(ctx, "SELECT m.seq", "m.enqueued_at <= ?3", cutoff, -1).map((r) => ({
      seq: r.seq,
      deliveredAt: null,
    }));
    deadLetter(ctx, dying, "expired", null, "retention");
  }

  sql.exec("DELETE FROM dedup WHERE expires_at <= ?", now);
  pruneCounters(sql, now);
  pruneLatency(sql, now);
  // Delays and backoffs that came due make messages deliverable without a write.
  ctx.effects.mayDeliver();
}

/**
 * Expired leases only: run before every receive too, so it is free when no
 * lease has ended (the leases answer from memory). The backoff of an
 * expired lease runs from its end (`failedAt`), not from this sweep.
 */
export function sweepExpiredLeases(ctx: OpContext): void {
  const ended = ctx.leases.ended(ctx.now);
  if (ended.length === 0) return;
  const failed = new Map(ended.map((l) => [l.seq, { token: l.token, deliveredAt: l.deliveredAt, failedAt: l.endedAt }]));
  retryOrDeadLetter(ctx, failed, { lastError: LEASE_EXPIRED_ERROR, delayMs: null, cause: "lease expired" });
}

/**
 * When the first unleased message in `seq` order was enqueued (the oldest:
 * see the retention sweep), or no later; null when none is stored. One
 * lookup when the first stored message is not leased. When it is, every
 * unleased one comes after it and was enqueued no earlier, so its enqueue
 * time serves until it is older than the retention; only then are the
 * leased seqs excluded one by one (O(in flight)) to know exactly. An alarm
 * scheduled from the earlier time finds the exact one then.
 */
function oldestUnleased(ctx: OpContext): number | null {
  const [head] = ctx.sql.exec<{ seq: number; enqueued_at: number }>("SELECT seq, enqueued_at FROM messages ORDER BY seq LIMIT 1").toArray();
  if (!head) return null;
  if (ctx.leases.endOf(head.seq) === undefined || head.enqueued_at > ctx.now - ctx.config.retentionMs) return head.enqueued_at;
  const [row] = unleased<{ enqueued_at: number }>(ctx, "SELECT m.enqueued_at", "?3 IS NULL", null, 1); // no filter
  return row?.enqueued_at ?? null;
}

/**
 * The next time anything becomes due: a lease ends, a delayed or retrying
 * message becomes ready, the oldest message reaches the retention, a dedup
 * id expires, a dead letter or a move task's batch is to be sent to another
 * queue. Null when nothing ever will.
 */
export function nextDueAt(ctx: OpContext): number | null {
  const { sql, config, now, leases } = ctx;
  // A delayed message is never leased: only a visible one can be. (lease_token is
  // always NULL since migration 4; naming it lets the partial index answer.)
  const row = sql
    .exec<{ delayed: number | null; dedup: number | null }>(
      `SELECT
         (SELECT MIN(visible_at) FROM messages
            WHERE lease_token IS NULL AND visible_at > enqueued_at AND visible_at > ?) AS delayed,
         (SELECT MIN(expires_at) FROM dedup) AS dedup`,
      now,
    )
    .one();
  const oldest = oldestUnleased(ctx);
  const candidates = [
    leases.nextEnd,
    row.delayed,
    oldest === null ? null : oldest + config.retentionMs,
    row.dedup,
    nextForwardAt(sql),
    nextMoveAt(sql),
  ].filter((t): t is number => t !== null);
  return candidates.length === 0 ? null : Math.min(...candidates);
}
