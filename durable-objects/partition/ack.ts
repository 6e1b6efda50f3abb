import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { bump } from "./counters";
import { checkLeases } from "./leases";

/** Deletes the messages whose lease is current; the others are refused, untouched. */
export function ack({ sql, now }: OpContext, refs: LeaseRef[]): { outcomes: LeaseOutcome[]; acked: number } {
  const { current, outcomes } = checkLeases(sql, refs, now);
  if (current.size > 0) {
    sql.exec("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify([...current.keys()]));
    bump(sql, now, "acked", current.size);
  }
  return { outcomes, acked: current.size };
}
