import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { checkLeases } from "./leases";

/**
 * Gives current leases back as if they had never been taken: ready now, in
 * their place in `seq` order, the attempt not counted (a message row counts
 * only failed deliveries, and a lease ended this way is not one). For a
 * receive whose consumer went away before the answer reached it (a
 * long-poll client that disconnected), so the message does not sit out a
 * lease nobody holds. Fenced by the lease token like ack and nack. The
 * delivery stays counted in the counters: they only ever go up.
 */
export function release({ sql, now, leases }: OpContext, refs: LeaseRef[]): { outcomes: LeaseOutcome[]; released: number } {
  const { current, outcomes } = checkLeases(sql, leases, refs, now);
  leases.end([...current].map(([seq, { token }]) => ({ seq, token })), true);
  return { outcomes, released: current.size };
}
