/**
 * The outbox of dead letters bound for the queue's deadLetterQueue (SQS's
 * RedrivePolicy): dead-letter.ts marks them, the alarm sends them
 * (durable-objects/outbox.ts) and, once that queue has stored them, they
 * leave this partition here. A send that fails is tried again after a
 * backoff; one the other queue refuses for good (it does not exist, or
 * the message does not fit it) leaves the dead letter here, with the reason
 * as its last error.
 */
import type { SendMessage } from "../../client/protocol";
import { DEAD_LETTER_SOURCE_ATTRIBUTE } from "../../client/protocol";
import { backoffMs } from "./backoff";
import type { OpContext } from "./types";

/** Dead letters sent in one call. */
export const FORWARD_BATCH = 10;
/** Retry delays of a failed send: 1 s doubling to 5 min, with jitter. */
export const FORWARD_RETRY = { backoffBaseMs: 1_000, backoffMaxMs: 5 * 60_000 } as const;
/**
 * How long the other queue keeps a forwarded dead letter's dedup id: a
 * retry after an unknown outcome comes within the retry cap, so a day
 * covers many of them and a restart of the runtime.
 */
export const FORWARD_DEDUP_WINDOW_MS = 24 * 60 * 60_000;

/** One dead letter due to be sent. */
export interface DueForward {
  dlSeq: number;
  target: string;
  message: SendMessage;
}

type Row = { dl_seq: number; id: string; body: string; attributes: string | null; group_id: string | null; forward_to: string };

/**
 * A dead letter's copy for its deadLetterQueue: what it was, the queue it
 * died in, and a dedup id of this dead letter (its message id and its row:
 * a message redriven and dead again is a new dead letter).
 */
function copyOf(row: Row, source: string): SendMessage {
  const attributes = { ...(row.attributes === null ? {} : (JSON.parse(row.attributes) as Record<string, string>)) };
  attributes[DEAD_LETTER_SOURCE_ATTRIBUTE] = source;
  const copy: SendMessage = { body: JSON.parse(row.body), attributes, dedupId: `dead-letter:${row.id}:${row.dl_seq}` };
  if (row.group_id !== null) copy.groupId = row.group_id;
  return copy;
}

/** The first dead letters due to be sent, oldest first, all to one queue (the oldest's). */
export function dueForwards(sql: SqlStorage, source: string, now: number, limit = FORWARD_BATCH): DueForward[] {
  const first = sql
    .exec<{ forward_to: string }>(
      "SELECT forward_to FROM dead_letters WHERE forward_to IS NOT NULL AND forward_at <= ? ORDER BY forward_at, dl_seq LIMIT 1",
      now,
    )
    .toArray()[0];
  if (!first) return [];
  return sql
    .exec<Row>(
      `SELECT dl_seq, id, body, attributes, group_id, forward_to FROM dead_letters
       WHERE forward_to = ? AND forward_at <= ? ORDER BY dl_seq LIMIT ?`,
      first.forward_to,
      now,
      limit,
    )
    .toArray()
    .map((row) => ({ dlSeq: row.dl_seq, target: row.forward_to, message: copyOf(row, source) }));
}

/** The other queue stored them: they leave (those still marked: a redrive meanwhile took its own back). */
export function forwarded({ sql }: Pick<OpContext, "sql">, dlSeqs: number[]): number {
  return sql
    .exec("DELETE FROM dead_letters WHERE dl_seq IN (SELECT value FROM json_each(?)) AND forward_to IS NOT NULL RETURNING 1", JSON.stringify(dlSeqs))
    .toArray().length;
}

/**
 * A send failed. `forGood`: they stay here as dead letters of this queue,
 * with the reason; else they are tried again after the backoff.
 */
export function forwardFailed({ sql, now, effects }: Pick<OpContext, "sql" | "now" | "effects">, dlSeqs: number[], error: string, forGood: boolean): void {
  const seqs = JSON.stringify(dlSeqs);
  if (forGood) {
    sql.exec(
      "UPDATE dead_letters SET forward_to = NULL, forward_at = NULL, last_error = ? WHERE dl_seq IN (SELECT value FROM json_each(?))",
      error,
      seqs,
    );
    return;
  }
  const { failures } = sql
    .exec<{ failures: number }>("SELECT COALESCE(MAX(forward_failures), 0) + 1 AS failures FROM dead_letters WHERE dl_seq IN (SELECT value FROM json_each(?))", seqs)
    .one();
  const at = now + backoffMs(failures, FORWARD_RETRY);
  sql.exec(
    `UPDATE dead_letters SET forward_failures = ?, forward_at = ?
     WHERE dl_seq IN (SELECT value FROM json_each(?)) AND forward_to IS NOT NULL`,
    failures,
    at,
    seqs,
  );
  effects.dueAt(at);
}

/** When the next dead letter is due to be sent; null when none waits. */
export const nextForwardAt = (sql: SqlStorage): number | null =>
  sql.exec<{ at: number | null }>("SELECT MIN(forward_at) AS at FROM dead_letters WHERE forward_to IS NOT NULL").one().at;
