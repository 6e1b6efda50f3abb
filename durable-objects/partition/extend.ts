import type { LeaseOutcome, LeaseRef } from "../contract";
import { checkLeases } from "./leases";
import type { OpContext } from "./types";

/** Moves the end of current leases to `visibilityTimeoutMs` from now. */
export function extend(ctx: OpContext, refs: LeaseRef[], visibilityTimeoutMs: number): LeaseOutcome[] {
  const { sql, now, leases } = ctx;
  const { current, outcomes } = checkLeases(sql, leases, refs, now);
  const leaseExpiresAt = now + visibilityTimeoutMs;
  leases.extend([...current].map(([seq, { token }]) => ({ seq, token })), leaseExpiresAt);
  // A shortened lease must still end on time (stats, retention and long-polls wait on it).
  if (current.size > 0) ctx.effects.dueAt(leaseExpiresAt);
  return outcomes.map((o) => (o.ok ? { ok: true, leaseExpiresAt } : o));
}
