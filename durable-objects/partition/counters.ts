/**
 * Per-minute counters, written in the same transaction as the operation they
 * count: one upsert per operation and name, whatever the batch size.
 */

export type CounterName = "enqueued" | "delivered" | "acked" | "retried" | "dead_lettered";

export const minuteOf = (ms: number): number => Math.floor(ms / 60_000);

/** Counters are kept for this many minutes. */
export const COUNTER_RETENTION_MINUTES = 60;

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

export function pruneCounters(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM counters WHERE minute < ?", minuteOf(now) - COUNTER_RETENTION_MINUTES);
}
