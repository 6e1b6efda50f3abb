import type { LeaseOutcome, LeaseRef } from "../contract";
import { recordLatencies } from "./latency";
import { checkLeases } from "./leases";
import type { OpContext } from "./types";

/** Deletes the messages whose lease is current; the others are refused, untouched. */
export function ack({ sql, now, leases, counts, effects }: OpContext, refs: LeaseRef[]): LeaseOutcome[] {
  const { current, outcomes } = checkLeases(sql, leases, refs, now);
  if (current.size > 0) {
    const deleted = sql
      .exec<{ seq: number; enqueuedAt: number }>(
        `DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))
         RETURNING seq, enqueued_at AS enqueuedAt`,
        JSON.stringify([...current.keys()]),
      )
      .toArray();
    counts.add(now, "acked", current.size);
    recordLatencies(sql, now, deleted.map((m) => ({ enqueuedAt: m.enqueuedAt, deliveredAt: current.get(m.seq)!.deliveredAt })));
    leases.end([...current].map(([seq, { token }]) => ({ seq, token })), false);
    effects.removed(current.size);
    effects.mayDeliver(); // the next of a group, or in-flight room
  }
  return outcomes;
}
