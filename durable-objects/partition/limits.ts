import type { QueueConfig } from "../../client/protocol";
import { shareOf } from "../queue-config";

/** Where a partition stands among its queue's partitions. */
export interface PartitionPlace {
  index: number;
  partitions: number;
}

/** This partition's share of the queue's count limits (null: no limit). */
export function limitShares(config: QueueConfig, place: PartitionPlace) {
  const n = Math.max(place.partitions, 1);
  return {
    maxDepth: config.maxDepth === null ? null : shareOf(config.maxDepth, n, place.index),
    maxInFlight: config.maxInFlight === null ? null : shareOf(config.maxInFlight, n, place.index),
    deliveryRatePerSec: config.deliveryRatePerSec === null ? null : config.deliveryRatePerSec / n,
  };
}

/**
 * A token bucket: `tokens` as of `at` (ms). It holds at most one second's
 * worth of deliveries (and at least one), so a consumer that was idle gets
 * a burst of one second's rate, never more.
 */
export interface TokenBucket {
  tokens: number;
  at: number;
}

const capacity = (ratePerSec: number) => Math.max(1, ratePerSec);

/** The bucket at `now`; a missing bucket starts full. */
export function refill(bucket: TokenBucket | null, ratePerSec: number, now: number): TokenBucket {
  if (bucket === null) return { tokens: capacity(ratePerSec), at: now };
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(capacity(ratePerSec), bucket.tokens + (elapsed * ratePerSec) / 1000), at: now };
}

/** When the bucket next holds a whole token. */
export function nextTokenAt(bucket: TokenBucket, ratePerSec: number): number {
  if (bucket.tokens >= 1) return bucket.at;
  return bucket.at + Math.ceil(((1 - bucket.tokens) * 1000) / ratePerSec);
}

/** A guess at when a full partition has room: the time its delivery rate takes to drain `count`, else a second (at most a minute). */
export function retryAfterFullMs(shares: { deliveryRatePerSec: number | null }, count: number): number {
  const rate = shares.deliveryRatePerSec;
  const ms = rate === null ? 1000 : (count / rate) * 1000;
  return Math.min(Math.max(Math.ceil(ms), 1000), 60_000);
}
