import type { LeaseOutcome, LeaseRef } from "../contract";
import { checkLeases } from "./leases";
import type { OpContext } from "./types";

/**
 * Gives current leases back as if they had never been taken: ready now, in
 * their place in `seq` order, the attempt not counted (a message row counts
 * only failed deliveries, and a lease ended this way is not one). For a
 * receive whose consumer went away before the answer reached it (a
 * long-poll client that disconnected), so the message does not sit out a
 * lease nobody holds. Fenced by the lease token like ack and nack. The
 * delivery stays counted in the counters: they only ever go up.
 */
export function release({ sql, now, leases, effects }: OpContext, refs: LeaseRef[]): LeaseOutcome[] {
  const { current, outcomes } = checkLeases(sql, leases, refs, now);
  leases.end([...current].map(([seq, { token }]) => ({ seq, token })), true);
  if (current.size > 0) effects.mayDeliver();
  return outcomes;
}
