import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { bump } from "./counters";
import { recordLatencies } from "./latency";
import { checkLeases } from "./leases";

/** Deletes the messages whose lease is current; the others are refused, untouched. */
export function ack({ sql, now, leases }: OpContext, refs: LeaseRef[]): { outcomes: LeaseOutcome[]; acked: number } {
  const { current, outcomes } = checkLeases(sql, refs, now);
  if (current.size > 0) {
    const deleted = sql
      .exec<{ enqueuedAt: number; deliveredAt: number | null }>(
        `DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))
         RETURNING enqueued_at AS enqueuedAt, delivered_at AS deliveredAt`,
        JSON.stringify([...current.keys()]),
      )
      .toArray();
    bump(sql, now, "acked", current.size);
    recordLatencies(sql, now, deleted);
    leases.ended([...current].map(([seq, { token }]) => ({ seq, token })));
  }
  return { outcomes, acked: current.size };
}
