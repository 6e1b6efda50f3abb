/**
 * Deletes every message that is not leased (ready, delayed, waiting for a
 * retry); leased messages stay so that their consumers can still ack them.
 * Dedup ids are kept: a retried enqueue after a purge is still a duplicate.
 */
export function purge(sql: SqlStorage): number {
  return sql.exec("DELETE FROM messages WHERE lease_token IS NULL RETURNING 1").toArray().length;
}
