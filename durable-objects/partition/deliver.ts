import type { LeasedMessage } from "../contract";
import { nextTokenAt, refill, type TokenBucket } from "./limits";
import { writeMeta } from "./meta";
import { receive } from "./receive";
import { sweepExpiredLeases } from "./sweep";
import type { OpContext } from "./types";

/** The partition's share of the delivery limits, and its delivery-rate bucket (null: full). */
export interface DeliveryLimits {
  maxInFlight: number | null;
  deliveryRatePerSec: number | null;
  bucket: TokenBucket | null;
}

/**
 * How many of `max` a lease may take now: `byRate` as the delivery-rate
 * bucket (refilled to now, not yet spent) allows, `allowed` also within the
 * share of maxInFlight; `bucket` is the refilled bucket (null: no rate).
 */
export function allowance(
  limits: DeliveryLimits,
  inFlight: number,
  now: number,
  max: number,
): { bucket: TokenBucket | null; byRate: number; allowed: number } {
  const rate = limits.deliveryRatePerSec;
  const bucket = rate === null ? null : refill(limits.bucket, rate, now);
  const byRate = bucket === null ? max : Math.min(max, Math.floor(bucket.tokens));
  const room = limits.maxInFlight === null ? byRate : Math.max(0, limits.maxInFlight - inFlight);
  return { bucket, byRate, allowed: Math.min(byRate, room) };
}

/** What one delivery leased, and what the caller needs to know to deliver again. */
export interface Delivery {
  messages: LeasedMessage[];
  /** When the rate allows the next lease, if the rate (not the lack of messages or of room) stopped this one. */
  nextDeliveryAt: number | null;
  /** As many as allowed were leased: there may be more ready. Fewer: nothing else is ready now. */
  more: boolean;
  /** The bucket after this delivery, to keep in memory (null: no rate). */
  bucket: TokenBucket | null;
}

/**
 * The one delivery core: a receive, a push to a waiting long-poll and a
 * push to a consume stream lease through here, in the caller's
 * transaction, so that groups, maxInFlight, the delivery rate and fencing
 * hold the same way for each. Leases that
 * ended are swept first, so that they no longer count against maxInFlight.
 *
 * The token bucket is saved in the lease's own transaction whenever tokens
 * are taken: no extra write, and an evicted or restarted partition does not
 * hand out a fresh burst. The caller refills it inside the group commit, so
 * that the leases of one group share its tokens. The caller checks pause.
 * `owner`: the consume stream the lease is for (null, the default: a receive).
 */
export function deliver(
  ctx: OpContext,
  limits: DeliveryLimits,
  max: number,
  visibilityTimeoutMs: number,
  owner: string | null = null,
): Delivery {
  sweepExpiredLeases(ctx);
  const { bucket, byRate, allowed } = allowance(limits, ctx.leases.inFlight, ctx.now, max);
  const messages = receive(ctx, allowed, visibilityTimeoutMs, owner);
  if (bucket !== null && messages.length > 0) {
    bucket.tokens -= messages.length;
    writeMeta(ctx.sql, "bucket", bucket);
  }
  const rateBound = bucket !== null && byRate < max && messages.length === allowed && allowed === byRate;
  return {
    messages,
    nextDeliveryAt: rateBound ? nextTokenAt(bucket, limits.deliveryRatePerSec!) : null,
    more: messages.length > 0 && messages.length === allowed,
    bucket,
  };
}
