import type { PublishedMessage } from "../../client/protocol";
import { matches } from "./filter";
import { addTotal, type Sub, type TopicItem } from "./types";

/**
 * Stores a publish in the outbox, in the caller's transaction: the
 * transaction that answers 201. Each message is matched against the
 * subscriptions as they are now, and stored with the queues that take it;
 * one that no subscription takes is counted as `filtered` and not stored.
 *
 * A dedup id seen within `dedupWindowMs`, earlier in the store or in the
 * same batch, stores nothing and answers the first message's id with
 * `duplicate: true`. Answers the results in the order given and the last
 * seq stored (null when nothing was).
 */
export function publish(
  sql: SqlStorage,
  now: number,
  subs: readonly Sub[],
  dedupWindowMs: number,
  items: TopicItem[],
): { results: PublishedMessage[]; lastSeq: number | null } {
  const results: PublishedMessage[] = new Array(items.length);
  const fresh = dedupe(sql, now, dedupWindowMs, items, results);

  const rows: (TopicItem & { takers: string })[] = [];
  const filteredBy = new Map<string, number>();
  let filtered = 0;
  for (const item of fresh) {
    const attributes = item.attributes === null ? null : (JSON.parse(item.attributes) as Record<string, string>);
    const takers: string[] = [];
    for (const sub of subs) {
      if (matches(sub.filter, attributes)) takers.push(sub.queue);
      else filteredBy.set(sub.queue, (filteredBy.get(sub.queue) ?? 0) + 1);
    }
    if (takers.length === 0) filtered += 1;
    else rows.push({ ...item, takers: JSON.stringify(takers) });
  }

  let lastSeq: number | null = null;
  if (rows.length > 0) {
    // One set-based insert; ORDER BY key keeps the order given, so seqs rise with it.
    for (const { seq } of sql.exec<{ seq: number }>(
      `INSERT INTO messages (id, body, attributes, group_id, partition_key, delay_ms, published_at, takers)
       SELECT value ->> 'id', value ->> 'body', value ->> 'attributes', value ->> 'groupId', value ->> 'key',
              value ->> 'delayMs', ?1, value ->> 'takers'
       FROM json_each(?2) ORDER BY key
       RETURNING seq`,
      now,
      JSON.stringify(rows),
    )) {
      lastSeq = Math.max(lastSeq ?? 0, seq);
    }
  }
  for (const [queue, n] of filteredBy) sql.exec("UPDATE subscriptions SET filtered = filtered + ? WHERE queue = ?", n, queue);
  addTotal(sql, "published", fresh.length);
  addTotal(sql, "filtered", filtered);
  addTotal(sql, "duplicates", items.length - fresh.length);
  return { results, lastSeq };
}

/**
 * Fills in `results` for the items whose dedup id was seen, and answers the
 * others (each with its own id as its result), remembering their dedup ids
 * for the window.
 */
function dedupe(sql: SqlStorage, now: number, windowMs: number, items: TopicItem[], results: PublishedMessage[]): TopicItem[] {
  const dedupIds = items.flatMap((m) => (m.dedupId === null ? [] : [m.dedupId]));
  const seen = new Map<string, string>(); // dedup id -> id of the first message
  if (dedupIds.length > 0) {
    sql.exec("DELETE FROM dedup WHERE expires_at <= ?", now);
    for (const row of sql.exec<{ dedup_id: string; message_id: string }>(
      "SELECT dedup_id, message_id FROM dedup WHERE dedup_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(dedupIds),
    )) {
      seen.set(row.dedup_id, row.message_id);
    }
  }
  const fresh: TopicItem[] = [];
  const remembered: { dedupId: string; id: string }[] = [];
  items.forEach((item, index) => {
    const first = item.dedupId === null ? undefined : seen.get(item.dedupId);
    if (first !== undefined) return void (results[index] = { id: first, duplicate: true });
    if (item.dedupId !== null) {
      seen.set(item.dedupId, item.id);
      remembered.push({ dedupId: item.dedupId, id: item.id });
    }
    results[index] = { id: item.id };
    fresh.push(item);
  });
  if (remembered.length > 0 && windowMs > 0) {
    sql.exec(
      `INSERT INTO dedup (dedup_id, message_id, expires_at)
       SELECT value ->> 'dedupId', value ->> 'id', ? FROM json_each(?) WHERE true
       ON CONFLICT (dedup_id) DO UPDATE SET message_id = excluded.message_id, expires_at = excluded.expires_at`,
      now + windowMs,
      JSON.stringify(remembered),
    );
  }
  return fresh;
}
