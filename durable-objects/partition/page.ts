/**
 * One page of rows in key order after `afterKey`: `query` takes the key and
 * a row count as its two parameters and is asked for `limit + 1` rows; the
 * extra row only says there is more, and `next` is the key of the page's
 * last row.
 */
export function pageAfter<R extends Record<string, SqlStorageValue>>(
  sql: SqlStorage,
  query: string,
  afterKey: number,
  limit: number,
  keyOf: (row: R) => number,
): { page: R[]; next: number | null } {
  const rows = sql.exec<R>(query, afterKey, limit + 1).toArray();
  if (rows.length <= limit) return { page: rows, next: null };
  const page = rows.slice(0, limit);
  return { page, next: keyOf(page[page.length - 1]) };
}
