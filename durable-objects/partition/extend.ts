import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { checkLeases } from "./leases";

/** Moves the end of current leases to `visibilityTimeoutMs` from now. */
export function extend(
  { sql, now, leases }: OpContext,
  refs: LeaseRef[],
  visibilityTimeoutMs: number,
): { outcomes: LeaseOutcome[]; leaseExpiresAt: number } {
  const { current, outcomes } = checkLeases(sql, refs, now);
  const leaseExpiresAt = now + visibilityTimeoutMs;
  if (current.size > 0) {
    sql.exec(
      "UPDATE messages SET visible_at = ? WHERE seq IN (SELECT value FROM json_each(?))",
      leaseExpiresAt,
      JSON.stringify([...current.keys()]),
    );
    for (const { token } of current.values()) leases.endsAt(token, leaseExpiresAt);
  }
  return { outcomes: outcomes.map((o) => (o.ok ? { ok: true, leaseExpiresAt } : o)), leaseExpiresAt };
}
