import type { QueueConfig } from "../client/protocol";

/** FNV-1a: stable across isolates and deploys, so a group always maps to one partition. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

let spread = Math.floor(Math.random() * 1024);

/** The next partition in this isolate's round-robin (started at random, so isolates do not move in step). */
export function nextSpread(config: QueueConfig): number {
  spread = (spread + 1) % 1_000_000;
  return spread % config.partitions;
}

/** What a message is routed by: its group, else its key, else its dedup id (so a duplicate meets the first one). */
export const routingKey = (m: { groupId?: string; key?: string; dedupId?: string }): string | undefined =>
  m.groupId ?? m.key ?? m.dedupId;

/**
 * The partition of a message: by a stable hash of its routing key when it
 * has one, else `spread` (the batch's round-robin pick: a batch of messages
 * without keys goes to one partition, in one transaction, refused or stored
 * whole).
 */
export function partitionFor(config: QueueConfig, key: string | undefined, spread = 0): number {
  if (config.partitions === 1) return 0;
  if (key !== undefined) return hashKey(key) % config.partitions;
  return spread % config.partitions;
}

let rotation = Math.floor(Math.random() * 1024);

/**
 * All partitions, each receive starting one further than the last (from a
 * random point per isolate): every partition is asked first in turn, so a
 * busy partition cannot starve the others, whatever `max` is.
 */
export function fairOrder(config: QueueConfig): number[] {
  rotation = (rotation + 1) % 1_000_000;
  const start = rotation % config.partitions;
  return Array.from({ length: config.partitions }, (_, i) => (start + i) % config.partitions);
}

/**
 * Reads one page across the partitions of a queue, partition after
 * partition, each in its own order. The cursor is `<partition>.<last seq
 * read there>` (`<partition>.0` to start a partition); null at the end.
 */
export async function pageAcrossPartitions<T>(
  partitions: number,
  cursor: string | undefined,
  limit: number,
  readPage: (partition: number, afterSeq: number, limit: number) => Promise<{ items: T[]; next: number | null }>,
): Promise<{ items: T[]; cursor: string | null }> {
  let [partition, after] = cursor ? cursor.split(".").map(Number) : [0, 0];
  const items: T[] = [];
  let next: string | null = null;
  while (partition < partitions && items.length < limit) {
    const page = await readPage(partition, after, limit - items.length);
    items.push(...page.items);
    if (page.next !== null) {
      next = `${partition}.${page.next}`;
      break;
    }
    partition += 1;
    after = 0;
    if (items.length >= limit && partition < partitions) next = `${partition}.0`;
  }
  return { items, cursor: next };
}
