import type { PushConfig } from "../../client/protocol";
import type { LeasedMessage } from "../contract";
import type { Delivery } from "./deliver";
import { ready } from "./receive";
import type { OpContext } from "./types";

/**
 * A push batch's lease outlives its delivery's timeout by this much, so
 * that the delivery is settled before its lease can end. A lease ends on
 * its own only when the partition went away mid-delivery: the sweep then
 * retries the batch as a failed attempt.
 */
export const PUSH_LEASE_GRACE_MS = 10_000;

/** What one round of push leasing took, and when to look again if something held a delivery back. */
export interface PushLeases {
  batches: LeasedMessage[][];
  /** The rate's next token, or the end of a batch's wait to fill; null: a settle or an enqueue will say. */
  wakeAt: number | null;
}

/**
 * Leases up to `slots` push batches of `push.batchSize`, in the caller's
 * transaction, each through `lease` (the partition's one delivery core,
 * partition/deliver.ts), so groups, maxInFlight, the delivery rate and
 * fencing hold as they do for a receive. With `batchWaitMs`, a batch that
 * would not be full waits until its first message has been ready that long.
 */
export function leasePushBatches(ctx: OpContext, push: PushConfig, slots: number, lease: (max: number) => Delivery): PushLeases {
  const batches: LeasedMessage[][] = [];
  let wakeAt: number | null = null;
  for (let i = 0; i < slots; i++) {
    if (push.batchWaitMs > 0) {
      const rows = ready<{ visible_at: number }>(ctx, "SELECT m.visible_at", push.batchSize);
      if (rows.length === 0) break;
      const fillBy = Math.min(...rows.map((r) => r.visible_at)) + push.batchWaitMs;
      if (rows.length < push.batchSize && fillBy > ctx.now) {
        wakeAt = fillBy;
        break;
      }
    }
    const got = lease(push.batchSize);
    if (got.messages.length > 0) batches.push(got.messages);
    wakeAt = got.nextDeliveryAt;
    if (!got.more || got.messages.length < push.batchSize) break;
  }
  return { batches, wakeAt };
}
