/**
 * Fan-out: a subscription's next batch from the outbox, and what its
 * delivery did. Each subscription goes through the outbox in publish order
 * on its own: a batch goes to its queue whole (EdgeqService.forward stores
 * it in one transaction per partition), and a refused batch holds back the
 * messages after it in that subscription only, so per-group order holds in
 * each queue and one full queue does not slow the others.
 *
 * Delivery is at least once; each copy carries a dedup id made from the
 * topic and the message's id, kept by the queue for a window, so that a
 * retry after an unknown outcome (the call threw, the runtime died before
 * the cursor moved) finds the first copy and stores nothing twice.
 */
import type { ErrorCode, SendMessage } from "../../client/protocol";
import { backoffMs } from "../partition/backoff";
import type { Sub } from "./types";

/** Messages in one delivery to a queue (a queue's enqueue batch). */
export const FANOUT_BATCH = 100;
/** Body and attribute text in one delivery, at least one message: RPCs stay far below their size limit. */
export const FANOUT_BATCH_BYTES = 2 * 1024 * 1024;
/**
 * How long a queue keeps a copy's dedup id, at least. A retry comes within
 * the backoff's cap of the attempt before it while the topic runs, so this
 * covers a restart of the runtime several times over; while a subscription
 * keeps failing the window grows by the time it has been failing (up to
 * 7 days, forward's limit), so the first attempt of a long outage is still
 * remembered by the last.
 */
export const FANOUT_DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_DEDUP_WINDOW_MS = 7 * 24 * 60 * 60_000;
/** Retry delays after failed deliveries: 0.5 s doubling to 1 min, with jitter. */
export const FANOUT_RETRY = { backoffBaseMs: 500, backoffMaxMs: 60_000 } as const;
/**
 * Refusals of one message that the same batch would meet again: the next
 * attempts send one message at a time, so the messages before it go (and it
 * holds back those after it until the queue's settings let it in).
 */
const REFUSED_AS_IS: ReadonlySet<string> = new Set<ErrorCode>(["INVALID_REQUEST", "INVALID_VALUE", "PAYLOAD_TOO_LARGE"]);

/** The dedup id of a topic message's copy in a subscribed queue. */
export const fanOutDedupId = (topic: string, messageId: string): string => `topic:${topic}:${messageId}`;

/** The dedup window to ask the queue for on a delivery at `now`. */
export function fanOutWindowMs(sub: Sub, now: number): number {
  const failing = sub.failingSince === null ? 0 : Math.max(0, now - sub.failingSince);
  return Math.min(MAX_DEDUP_WINDOW_MS, FANOUT_DEDUP_WINDOW_MS + failing);
}

/** One delivery: the messages for the queue, and the cursor once they are stored. */
export interface Batch {
  messages: SendMessage[];
  /** The seq the subscription has passed once the batch is in its queue. */
  through: number;
}

type OutboxRow = {
  seq: number;
  id: string;
  body: string;
  attributes: string | null;
  group_id: string | null;
  partition_key: string | null;
  delay_ms: number;
  published_at: number;
};

/**
 * The subscription's next batch: the first messages after its cursor that it
 * takes, in publish order. A batch with no messages moves the cursor past
 * messages it does not take. Null when it has passed everything.
 */
export function nextBatch(sql: SqlStorage, topic: string, sub: Sub, now: number): Batch | null {
  const last = sql.exec<{ last: number | null }>("SELECT MAX(seq) AS last FROM messages").one().last;
  if (last === null || last <= sub.cursor) return null;
  const limit = sub.batchLimit;
  const rows = sql
    .exec<OutboxRow>(
      `SELECT seq, id, body, attributes, group_id, partition_key, delay_ms, published_at FROM messages
       WHERE seq > ?1 AND EXISTS (SELECT 1 FROM json_each(takers) WHERE value = ?2)
       ORDER BY seq LIMIT ?3`,
      sub.cursor,
      sub.queue,
      limit,
    )
    .toArray();
  const messages: SendMessage[] = [];
  let bytes = 0;
  let through = last;
  for (const row of rows) {
    const size = row.body.length + (row.attributes?.length ?? 0);
    if (messages.length > 0 && bytes + size > FANOUT_BATCH_BYTES) {
      through = row.seq - 1;
      break;
    }
    bytes += size;
    messages.push(copyOf(topic, row, now));
    // A full batch stops at its last message; a short one has seen everything up to `last`.
    if (messages.length === rows.length && rows.length === limit) through = row.seq;
  }
  return { messages, through };
}

/** A message's copy for a queue: what was published, its delay counted from the publish, and its dedup id. */
function copyOf(topic: string, row: OutboxRow, now: number): SendMessage {
  const copy: SendMessage = { body: JSON.parse(row.body), dedupId: fanOutDedupId(topic, row.id) };
  if (row.attributes !== null) copy.attributes = JSON.parse(row.attributes);
  if (row.group_id !== null) copy.groupId = row.group_id;
  if (row.partition_key !== null) copy.key = row.partition_key;
  const delayMs = row.published_at + row.delay_ms - now;
  if (delayMs > 0) copy.delayMs = delayMs;
  return copy;
}

/** A delivery stored its batch: the cursor moves past it, failures are forgotten. In the caller's transaction. */
export function delivered(sql: SqlStorage, sub: Sub, batch: Batch): Sub {
  const batchLimit = batch.messages.length === 0 ? sub.batchLimit : Math.min(FANOUT_BATCH, sub.batchLimit * 2);
  sql.exec(
    `UPDATE subscriptions SET cursor = ?, delivered = delivered + ?, failures = 0, failing_since = NULL,
                              retry_at = NULL, last_error = NULL, batch_limit = ?
     WHERE queue = ?`,
    batch.through,
    batch.messages.length,
    batchLimit,
    sub.queue,
  );
  return { ...sub, cursor: batch.through, failures: 0, failingSince: null, retryAt: null, batchLimit };
}

/**
 * A delivery failed, in the caller's transaction. A queue refuses a batch
 * whole when it has less room than the batch (QUEUE_FULL), so a refused
 * batch of several is tried again at once at half its size: a queue with
 * room for some takes them, in order, without waiting. A refusal of one
 * message's content (REFUSED_AS_IS) makes the next attempts send one message
 * at a time. Any other failure, and a full queue that refuses even one,
 * waits for the backoff. Each delivery that works doubles the batch again.
 * `random` (default Math.random) jitters the backoff.
 */
export function failed(
  sql: SqlStorage,
  sub: Sub,
  error: { code: string; message: string },
  batchSize: number,
  now: number,
  random: () => number = Math.random,
): Sub {
  const lastError = `${error.code}: ${error.message}`.slice(0, 500);
  if (error.code === "QUEUE_FULL" && batchSize > 1) {
    const batchLimit = Math.floor(batchSize / 2);
    sql.exec("UPDATE subscriptions SET last_error = ?, batch_limit = ? WHERE queue = ?", lastError, batchLimit, sub.queue);
    return { ...sub, batchLimit };
  }
  const failures = sub.failures + 1;
  const retryAt = now + backoffMs(failures, FANOUT_RETRY, random);
  const batchLimit = REFUSED_AS_IS.has(error.code) ? 1 : sub.batchLimit;
  const failingSince = sub.failingSince ?? now;
  sql.exec(
    `UPDATE subscriptions SET failures = ?, failing_since = ?, retry_at = ?, last_error = ?, batch_limit = ?
     WHERE queue = ?`,
    failures,
    failingSince,
    retryAt,
    lastError,
    batchLimit,
    sub.queue,
  );
  return { ...sub, failures, failingSince, retryAt, batchLimit };
}

/** Deletes the messages every subscription has passed (all of them when there is none). In the caller's transaction. */
export function prune(sql: SqlStorage, subs: Iterable<Sub>): void {
  let passed = Infinity;
  for (const sub of subs) passed = Math.min(passed, sub.cursor);
  if (passed === Infinity) sql.exec("DELETE FROM messages");
  else sql.exec("DELETE FROM messages WHERE seq <= ?", passed);
}
