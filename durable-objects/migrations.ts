/**
 * Numbered schema migrations, for every Durable Object class of edgeq. The
 * steps are only ever appended; a one-row table holds how many have run,
 * and each step runs with its version bump in one transaction, so a step
 * runs exactly once even if the object dies between two of them.
 */

/** One step: SQL to execute, or a function for a step that must look before it changes. */
export type Migration = string | ((sql: SqlStorage) => void);

/**
 * Applies the steps after the stored version, up to `target` (tests stop
 * early to build an older schema). `versionTable` holds the count.
 */
export function runMigrations(
  storage: DurableObjectStorage,
  steps: readonly Migration[],
  versionTable: string,
  target = steps.length,
): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS ${versionTable} (version INTEGER NOT NULL)`);
  const row = sql.exec<{ version: number }>(`SELECT version FROM ${versionTable}`).toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec(`INSERT INTO ${versionTable} (version) VALUES (0)`);
  while (version < target) {
    const step = steps[version];
    const next = version + 1;
    storage.transactionSync(() => {
      if (typeof step === "string") sql.exec(step);
      else step(sql);
      sql.exec(`UPDATE ${versionTable} SET version = ?`, next);
    });
    version = next;
  }
}
