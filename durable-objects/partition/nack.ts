import type { LeaseOutcome, LeaseRef, OpContext } from "./types";
import { checkLeases } from "./leases";
import { retryOrDeadLetter } from "./retry";

/** Gives current leases back: retry after `delayMs` or backoff, or dead-letter. */
export function nack(
  ctx: OpContext,
  refs: LeaseRef[],
  delayMs: number | null,
  error: string | null,
): { outcomes: LeaseOutcome[]; retried: number; deadLettered: number; earliestDueAt: number | null } {
  const { current, outcomes } = checkLeases(ctx.sql, ctx.leases, refs, ctx.now);
  const moved = retryOrDeadLetter(ctx, current, error, delayMs);
  return { outcomes, ...moved };
}
