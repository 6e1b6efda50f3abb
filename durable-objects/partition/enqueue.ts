import type { EnqueueBatch, EnqueueItem, EnqueuedItem } from "../contract";
import type { OpContext } from "./types";

/**
 * Inserts the items of a JSON array of EnqueueItem in one set-based
 * statement (several times faster than a statement per row) and answers
 * their seqs in the order given. `ORDER BY key` inserts them in that order,
 * so seqs (AUTOINCREMENT) rise with it: sorting by seq restores it.
 */
function insertItems(sql: SqlStorage, now: number, itemsJson: string): { id: string; seq: number }[] {
  return sql
    .exec<{ id: string; seq: number }>(
      `INSERT INTO messages (id, body, attributes, group_id, dedup_id, visible_at, enqueued_at)
       SELECT value ->> 'id', value ->> 'body', value ->> 'attributes', value ->> 'groupId',
              value ->> 'dedupId', ?1 + (value ->> 'delayMs'), ?1
       FROM json_each(?2) ORDER BY key
       RETURNING id, seq`,
      now,
      itemsJson,
    )
    .toArray()
    .sort((a, b) => a.seq - b.seq);
}

/**
 * Stores a batch in one transaction (the caller's). A batch without dedup
 * ids is inserted straight from the worker's JSON text.
 *
 * A dedup id seen within the dedup window, earlier in the store or earlier
 * in the same batch, stores nothing and answers the first message's id and
 * seq with `duplicate: true`. The window is the queue's, or the batch's
 * `minDedupWindowMs` when that is longer.
 */
export function enqueue(ctx: OpContext, batch: EnqueueBatch): { results: EnqueuedItem[]; stored: number } {
  const { sql, now, config, effects } = ctx;
  let stored: { results: EnqueuedItem[]; stored: number; earliestDueAt: number | null };
  if (batch.dedup) {
    const windowMs = Math.max(config.dedupWindowMs, batch.minDedupWindowMs ?? 0);
    stored = enqueueWithDedup(ctx, JSON.parse(batch.items) as EnqueueItem[], windowMs);
  } else {
    const results: EnqueuedItem[] = insertItems(sql, now, batch.items);
    if (results.length !== batch.count) throw new Error(`batch of ${batch.count} stored ${results.length} rows`);
    ctx.counts.add(now, "enqueued", results.length);
    stored = { results, stored: results.length, earliestDueAt: batch.minDelayMs === null ? null : now + batch.minDelayMs };
  }
  if (stored.stored > 0) {
    effects.stored(stored.stored);
    effects.dueAt(Math.min(stored.earliestDueAt ?? Infinity, now + config.retentionMs));
  }
  return { results: stored.results, stored: stored.stored };
}

function enqueueWithDedup(
  { sql, now, counts }: OpContext,
  items: EnqueueItem[],
  windowMs: number,
): { results: EnqueuedItem[]; stored: number; earliestDueAt: number | null } {
  const results: (EnqueuedItem | undefined)[] = new Array(items.length);
  const firstByDedup = new Map<string, number>(); // dedup id -> index of its first item in the batch
  const dedupIds = items.flatMap((m) => (m.dedupId === null ? [] : [m.dedupId]));
  const known = new Map<string, EnqueuedItem>();
  for (const row of sql.exec<{ dedup_id: string; message_id: string; seq: number }>(
    `SELECT dedup_id, message_id, seq FROM dedup
     WHERE dedup_id IN (SELECT value FROM json_each(?)) AND expires_at > ?`,
    JSON.stringify(dedupIds),
    now,
  )) {
    known.set(row.dedup_id, { id: row.message_id, seq: row.seq, duplicate: true });
  }

  const fresh: { index: number; item: EnqueueItem }[] = [];
  let earliestDueAt: number | null = null;
  items.forEach((m, index) => {
    if (m.dedupId !== null) {
      const seen = known.get(m.dedupId);
      if (seen) return void (results[index] = seen);
      if (firstByDedup.has(m.dedupId)) return; // filled in once the first one has a seq
      firstByDedup.set(m.dedupId, index);
    }
    if (m.delayMs > 0) earliestDueAt = Math.min(earliestDueAt ?? Infinity, now + m.delayMs);
    fresh.push({ index, item: m });
  });

  if (fresh.length > 0) {
    const inserted = insertItems(sql, now, JSON.stringify(fresh.map((f) => f.item)));
    fresh.forEach((f, i) => (results[f.index] = inserted[i]));
    counts.add(now, "enqueued", fresh.length);
  }

  if (firstByDedup.size > 0) {
    const rows = [...firstByDedup].map(([dedupId, index]) => ({ dedupId, ...results[index]! }));
    // "WHERE true": without it SQLite parses ON CONFLICT as a join constraint of json_each.
    sql.exec(
      `INSERT INTO dedup (dedup_id, message_id, seq, expires_at)
       SELECT value ->> 'dedupId', value ->> 'id', value ->> 'seq', ? FROM json_each(?) WHERE true
       ON CONFLICT (dedup_id) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq,
                                            expires_at = excluded.expires_at`,
      now + windowMs,
      JSON.stringify(rows),
    );
    items.forEach((m, index) => {
      if (results[index] === undefined && m.dedupId !== null) {
        const first = results[firstByDedup.get(m.dedupId)!]!;
        results[index] = { id: first.id, seq: first.seq, duplicate: true };
      }
    });
  }

  return { results: results as EnqueuedItem[], stored: fresh.length, earliestDueAt };
}
