import type { MessageState } from "../../client/protocol";
import { pageOf } from "./page";
import type { MessageRow } from "./types";

/** A stored message as peek shows it, body still JSON text. */
export interface PeekedRow {
  id: string;
  seq: number;
  state: MessageState;
  body: string;
  attributes: string | null;
  attempts: number;
  enqueuedAt: number;
  visibleAt: number;
  groupId: string | null;
  lastError: string | null;
}

/** Messages after `afterSeq` in `seq` order, read without leasing (a plain SELECT on the primary key). */
export function peek(sql: SqlStorage, afterSeq: number, limit: number, now: number): { messages: PeekedRow[]; next: number | null } {
  const rows = sql
    .exec<MessageRow>(
      `SELECT seq, id, body, attributes, group_id, attempts, lease_token, visible_at, enqueued_at, last_error
       FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
      afterSeq,
      limit + 1,
    )
    .toArray();
  const { page, next } = pageOf(rows, limit, (r) => r.seq);
  return {
    messages: page.map((r) => ({
      id: r.id,
      seq: r.seq,
      // A lease that has ended stays in flight until the next sweep or receive takes it back.
      state: r.lease_token !== null ? "inFlight" : r.visible_at > now ? "delayed" : "ready",
      body: r.body,
      attributes: r.attributes,
      attempts: r.attempts,
      enqueuedAt: r.enqueued_at,
      visibleAt: r.visible_at,
      groupId: r.group_id,
      lastError: r.last_error,
    })),
    next,
  };
}
