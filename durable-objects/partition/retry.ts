import type { OpContext } from "./types";
import { backoffMs } from "./backoff";
import { bump } from "./counters";
import { deadLetter } from "./dead-letter";

/**
 * Ends the leases of `failed` messages (seq -> deliveries so far): each one
 * that has used its `maxAttempts` becomes a dead letter (`max_attempts`),
 * the others wait `delayMs` (or the queue's backoff) and become ready again.
 * Both moves are in the caller's transaction; the lease clock is told.
 *
 * The wait runs from `failedAt` when given (a lease that ended on its own
 * failed when it ended, not when a sweep noticed it), else from now.
 */
export function retryOrDeadLetter(
  { sql, config, now, leases }: OpContext,
  failed: Map<number, { attempts: number; token: string; failedAt?: number }>,
  lastError: string | null,
  delayMs: number | null,
): { retried: number; deadLettered: number; earliestDueAt: number | null } {
  const dead: number[] = [];
  const retry: [seq: number, visibleAt: number][] = [];
  let earliestDueAt: number | null = null;
  for (const [seq, { attempts, failedAt }] of failed) {
    if (attempts >= config.maxAttempts) {
      dead.push(seq);
      continue;
    }
    const visibleAt = (failedAt ?? now) + (delayMs ?? backoffMs(attempts, config));
    retry.push([seq, visibleAt]);
    earliestDueAt = Math.min(earliestDueAt ?? Infinity, visibleAt);
  }
  if (retry.length > 0) {
    sql.exec(
      `UPDATE messages SET lease_token = NULL, visible_at = j.value ->> 1,
              last_error = COALESCE(?, last_error)
       FROM json_each(?) AS j WHERE messages.seq = j.value ->> 0`,
      lastError,
      JSON.stringify(retry),
    );
    bump(sql, now, "retried", retry.length);
  }
  deadLetter(sql, dead, "max_attempts", lastError, now);
  leases.ended([...failed].map(([seq, { token }]) => ({ seq, token })));
  return { retried: retry.length, deadLettered: dead.length, earliestDueAt };
}
