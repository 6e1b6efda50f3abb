/**
 * One page out of `limit + 1` rows read: the extra row only says there is
 * more, and `next` is the key of the page's last row.
 */
export function pageOf<R>(rows: R[], limit: number, keyOf: (row: R) => number): { page: R[]; next: number | null } {
  if (rows.length <= limit) return { page: rows, next: null };
  const page = rows.slice(0, limit);
  return { page, next: keyOf(page[page.length - 1]) };
}
