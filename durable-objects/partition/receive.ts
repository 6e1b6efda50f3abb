import type { LeasedMessage, MessageRow, OpContext } from "./types";
import { bump } from "./counters";

/** A fresh lease token: 128 random bits, base64url. */
export function newLeaseToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Not leased: `?1` and `?2` are the scan start of `Leases.scanStart()`. */
const UNLEASED = "m.seq > ?1 AND m.seq NOT IN (SELECT value FROM json_each(?2))";

/**
 * Deliverable now: not leased, visible, and first of its group (no earlier
 * message of the group is still stored, whatever its state). `?3` is now.
 */
const READY = `${UNLEASED} AND m.visible_at <= ?3
  AND (m.group_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM messages g WHERE g.group_id = m.group_id AND g.seq < m.seq))`;

/** How many messages a receive could lease now, counting no further than `limit`. */
export function countReady({ sql, now, leases }: OpContext, limit: number): number {
  if (limit <= 0) return 0;
  const { after, rest } = leases.scanStart();
  return sql
    .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages m WHERE ${READY} LIMIT ?4)`, after, rest, now, limit)
    .one().n;
}

/**
 * Leases up to `max` ready messages in `seq` order: one SELECT, and one
 * lease row for all of them (the message rows stay as they are, see
 * leases.ts).
 *
 * Ready means: visible now, not leased, and first of its group (no earlier
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
  const { after, rest } = leases.scanStart();
  const rows = sql
    .exec<Pick<MessageRow, "seq" | "id" | "body" | "attributes" | "attempts" | "enqueued_at" | "group_id">>(
      `SELECT seq, id, body, attributes, attempts, enqueued_at, group_id FROM messages m
       WHERE ${READY} ORDER BY m.seq LIMIT ?4`,
      after,
      rest,
      now,
      max,
    )
    .toArray();
  if (rows.length === 0) return [];
  const token = newLeaseToken();
  const leaseExpiresAt = now + visibilityTimeoutMs;
  leases.take(token, rows.map((r) => r.seq), now, leaseExpiresAt);
  bump(sql, now, "delivered", rows.length);
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    body: r.body,
    attributes: r.attributes,
    // The delivery this lease is: the failed ones before it, plus this one.
    attempts: r.attempts + 1,
    enqueuedAt: r.enqueued_at,
    leaseToken: token,
    leaseExpiresAt,
    groupId: r.group_id,
  }));
}

/**
 * The first `limit` (-1: all) unleased messages in `seq` order, only those
 * enqueued by `until` when it is not null: `columns` of each.
 */
export function unleased<R extends Record<string, SqlStorageValue>>(
  { sql, leases }: OpContext,
  columns: string,
  until: number | null,
  limit: number,
): R[] {
  const { after, rest } = leases.scanStart();
  return sql
    .exec<R>(
      `SELECT ${columns} FROM messages m WHERE ${UNLEASED} AND (?3 IS NULL OR m.enqueued_at <= ?3)
       ORDER BY m.seq LIMIT ?4`,
      after,
      rest,
      until,
      limit,
    )
    .toArray();
}
