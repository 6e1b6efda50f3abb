import type { LeasedMessage, MessageRow, OpContext } from "./types";
import { bump } from "./counters";

/** A fresh lease token: 128 random bits, base64url. */
export function newLeaseToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Deliverable now: no lease, visible, and first of its group (no earlier
 * message of the group is still stored, whatever its state). `?1` is now.
 */
const READY = `m.lease_token IS NULL AND m.visible_at <= ?1
  AND (m.group_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM messages g WHERE g.group_id = m.group_id AND g.seq < m.seq))`;

/** How many messages a receive could lease now, counting no further than `limit`. */
export function countReady({ sql, now }: OpContext, limit: number): number {
  if (limit <= 0) return 0;
  return sql
    .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages m WHERE ${READY} LIMIT ?2)`, now, limit)
    .one().n;
}

/**
 * Leases up to `max` ready messages in `seq` order with one UPDATE.
 *
 * Ready means: no lease, visible now, and first of its group (no earlier
 * message of the group is still stored, whatever its state). That one rule
 * gives per-group FIFO and "at most one per group per receive".
 * All messages of one receive share a lease token; a receipt names the seq
 * too, so each lease is still fenced on its own.
 */
export function receive(
  { sql, now, leases }: OpContext,
  max: number,
  visibilityTimeoutMs: number,
): LeasedMessage[] {
  if (max <= 0) return [];
  const token = newLeaseToken();
  const leaseExpiresAt = now + visibilityTimeoutMs;
  const rows = sql
    .exec<Pick<MessageRow, "seq" | "id" | "body" | "attributes" | "attempts" | "enqueued_at" | "group_id">>(
      `UPDATE messages
       SET lease_token = ?2, visible_at = ?3, attempts = attempts + 1, delivered_at = ?1,
           first_delivered_at = COALESCE(first_delivered_at, ?1)
       WHERE seq IN (SELECT m.seq FROM messages m WHERE ${READY} ORDER BY m.seq LIMIT ?4)
       RETURNING seq, id, body, attributes, attempts, enqueued_at, group_id`,
      now,
      token,
      leaseExpiresAt,
      max,
    )
    .toArray();
  rows.sort((a, b) => a.seq - b.seq);
  bump(sql, now, "delivered", rows.length);
  leases.leased(token, rows.map((r) => r.seq), leaseExpiresAt);
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    body: r.body,
    attributes: r.attributes,
    attempts: r.attempts,
    enqueuedAt: r.enqueued_at,
    leaseToken: token,
    leaseExpiresAt,
    groupId: r.group_id,
  }));
}
