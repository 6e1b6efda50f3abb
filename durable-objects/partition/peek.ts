import type { PeekedRow } from "../contract";
import { pageAfter } from "./page";
import type { Leases } from "./leases";
import type { MessageRow } from "./types";

/** Messages after `afterSeq` in `seq` order, read without leasing (a plain SELECT on the primary key). */
export function peek(
  sql: SqlStorage,
  leases: Leases,
  afterSeq: number,
  limit: number,
  now: number,
): { messages: PeekedRow[]; next: number | null } {
  const { page, next } = pageAfter<MessageRow>(
    sql,
    `SELECT seq, id, body, attributes, group_id, attempts, visible_at, enqueued_at, last_error
     FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
    afterSeq,
    limit,
    (r) => r.seq,
  );
  return {
    messages: page.map((r) => {
      // A lease that has ended stays in flight until the next sweep or receive takes it back.
      const leaseEnd = leases.endOf(r.seq);
      return {
        id: r.id,
        seq: r.seq,
        state: leaseEnd !== undefined ? "inFlight" : r.visible_at > now ? "delayed" : "ready",
        body: r.body,
        attributes: r.attributes,
        // Deliveries so far: an in-flight message is on one more than have failed.
        attempts: r.attempts + (leaseEnd !== undefined ? 1 : 0),
        enqueuedAt: r.enqueued_at,
        visibleAt: leaseEnd ?? r.visible_at,
        groupId: r.group_id,
        lastError: r.last_error,
      };
    }),
    next,
  };
}
