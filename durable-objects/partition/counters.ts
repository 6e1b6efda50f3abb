/**
 * Per-minute counters, written in the same transaction as the operation they
 * count, whatever the batch size: inside a group commit one upsert for the
 * whole group (`Tally`), outside one per operation and name.
 * Lifetime totals (a Prometheus counter must never go down) are the sum of
 * the minutes kept plus `counter_totals`, which holds what the minutes
 * pruned after an hour had counted; so an operation writes one counter row,
 * not two.
 */

/** What happened to messages. */
export type MessageCounterName = "enqueued" | "delivered" | "acked" | "retried" | "dead_lettered" | "purged";

/** What happened to push deliveries (batches): sent, and failed by class (see PushFailureClass). */
export type PushCounterName =
  | "push_deliveries"
  | "push_failed_4xx"
  | "push_failed_5xx"
  | "push_failed_timeout"
  | "push_failed_network"
  | "push_failed_handler";

export type CounterName = MessageCounterName | PushCounterName;

export const MESSAGE_COUNTER_NAMES: readonly MessageCounterName[] = ["enqueued", "delivered", "acked", "retried", "dead_lettered", "purged"];

export const PUSH_COUNTER_NAMES: readonly PushCounterName[] = [
  "push_deliveries",
  "push_failed_4xx",
  "push_failed_5xx",
  "push_failed_timeout",
  "push_failed_network",
  "push_failed_handler",
];

export const COUNTER_NAMES: readonly CounterName[] = [...MESSAGE_COUNTER_NAMES, ...PUSH_COUNTER_NAMES];

/** The minute (since the epoch) that `ms` falls in. */
export const minuteOf = (ms: number): number => Math.floor(ms / 60_000);

/** Counters are kept for this many minutes. */
export const COUNTER_RETENTION_MINUTES = 60;

/** Where an operation's counts go: see `Tally`. */
export interface Counts {
  /** Adds `n` to the counter `name` of the minute `now` falls in; nothing when `n` is 0. */
  add(now: number, name: CounterName, n: number): void;
}

/**
 * The counts of one group commit (group-commit.ts), written by one statement
 * at its end, in its transaction: an operation's count is undone with it
 * when its savepoint rolls back, and lost with the group when the group's
 * transaction fails, as a count written at once would be. Outside a group it
 * writes each count at once. So the operations that share a group (and an
 * enqueue that a long-poll waiter takes at once, which counts `enqueued`
 * and `delivered`) write one counter statement between them.
 */
export class Tally implements Counts {
  private pending: Map<string, number> | null = null;
  private undo: { key: string; n: number }[] = [];

  constructor(private readonly sql: SqlStorage) {}

  add(now: number, name: CounterName, n: number): void {
    if (n <= 0) return;
    if (this.pending === null) return bump(this.sql, now, name, n);
    const key = `${minuteOf(now)}:${name}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + n);
    this.undo.push({ key, n });
  }

  /** A group starts: counts wait for `flush`. */
  begin(): void {
    this.pending = new Map();
    this.undo = [];
  }

  /** Where the counts of the operation about to run start, for `rollBack`. */
  mark(): number {
    return this.undo.length;
  }

  /** Takes back the counts added since `mark` (their operation rolled back). */
  rollBack(mark: number): void {
    for (const { key, n } of this.undo.splice(mark)) this.pending!.set(key, this.pending!.get(key)! - n);
  }

  /** Writes the group's counts, one statement, in the group's transaction; then counts go straight to SQL again. */
  flush(): void {
    const rows = [...(this.pending ?? [])].filter(([, n]) => n > 0).map(([key, n]) => [...key.split(":"), n]);
    this.discard();
    if (rows.length === 0) return;
    this.sql.exec(
      `INSERT INTO counters (minute, name, count)
       SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (minute, name) DO UPDATE SET count = count + excluded.count`,
      JSON.stringify(rows.map(([minute, name, n]) => [Number(minute), name, n])),
    );
  }

  /** The group rolled back: its counts go with it. */
  discard(): void {
    this.pending = null;
    this.undo = [];
  }
}

/** Adds `n` to this minute's counter `name` (and so to its lifetime total) at once; nothing when `n` is 0. */
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
