/**
 * A push batch as the partition leased it, and what both kinds of target
 * share: the messages as the wire has them, and reading an answer's
 * per-message outcomes.
 */
import { LIMITS, type PushConfig, type PushedMessage } from "../../client/protocol";
import type { LeasedMessage } from "../contract";
import type { PushSecrets } from "./settings";

/** One batch on its way: the leased messages, and the target as it was when they were leased. */
export interface PushBatch {
  queue: string;
  messages: LeasedMessage[];
  push: PushConfig;
  secrets: PushSecrets | null;
}

/** A leased message as wire JSON (a `PushedMessage`); body and attributes are spliced in as stored, never parsed. */
export function pushedJson(m: LeasedMessage): string {
  const head = JSON.stringify({ id: m.id, seq: m.seq }).slice(0, -1);
  const tail = JSON.stringify({ attempts: m.attempts, enqueuedAt: m.enqueuedAt, ...(m.groupId === null ? {} : { groupId: m.groupId }) }).slice(1);
  return `${head},"body":${m.body},"attributes":${m.attributes ?? "{}"},${tail}`;
}

/** A leased message as a Worker is handed it. */
export function pushedMessage(m: LeasedMessage): PushedMessage {
  return {
    id: m.id,
    seq: m.seq,
    body: JSON.parse(m.body),
    attributes: m.attributes === null ? {} : JSON.parse(m.attributes),
    attempts: m.attempts,
    enqueuedAt: m.enqueuedAt,
    ...(m.groupId === null ? {} : { groupId: m.groupId }),
  };
}

/** A message's retry: its delay (null: the backoff) and its last error (null: the delivery's). */
export interface Retry {
  delayMs: number | null;
  error: string | null;
}

/** The longest error kept for a message, as for a nack's `error`. */
export const MAX_ERROR_CHARS = 4096;

/** Every message of `messages` retried with the backoff and the delivery's error: a failed delivery. */
export const retryAll = (messages: readonly LeasedMessage[]): Map<number, Retry> =>
  new Map(messages.map((m) => [m.seq, { delayMs: null, error: null }]));

/**
 * The messages an answer asks to retry, by seq, with their delay (null:
 * the backoff) and their own error (null: the delivery's), from
 * `{results: [{id, outcome, delayMs?, error?}]}`. Entries that name no
 * message of the batch are ignored, and so is an answer of another shape:
 * the delivery succeeded, so what it does not retry is acked.
 */
export function retriesOf(answer: unknown, messages: readonly LeasedMessage[]): Map<number, Retry> {
  const retry = new Map<number, Retry>();
  const results = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return retry;
  const seqOf = new Map(messages.map((m) => [m.id, m.seq]));
  for (const r of results as { id?: unknown; outcome?: unknown; delayMs?: unknown; error?: unknown }[]) {
    if (typeof r !== "object" || r === null || r.outcome !== "retry" || typeof r.id !== "string") continue;
    const seq = seqOf.get(r.id);
    if (seq === undefined) continue;
    const d = r.delayMs;
    retry.set(seq, {
      delayMs: typeof d === "number" && Number.isInteger(d) && d >= 0 && d <= LIMITS.maxDelayMs ? d : null,
      error: typeof r.error === "string" && r.error !== "" ? r.error.slice(0, MAX_ERROR_CHARS) : null,
    });
  }
  return retry;
}
