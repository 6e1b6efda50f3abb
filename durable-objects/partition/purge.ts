import { bump } from "./counters";

/**
 * Deletes every message that is not leased (ready, delayed, waiting for a
 * retry); leased messages stay so that their consumers can still ack them.
 * Dedup ids are kept: a retried enqueue after a purge is still a duplicate.
 */
export function purge(sql: SqlStorage, now: number): number {
  const n = sql.exec("DELETE FROM messages WHERE lease_token IS NULL RETURNING 1").toArray().length;
  bump(sql, now, "purged", n); // keeps the depth history of the stats right
  return n;
}
