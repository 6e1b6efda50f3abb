/**
 * The partition's own settings and state, one JSON value per key in the
 * `meta` table: the queue's configuration, its registry version, the
 * partition's place, the deleted mark and the delivery-rate bucket.
 */

/** The stored values of `keys` (absent keys are missing from the map). */
export function readMeta(sql: SqlStorage, keys: readonly string[]): Map<string, unknown> {
  return new Map(
    sql
      .exec<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys))
      .toArray()
      .map((r) => [r.key, JSON.parse(r.value)]),
  );
}

/** Stores `value` under `key`, in the caller's transaction. */
export function writeMeta(sql: SqlStorage, key: string, value: unknown): void {
  sql.exec(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    key,
    JSON.stringify(value),
  );
}

export function deleteMeta(sql: SqlStorage, key: string): void {
  sql.exec("DELETE FROM meta WHERE key = ?", key);
}
