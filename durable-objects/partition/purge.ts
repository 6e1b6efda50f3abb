import { bump } from "./counters";
import type { Leases } from "./leases";

/**
 * Deletes every message that is not leased (ready, delayed, waiting for a
 * retry); leased messages stay so that their consumers can still ack them.
 * Dedup ids are kept: a retried enqueue after a purge is still a duplicate.
 */
export function purge(sql: SqlStorage, leases: Leases, now: number): number {
  const n = sql
    .exec("DELETE FROM messages WHERE seq NOT IN (SELECT value FROM json_each(?)) RETURNING 1", leases.seqsJson)
    .toArray().length;
  bump(sql, now, "purged", n); // keeps the depth history of the stats right
  return n;
}
