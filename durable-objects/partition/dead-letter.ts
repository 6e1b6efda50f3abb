import type { DeadLetterReason } from "../../client/protocol";
import type { StoredDeadLetter } from "../contract";
import { pageAfter } from "./page";
import type { OpContext } from "./types";

/**
 * Moves messages to the dead letters: the copy and the delete run in the
 * caller's transaction, so a message is never in both tables, never in none.
 * A message that dies on a delivery (`max_attempts`: its last lease ended
 * without an ack) has that delivery counted in its attempts; `deliveredAt`
 * is when that delivery began. The others (`expired`) die unleased, and pass null.
 * `cause` (a nack, a lease that ended, the retention) goes to the log.
 * With a deadLetterQueue, each is marked to be forwarded there (forward.ts),
 * and the alarm is asked for at once.
 */
export function deadLetter(
  { sql, now, config, counts, effects }: Pick<OpContext, "sql" | "now" | "config" | "counts" | "effects">,
  dying: { seq: number; deliveredAt: number | null }[],
  reason: DeadLetterReason,
  lastError: string | null,
  cause: string,
): number {
  if (dying.length === 0) return 0;
  const onDelivery = reason === "max_attempts" ? 1 : 0;
  sql.exec(
    `INSERT INTO dead_letters (id, seq, body, attributes, group_id, attempts, reason, last_error,
                               enqueued_at, first_delivered_at, dead_lettered_at, forward_to, forward_at)
     SELECT m.id, m.seq, m.body, m.attributes, m.group_id, m.attempts + ?, ?, COALESCE(?, m.last_error),
            m.enqueued_at, COALESCE(m.first_delivered_at, j.value ->> 1), ?4, ?6, CASE WHEN ?6 IS NULL THEN NULL ELSE ?4 END
     FROM json_each(?5) AS j JOIN messages m ON m.seq = j.value ->> 0 ORDER BY m.seq`,
    onDelivery,
    reason,
    lastError,
    now,
    JSON.stringify(dying.map((d) => [d.seq, d.deliveredAt])),
    config.deadLetterQueue,
  );
  if (config.deadLetterQueue !== null) effects.dueAt(now);
  // rowsWritten would count index entries too; RETURNING counts rows.
  const moved = sql
    .exec("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?)) RETURNING 1", JSON.stringify(dying.map((d) => d.seq)))
    .toArray().length;
  counts.add(now, "dead_lettered", dying.length);
  effects.deadLetter(moved, reason, cause);
  return moved;
}

type DeadLetterRow = {
  dl_seq: number;
  id: string;
  body: string;
  attributes: string | null;
  group_id: string | null;
  attempts: number;
  reason: DeadLetterReason;
  last_error: string | null;
  enqueued_at: number;
  dead_lettered_at: number;
};

/** One page of dead letters in the order they died, after `afterSeq`. */
export function listDeadLetters(
  sql: SqlStorage,
  afterSeq: number,
  limit: number,
): { deadLetters: StoredDeadLetter[]; next: number | null } {
  const { page, next } = pageAfter<DeadLetterRow>(
    sql,
    `SELECT dl_seq, id, body, attributes, group_id, attempts, reason, last_error, enqueued_at, dead_lettered_at
     FROM dead_letters WHERE dl_seq > ? ORDER BY dl_seq LIMIT ?`,
    afterSeq,
    limit,
    (r) => r.dl_seq,
  );
  return {
    deadLetters: page.map((r) => ({
      id: r.id,
      body: r.body,
      attributes: r.attributes,
      attempts: r.attempts,
      reason: r.reason,
      lastError: r.last_error,
      enqueuedAt: r.enqueued_at,
      deadLetteredAt: r.dead_lettered_at,
      groupId: r.group_id,
    })),
    next,
  };
}

/**
 * Puts dead letters back at the end of the queue, ready now with attempts 0,
 * oldest first and at most `room` of them (null: no limit; the partition's
 * share of maxDepth). A redriven message starts a new life: its enqueue time
 * is the redrive, so the queue's retention does not expire it at once.
 * `ids` null means all. `remaining`: the ones asked for that did not fit.
 */
export function redrive(
  { sql, now, config, counts, effects }: Pick<OpContext, "sql" | "now" | "config" | "counts" | "effects">,
  ids: string[] | null,
  room: number | null,
): { redriven: number; remaining: number } {
  const filter = ids === null ? "" : "WHERE id IN (SELECT value FROM json_each(?))";
  const args = ids === null ? [] : [JSON.stringify(ids)];
  const chosen = sql
    .exec<{ dl_seq: number }>(
      `SELECT dl_seq FROM dead_letters ${filter} ORDER BY dl_seq LIMIT ?`,
      ...args,
      room === null ? -1 : Math.max(0, room),
    )
    .toArray()
    .map((r) => r.dl_seq);
  const moved = JSON.stringify(chosen);
  sql.exec(
    `INSERT INTO messages (id, body, attributes, group_id, visible_at, attempts, enqueued_at)
     SELECT id, body, attributes, group_id, ?1, 0, ?1 FROM dead_letters
     WHERE dl_seq IN (SELECT value FROM json_each(?2)) ORDER BY dl_seq`,
    now,
    moved,
  );
  sql.exec("DELETE FROM dead_letters WHERE dl_seq IN (SELECT value FROM json_each(?))", moved);
  counts.add(now, "enqueued", chosen.length);
  effects.stored(chosen.length);
  if (chosen.length > 0) effects.dueAt(now + config.retentionMs);
  // Asked for and still a dead letter: what did not fit.
  const remaining =
    room === null ? 0 : sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM dead_letters ${filter}`, ...args).one().n;
  return { redriven: chosen.length, remaining };
}

export function deleteDeadLetters(sql: SqlStorage, ids: string[] | null): number {
  if (ids === null) return sql.exec("DELETE FROM dead_letters RETURNING 1").toArray().length;
  return sql
    .exec("DELETE FROM dead_letters WHERE id IN (SELECT value FROM json_each(?)) RETURNING 1", JSON.stringify(ids))
    .toArray().length;
}
