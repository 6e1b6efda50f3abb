import type { OpContext } from "./types";

/**
 * Deletes every message that is not leased (ready, delayed, waiting for a
 * retry); leased messages stay so that their consumers can still ack them.
 * Dedup ids are kept: a retried enqueue after a purge is still a duplicate.
 */
export function purge({ sql, leases, now, counts, effects }: OpContext): number {
  const n = sql
    .exec("DELETE FROM messages WHERE seq NOT IN (SELECT value FROM json_each(?)) RETURNING 1", leases.seqsJson)
    .toArray().length;
  counts.add(now, "purged", n); // keeps the depth history of the stats right
  effects.removed(n);
  return n;
}
