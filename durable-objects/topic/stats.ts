import type { TopicStats } from "../../client/protocol";
import { readSubs } from "./types";

/**
 * The topic's figures: lifetime totals, the outbox (messages not yet in
 * every queue that takes them, and the age of the oldest: the fan-out's
 * lag), and each subscription's share of it. Reads only.
 */
export function topicStats(sql: SqlStorage, now: number): TopicStats {
  const totals = new Map(sql.exec<{ name: string; count: number }>("SELECT name, count FROM totals").toArray().map((r) => [r.name, r.count]));
  const outbox = sql
    .exec<{ n: number; oldest: number | null }>(
      `SELECT COUNT(*) AS n, MIN(m.published_at) AS oldest FROM messages m
       WHERE EXISTS (SELECT 1 FROM json_each(m.takers) j JOIN subscriptions s ON s.queue = j.value WHERE s.cursor < m.seq)`,
    )
    .one();
  const subscriptions = readSubs(sql).map((row) => {
    const pending = sql
      .exec<{ n: number; oldest: number | null }>(
        `SELECT COUNT(*) AS n, MIN(published_at) AS oldest FROM messages
         WHERE seq > ? AND EXISTS (SELECT 1 FROM json_each(takers) WHERE value = ?)`,
        row.cursor,
        row.queue,
      )
      .one();
    return {
      queue: row.queue,
      delivered: row.delivered,
      filtered: row.filtered,
      pending: pending.n,
      oldestPendingAgeMs: ageOf(pending.oldest, now),
      failures: row.failures,
      lastError: row.last_error,
      retryAt: row.retry_at,
    };
  });
  return {
    published: totals.get("published") ?? 0,
    duplicates: totals.get("duplicates") ?? 0,
    filtered: totals.get("filtered") ?? 0,
    pending: outbox.n,
    oldestPendingAgeMs: ageOf(outbox.oldest, now),
    subscriptions,
  };
}

const ageOf = (publishedAt: number | null, now: number) => (publishedAt === null ? 0 : Math.max(0, now - publishedAt));
