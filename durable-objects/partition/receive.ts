import type { LeasedMessage, OpContext } from "./types";
import { bump } from "./counters";

/** A fresh lease token: 128 random bits, base64url. */
export function newLeaseToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
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
  { sql, now }: OpContext,
  max: number,
  visibilityTimeoutMs: number,
): LeasedMessage[] {
  if (max <= 0) return [];
  const token = newLeaseToken();
  const leaseExpiresAt = now + visibilityTimeoutMs;
  const rows = sql
    .exec<{
      seq: number;
      id: string;
      body: string;
      attributes: string | null;
      attempts: number;
      enqueued_at: number;
      group_id: string | null;
    }>(
      `UPDATE messages
       SET lease_token = ?1, visible_at = ?2, attempts = attempts + 1, delivered_at = ?3,
           first_delivered_at = COALESCE(first_delivered_at, ?3)
       WHERE seq IN (
         SELECT m.seq FROM messages m
         WHERE m.lease_token IS NULL AND m.visible_at <= ?3
           AND (m.group_id IS NULL OR NOT EXISTS (
                 SELECT 1 FROM messages g WHERE g.group_id = m.group_id AND g.seq < m.seq))
         ORDER BY m.seq LIMIT ?4)
       RETURNING seq, id, body, attributes, attempts, enqueued_at, group_id`,
      token,
      leaseExpiresAt,
      now,
      max,
    )
    .toArray();
  rows.sort((a, b) => a.seq - b.seq);
  bump(sql, now, "delivered", rows.length);
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
