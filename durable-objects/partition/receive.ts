import type { LeasedMessage, MessageRow, OpContext } from "./types";

/** A fresh lease token: 128 random bits, base64url. */
export function newLeaseToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Deliverable now, but for the leases (`unleased` leaves the leased out):
 * visible, and first of its group (no earlier message of the group is still
 * stored, whatever its state). `?3` is now.
 */
const READY = `m.visible_at <= ?3
  AND (m.group_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM messages g WHERE g.group_id = m.group_id AND g.seq < m.seq))`;

/**
 * `select` over the first `limit` (-1: all) messages `m` in `seq` order that
 * no lease holds and that match `where` (SQL whose `?3` is `param`). Two
 * statements at most (see `Leases.scanStart`): the holes in the leased
 * prefix of the queue, which all come before the rest, then the messages
 * after the prefix but for the leased ones among them.
 */
export function unleased<R extends Record<string, SqlStorageValue>>(
  { sql, leases }: OpContext,
  select: string,
  where: string,
  param: SqlStorageValue,
  limit: number,
): R[] {
  if (limit === 0) return [];
  const { holes, after, rest } = leases.scanStart();
  const found =
    holes === "[]"
      ? []
      : sql
          .exec<R>(
            `${select} FROM messages m WHERE m.seq IN (SELECT value FROM json_each(?1)) AND ${where}
             ORDER BY m.seq LIMIT ?2`,
            holes,
            limit,
            param,
          )
          .toArray();
  if (found.length === limit) return found;
  return found.concat(
    sql
      .exec<R>(
        `${select} FROM messages m WHERE m.seq > ?1 AND m.seq NOT IN (SELECT value FROM json_each(?4)) AND ${where}
         ORDER BY m.seq LIMIT ?2`,
        after,
        limit === -1 ? -1 : limit - found.length,
        param,
        rest,
      )
      .toArray(),
  );
}

/** How many messages a receive could lease now, counting no further than `limit`. */
export function countReady(ctx: OpContext, limit: number): number {
  if (limit <= 0) return 0;
  return unleased(ctx, "SELECT 1 AS one", READY, ctx.now, limit).length;
}

/**
 * Leases up to `max` ready messages in `seq` order: found without the
 * leased ones (`unleased`), and one lease row written for all of them (the
 * message rows stay as they are, see leases.ts).
 *
 * Ready means: visible now, not leased, and first of its group (no earlier
 * message of the group is still stored, whatever its state). That one rule
 * gives per-group FIFO and "at most one per group per receive".
 * All messages of one receive share a lease token; a receipt names the seq
 * too, so each lease is still fenced on its own.
 */
export function receive(ctx: OpContext, max: number, visibilityTimeoutMs: number): LeasedMessage[] {
  const { sql, now, leases } = ctx;
  if (max <= 0) return [];
  const rows = unleased<Pick<MessageRow, "seq" | "id" | "body" | "attributes" | "attempts" | "enqueued_at" | "group_id">>(
    ctx,
    "SELECT m.seq, m.id, m.body, m.attributes, m.attempts, m.enqueued_at, m.group_id",
    READY,
    now,
    max,
  );
  if (rows.length === 0) return [];
  const token = newLeaseToken();
  const leaseExpiresAt = now + visibilityTimeoutMs;
  leases.take(token, rows.map((r) => r.seq), now, leaseExpiresAt);
  ctx.counts.add(now, "delivered", rows.length);
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
