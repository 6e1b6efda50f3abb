import type { LeasedMessage } from "../contract";
import { leaseTokenOf } from "./lease-token";
import type { MessageRow, OpContext } from "./types";

/**
 * Deliverable now, but for the leases (`ready` leaves the leased out):
 * visible, and first of its group (no earlier message of the group is still
 * stored, whatever its state). `?3` is now.
 */
const READY = `m.visible_at <= ?3
  AND (m.group_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM messages g WHERE g.group_id = m.group_id AND g.seq < m.seq))`;

/**
 * `select` over the first `limit` (-1: all) messages `m` in `seq` order
 * that are ready now (`READY`) and that no lease holds. Two statements at
 * most (see `Leases.scanStart`): the holes in the prefix of the queue,
 * which all come before the rest, then the messages after the prefix but
 * for the leased ones among them. A scan that read past many rows it did
 * not return (delayed messages beyond the prefix) tells the leases, so
 * that the next scan starts past them.
 */
export function ready<R extends Record<string, SqlStorageValue>>({ sql, leases, now }: OpContext, select: string, limit: number): R[] {
  if (limit === 0) return [];
  const { holes, after, rest } = leases.scanStart(now);
  const found =
    holes === "[]"
      ? []
      : sql
          .exec<R>(
            `${select} FROM messages m WHERE m.seq IN (SELECT value FROM json_each(?1)) AND ${READY}
             ORDER BY m.seq LIMIT ?2`,
            holes,
            limit,
            now,
          )
          .toArray();
  if (found.length === limit) return found;
  const cursor = sql.exec<R>(
    `${select} FROM messages m WHERE m.seq > ?1 AND m.seq NOT IN (SELECT value FROM json_each(?4)) AND ${READY}
     ORDER BY m.seq LIMIT ?2`,
    after,
    limit === -1 ? -1 : limit - found.length,
    now,
    rest,
  );
  const more = cursor.toArray();
  leases.readPast(cursor.rowsRead - more.length);
  return found.concat(more);
}

/**
 * `select` over the first `limit` (-1: all) messages `m` in `seq` order that
 * no lease holds and that match `where` (SQL whose `?3` is `param`),
 * whether due or not: for the sweep (retention, the oldest message's age),
 * which runs on alarms, so every leased seq is excluded one by one rather
 * than through the prefix, whose waiting messages a ready scan may skip.
 */
export function unleased<R extends Record<string, SqlStorageValue>>(
  { sql, leases }: OpContext,
  select: string,
  where: string,
  param: SqlStorageValue,
  limit: number,
): R[] {
  if (limit === 0) return [];
  return sql
    .exec<R>(
      `${select} FROM messages m WHERE m.seq NOT IN (SELECT value FROM json_each(?1)) AND ${where}
       ORDER BY m.seq LIMIT ?2`,
      leases.seqsJson,
      limit,
      param,
    )
    .toArray();
}

/** How many messages a receive could lease now, counting no further than `limit`. */
export function countReady(ctx: OpContext, limit: number): number {
  if (limit <= 0) return 0;
  return ready(ctx, "SELECT 1 AS one", limit).length;
}

/**
 * Leases up to `max` ready messages in `seq` order: found without the
 * leased ones (`ready`), and one lease row written for all of them (the
 * message rows stay as they are, see leases.ts).
 *
 * Ready means: visible now, not leased, and first of its group (no earlier
 * message of the group is still stored, whatever its state). That one rule
 * gives per-group FIFO and "at most one per group per receive".
 * All messages of one receive share a lease token; a receipt names the seq
 * too, so each lease is still fenced on its own. `owner`: the consume
 * stream the lease is for (its token then starts with it, see
 * lease-token.ts); null (the default) for a receive.
 */
export function receive(ctx: OpContext, max: number, visibilityTimeoutMs: number, owner: string | null = null): LeasedMessage[] {
  const { now, leases } = ctx;
  if (max <= 0) return [];
  const rows = ready<
    Pick<MessageRow, "seq" | "id" | "body" | "attributes" | "attempts" | "enqueued_at" | "group_id"> & {
      first_delivered_at: number | null;
      dedup_id: string | null;
    }
  >(ctx, "SELECT m.seq, m.id, m.body, m.attributes, m.attempts, m.enqueued_at, m.group_id, m.first_delivered_at, m.dedup_id", max);
  if (rows.length === 0) return [];
  const token = leaseTokenOf(owner);
  const leaseExpiresAt = now + visibilityTimeoutMs;
  leases.take(token, rows.map((r) => r.seq), now, leaseExpiresAt);
  ctx.counts.add(now, "delivered", rows.length);
  ctx.effects.dueAt(leaseExpiresAt);
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
    // Set when a delivery fails (retry.ts): a message on its first delivery has none yet.
    firstDeliveredAt: r.first_delivered_at ?? now,
    dedupId: r.dedup_id,
  }));
}
