import type { LeaseOutcome, LeaseRef } from "../contract";
import { checkLeases } from "./leases";
import { retryOrDeadLetter } from "./retry";
import type { OpContext } from "./types";

/** Gives current leases back: retry after `delayMs` or backoff, or dead-letter. */
export function nack(ctx: OpContext, refs: LeaseRef[], delayMs: number | null, error: string | null): LeaseOutcome[] {
  const { current, outcomes } = checkLeases(ctx.sql, ctx.leases, refs, ctx.now);
  retryOrDeadLetter(ctx, current, { lastError: error, delayMs, cause: "nack" });
  return outcomes;
}
