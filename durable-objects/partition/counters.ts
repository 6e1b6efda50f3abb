/**
 * Per-minute counters, written in the same transaction as the operation they
 * count: one upsert per operation and name, whatever the batch size.
 * Lifetime totals (a Prometheus counter must never go down) are the sum of
 * the minutes kept plus `counter_totals`, which holds what the minutes
 * pruned after an hour had counted; so an operation writes one counter row,
 * not two.
 */

export type CounterName = "enqueued" | "delivered" | "acked" | "retried" | "dead_lettered" | "purged";

export const COUNTER_NAMES: readonly CounterName[] = ["enqueued", "delivered", "acked", "retried", "dead_lettered", "purged"];

/** The minute (since the epoch) that `ms` falls in. */
export const minuteOf = (ms: number): number => Math.floor(ms / 60_000);

/** Counters are kept for this many minutes. */
export const COUNTER_RETENTION_MINUTES = 60;

/** Adds `n` to this minute's counter `name` (and so to its lifetime total); nothing when `n` is 0. */
export function bump(sql: SqlStorage, now: number, name: CounterName, n: number): void {
  if (n <= 0) return;
  sql.exec(
    `INSERT INTO counters (minute, name, count) VALUES (?, ?, ?)
     ON CONFLICT (minute, name) DO UPDATE SET count = count + excluded.count`,
    minuteOf(now),
    name,
    n,
  );
}

/** Forgets the minutes older than COUNTER_RETENTION_MINUTES, adding them to the totals first. */
export function pruneCounters(sql: SqlStorage, now: number): void {
  const before = minuteOf(now) - COUNTER_RETENTION_MINUTES;
  sql.exec(
    `INSERT INTO counter_totals (name, count)
     SELECT name, SUM(count) FROM counters WHERE minute < ? GROUP BY name
     ON CONFLICT (name) DO UPDATE SET count = count + excluded.count`,
    before,
  );
  sql.exec("DELETE FROM counters WHERE minute < ?", before);
}

/** One row per minute and name with a count, from `fromMinute` on. */
export function minuteCounts(
  sql: SqlStorage,
  fromMinute: number,
): { minute: number; name: CounterName; count: number }[] {
  return sql
    .exec<{ minute: number; name: CounterName; count: number }>(
      "SELECT minute, name, count FROM counters WHERE minute >= ? ORDER BY minute",
      fromMinute,
    )
    .toArray();
}

/** Counts since the partition was created. */
export function counterTotals(sql: SqlStorage): Record<CounterName, number> {
  const totals = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<CounterName, number>;
  for (const row of sql.exec<{ name: CounterName; count: number }>(
    `SELECT name, SUM(count) AS count
     FROM (SELECT name, count FROM counter_totals UNION ALL SELECT name, count FROM counters)
     GROUP BY name`,
  )) {
    totals[row.name] = row.count;
  }
  return totals;
}
