import type { EnqueueItem, EnqueuedItem, OpContext } from "./types";
import { bump } from "./counters";

/**
 * Stores a batch in one transaction (the caller's) with one set-based
 * INSERT over `json_each`: several times faster than a statement per row.
 *
 * A dedup id seen within the dedup window, earlier in the store or earlier
 * in the same batch, stores nothing and answers the first message's id and
 * seq with `duplicate: true`.
 */
export function enqueue(
  { sql, config, now }: OpContext,
  items: EnqueueItem[],
): { results: EnqueuedItem[]; stored: number; earliestDueAt: number | null } {
  const results: (EnqueuedItem | undefined)[] = new Array(items.length);
  const firstByDedup = new Map<string, number>(); // dedup id -> index of its first item in the batch
  const dedupIds = items.flatMap((m) => (m.dedupId === null ? [] : [m.dedupId]));
  const known = new Map<string, EnqueuedItem>();
  if (dedupIds.length > 0) {
    for (const row of sql.exec<{ dedup_id: string; message_id: string; seq: number }>(
      `SELECT dedup_id, message_id, seq FROM dedup
       WHERE dedup_id IN (SELECT value FROM json_each(?)) AND expires_at > ?`,
      JSON.stringify(dedupIds),
      now,
    )) {
      known.set(row.dedup_id, { id: row.message_id, seq: row.seq, duplicate: true });
    }
  }

  const fresh: { index: number; row: Record<string, unknown> }[] = [];
  let earliestDueAt: number | null = null;
  items.forEach((m, index) => {
    if (m.dedupId !== null) {
      const seen = known.get(m.dedupId);
      if (seen) return void (results[index] = seen);
      if (firstByDedup.has(m.dedupId)) return; // filled in once the first one has a seq
      firstByDedup.set(m.dedupId, index);
    }
    const visibleAt = now + m.delayMs;
    if (m.delayMs > 0) earliestDueAt = Math.min(earliestDueAt ?? Infinity, visibleAt);
    fresh.push({
      index,
      row: {
        id: crypto.randomUUID(),
        body: m.body,
        attributes: m.attributes,
        groupId: m.groupId,
        dedupId: m.dedupId,
        visibleAt,
      },
    });
  });

  if (fresh.length > 0) {
    const inserted = sql
      .exec<{ seq: number; id: string }>(
        `INSERT INTO messages (id, body, attributes, group_id, dedup_id, visible_at, enqueued_at)
         SELECT value ->> 'id', value ->> 'body', value ->> 'attributes', value ->> 'groupId',
                value ->> 'dedupId', value ->> 'visibleAt', ?
         FROM json_each(?) ORDER BY key
         RETURNING seq, id`,
        now,
        JSON.stringify(fresh.map((f) => f.row)),
      )
      .toArray();
    const seqById = new Map(inserted.map((r) => [r.id, r.seq]));
    for (const f of fresh) results[f.index] = { id: f.row.id as string, seq: seqById.get(f.row.id as string)! };
    bump(sql, now, "enqueued", fresh.length);
  }

  if (firstByDedup.size > 0) {
    // `WHERE true`: without it SQLite parses ON CONFLICT as a join constraint of the SELECT.
    const rows = [...firstByDedup].map(([dedupId, index]) => ({ dedupId, ...results[index]! }));
    // "WHERE true": without it SQLite parses ON CONFLICT as a join constraint of json_each.
    sql.exec(
      `INSERT INTO dedup (dedup_id, message_id, seq, expires_at)
       SELECT value ->> 'dedupId', value ->> 'id', value ->> 'seq', ? FROM json_each(?) WHERE true
       ON CONFLICT (dedup_id) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq,
                                            expires_at = excluded.expires_at`,
      now + config.dedupWindowMs,
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
