import { backoffMs } from "./backoff";
import { deadLetter } from "./dead-letter";
import type { OpContext } from "./types";

/**
 * Ends the leases of `failed` messages (seq -> its lease): the delivery
 * counts as a failed attempt. Each message that has used its `maxAttempts`
 * becomes a dead letter (`max_attempts`), the others wait `delayMs` (or the
 * queue's backoff) and become ready again. All in the caller's transaction;
 * `cause` says what ended the delivery, for the log of dead letters.
 *
 * The wait runs from `failedAt` when given (a lease that ended on its own
 * failed when it ended, not when a sweep noticed it), else from now.
 */
export function retryOrDeadLetter(
  ctx: OpContext,
  failed: Map<number, { token: string; deliveredAt: number | null; failedAt?: number }>,
  how: { lastError: string | null; delayMs: number | null; cause: string },
): void {
  const { sql, config, now, leases, effects } = ctx;
  const { lastError, delayMs } = how;
  if (failed.size === 0) return;
  const dead: { seq: number; deliveredAt: number | null }[] = [];
  const retry: [seq: number, visibleAt: number, deliveredAt: number | null][] = [];
  let earliestDueAt: number | null = null;
  for (const { seq, attempts: before } of sql.exec<{ seq: number; attempts: number }>(
    "SELECT seq, attempts FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
    JSON.stringify([...failed.keys()]),
  )) {
    const { deliveredAt, failedAt } = failed.get(seq)!;
    const attempts = before + 1; // this delivery
    if (attempts >= config.maxAttempts) {
      dead.push({ seq, deliveredAt });
      continue;
    }
    const visibleAt = (failedAt ?? now) + (delayMs ?? backoffMs(attempts, config));
    retry.push([seq, visibleAt, deliveredAt]);
    earliestDueAt = Math.min(earliestDueAt ?? Infinity, visibleAt);
  }
  if (retry.length > 0) {
    sql.exec(
      `UPDATE messages SET attempts = attempts + 1, visible_at = j.value ->> 1,
              first_delivered_at = COALESCE(first_delivered_at, j.value ->> 2),
              last_error = COALESCE(?, last_error)
       FROM json_each(?) AS j WHERE messages.seq = j.value ->> 0`,
      lastError,
      JSON.stringify(retry),
    );
    ctx.counts.add(now, "retried", retry.length);
    effects.mayDeliver();
    effects.dueAt(earliestDueAt);
  }
  deadLetter(ctx, dead, "max_attempts", lastError, how.cause);
  leases.end([...failed].map(([seq, { token }]) => ({ seq, token })), true);
}
