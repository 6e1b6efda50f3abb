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

/** The partition of a message: by its group (or key) when it has one, else round-robin. */
export function partitionFor(config: QueueConfig, groupId: string | undefined): number {
  if (config.partitions === 1) return 0;
  if (groupId !== undefined) return hashKey(groupId) % config.partitions;
  spread = (spread + 1) % 1_000_000;
  return spread % config.partitions;
}

/** All partitions, starting at a random one so that no partition is always asked last. */
export function fairOrder(config: QueueConfig): number[] {
  const start = Math.floor(Math.random() * config.partitions);
  return Array.from({ length: config.partitions }, (_, i) => (start + i) % config.partitions);
}
