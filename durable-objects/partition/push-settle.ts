import type { PushFailureClass } from "../../client/protocol";
import type { LeasedMessage } from "../contract";
import { ack } from "./ack";
import { backoffMs } from "./backoff";
import { recordLatency } from "./latency";
import { checkLeases } from "./leases";
import { writeMeta } from "./meta";
import { retryOrDeadLetter } from "./retry";
import type { OpContext } from "./types";
import type { Retry } from "../push/batch";

/** How a push delivery ended, as the sender saw it (push/http.ts, push/worker.ts). */
export interface PushOutcome {
  /** How long the endpoint or Worker took to answer (or until the timeout). */
  latencyMs: number;
  /** Messages to retry, by seq, each with its delay (null: the batch's backoff) and error (null: `error`). The others are acked. */
  retry: Map<number, Retry>;
  /** The retried messages' last error (`HTTP 503`, `timeout`, the handler's error...). */
  error: string | null;
  /** Why the delivery failed; null when it was answered (a message may still be retried at the answer's request). */
  failure: PushFailureClass | null;
  /** A 429 or 503 with Retry-After: every push waits until then. Null otherwise. */
  pausedUntil: number | null;
}

/** The meta key of the time until which a Retry-After holds pushes back. */
export const PUSH_PAUSED_UNTIL = "pushPausedUntil";

/**
 * Settles one push batch, in the caller's transaction: the messages the
 * outcome does not retry are acked; the others are retried after their
 * delay, or after one backoff for the whole batch (its messages then come
 * due together and go out together again, under the same webhook-id), or
 * become dead letters after their last attempt. Leases that ended
 * meanwhile are fenced off as for any consumer. Counts the delivery, its
 * failure class and its latency; a Retry-After pauses push (persisted).
 */
export function settlePush(ctx: OpContext, batch: LeasedMessage[], outcome: PushOutcome): void {
  const { sql, now, counts, config } = ctx;
  counts.add(now, "push_deliveries", 1);
  if (outcome.failure !== null) counts.add(now, `push_failed_${outcome.failure}`, 1);
  recordLatency(sql, now, "push", outcome.latencyMs);
  const refs = batch.map((m) => ({ seq: m.seq, token: m.leaseToken }));
  const acked = refs.filter((r) => !outcome.retry.has(r.seq));
  if (acked.length > 0) ack(ctx, acked);
  const retried = refs.filter((r) => outcome.retry.has(r.seq));
  if (retried.length > 0) {
    const { current } = checkLeases(sql, ctx.leases, retried, now);
    const attempts = Math.max(...batch.filter((m) => outcome.retry.has(m.seq)).map((m) => m.attempts));
    const batchDelayMs = backoffMs(attempts, config);
    // One retry per delay and error: most batches have one of each.
    const groups = new Map<string, { delayMs: number; lastError: string | null; failed: Map<number, { token: string; deliveredAt: number | null }> }>();
    for (const [seq, lease] of current) {
      const asked = outcome.retry.get(seq)!;
      const delayMs = asked.delayMs ?? batchDelayMs;
      const lastError = asked.error ?? outcome.error;
      const key = JSON.stringify([delayMs, lastError]);
      if (!groups.has(key)) groups.set(key, { delayMs, lastError, failed: new Map() });
      groups.get(key)!.failed.set(seq, lease);
    }
    for (const { delayMs, lastError, failed } of groups.values()) {
      retryOrDeadLetter(ctx, failed, { lastError, delayMs, cause: "push" });
    }
  }
  if (outcome.pausedUntil !== null) {
    writeMeta(sql, PUSH_PAUSED_UNTIL, outcome.pausedUntil);
    ctx.effects.dueAt(outcome.pausedUntil);
  }
}
