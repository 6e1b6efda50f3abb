import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { checkLeases } from "./leases";

/** Moves the end of current leases to `visibilityTimeoutMs` from now. */
export function extend(
  { sql, now, leases }: OpContext,
  refs: LeaseRef[],
  visibilityTimeoutMs: number,
): { outcomes: LeaseOutcome[]; leaseExpiresAt: number } {
  const { current, outcomes } = checkLeases(sql, leases, refs, now);
  const leaseExpiresAt = now + visibilityTimeoutMs;
  leases.extend([...current].map(([seq, { token }]) => ({ seq, token })), leaseExpiresAt);
  return { outcomes: outcomes.map((o) => (o.ok ? { ok: true, leaseExpiresAt } : o)), leaseExpiresAt };
}
