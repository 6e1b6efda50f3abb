/**
 * The partition's contract with the Worker: the shapes that cross the
 * Durable Object RPC boundary (batches, leases, outcomes, stats), the
 * waiter protocol of long-polls (a WebSocket per waiting receive, see
 * partition/waiters.ts), the upgrade of consume streams (partition/streams.ts),
 * and what the Worker shares with the storage side
 * (the log format, the registry's record, the figures stats are built
 * from), and a topic's publish shapes. The Worker imports the storage side
 * through this module only.
 *
 * Outcomes are results, not exceptions: custom error properties do not
 * survive RPC.
 */
import type { DeadLetterReason, MessageState } from "../client/protocol";
import type { CounterName } from "./partition/counters";
import type { LatencyKind } from "./partition/latency";

export { logEvent, logEventThrottled } from "./log";
export type { QueueRecord } from "./queue-registry";
export { RESERVED_BINDINGS, type PushSecrets } from "./push/settings";
export { MAX_CONCURRENT_BATCHES } from "./push/pump";
export { COUNTER_RETENTION_MINUTES, minuteOf, type CounterName, type MessageCounterName } from "./partition/counters";
export { quantileMs, type LatencyKind } from "./partition/latency";
export { LATENCY_WINDOW_MINUTES } from "./partition/stats";
export type { PublishOutcome, TopicItem } from "./topic/types";
export type { MoveTask, MoveTaskStatus } from "./partition/move-tasks";

// ---------------------------------------------------------------- messages

/** A message as the worker hands it over: its id already made, body and attributes already JSON text. */
export interface EnqueueItem {
  id: string;
  body: string;
  attributes: string | null;
  delayMs: number;
  groupId: string | null;
  dedupId: string | null;
}

/**
 * A batch as the worker sends it to a partition (`packBatch` in enqueue.ts
 * builds it): the items as one JSON text, built once, which the partition
 * inserts from with `json_each` without taking it apart, and what the
 * partition needs to know about them without parsing it.
 */
export interface EnqueueBatch {
  /** `JSON.stringify` of the `EnqueueItem[]`, in the order given. */
  items: string;
  /** How many items `items` holds. */
  count: number;
  /** The smallest `delayMs` above 0 in the batch; null when no item is delayed. */
  minDelayMs: number | null;
  /** Whether any item has a `dedupId` (the partition then reads the items one by one). */
  dedup: boolean;
  /**
   * Keep this batch's dedup ids at least this long, whatever the queue's
   * dedupWindowMs (which may be 0): for forwarders (a topic's fan-out, a
   * dead-letter queue) whose retries of an unknown outcome must meet the
   * first copy. Absent: the queue's window.
   */
  minDedupWindowMs?: number;
}

export interface EnqueuedItem {
  id: string;
  seq: number;
  duplicate?: boolean;
}

/** A lease as named by a receipt (the partition part stays with the worker). */
export interface LeaseRef {
  seq: number;
  token: string;
}

/** A leased message, body still JSON text. */
export interface LeasedMessage {
  id: string;
  seq: number;
  body: string;
  attributes: string | null;
  attempts: number;
  enqueuedAt: number;
  leaseToken: string;
  leaseExpiresAt: number;
  groupId: string | null;
  /** When the message was first delivered: this delivery, unless an earlier one failed. */
  firstDeliveredAt: number;
  dedupId: string | null;
}

export type LeaseOutcome =
  | { ok: true; leaseExpiresAt?: number }
  | { ok: false; code: "LEASE_LOST" | "NOT_FOUND" };

export interface StoredDeadLetter {
  id: string;
  body: string;
  attributes: string | null;
  attempts: number;
  reason: DeadLetterReason;
  lastError: string | null;
  enqueuedAt: number;
  deadLetteredAt: number;
  groupId: string | null;
}

/**
 * The batch for `QueuePartition.enqueue`, built once by the Worker: one
 * JSON text instead of an array of objects, so that the RPC copies one
 * string and the partition inserts from it as it is (no row objects, no
 * second JSON.stringify).
 */
export function packBatch(items: readonly EnqueueItem[], minDedupWindowMs?: number): EnqueueBatch {
  let minDelayMs: number | null = null;
  let dedup = false;
  for (const m of items) {
    if (m.delayMs > 0 && (minDelayMs === null || m.delayMs < minDelayMs)) minDelayMs = m.delayMs;
    if (m.dedupId !== null) dedup = true;
  }
  const batch: EnqueueBatch = { items: JSON.stringify(items), count: items.length, minDelayMs, dedup };
  if (minDedupWindowMs !== undefined) batch.minDedupWindowMs = minDedupWindowMs;
  return batch;
}

/** A stored message as peek shows it, body still JSON text. */
export interface PeekedRow {
  id: string;
  seq: number;
  state: MessageState;
  body: string;
  attributes: string | null;
  attempts: number;
  enqueuedAt: number;
  visibleAt: number;
  groupId: string | null;
  lastError: string | null;
}

// ---------------------------------------------------------------- long-poll waiters

/** The path of a waiter's WebSocket upgrade: `?waiter=<id>&want=<n>&visibilityTimeoutMs=<ms>`. */
export const WAITERS_PATH = "/waiters";

/** The upgrade's URL for one waiting receive (the host is ignored by a Durable Object stub). */
export const waiterUrl = (waiter: string, want: number, visibilityTimeoutMs: number): string =>
  `https://partition${WAITERS_PATH}?waiter=${waiter}&want=${want}&visibilityTimeoutMs=${visibilityTimeoutMs}`;

/** On a waiter's upgrade: the leases to ack first, JSON `[[seq, token], ...]`. */
export const ACK_HEADER = "x-edgeq-ack";
/** On the upgrade's answer: the acks' outcomes, JSON `LeaseOutcome[]` in the order given. */
export const ACKED_HEADER = "x-edgeq-acked";

/** The header's value for these leases. */
export const ackHeader = (refs: readonly LeaseRef[]): string => JSON.stringify(refs.map((r) => [r.seq, r.token]));

/** The outcomes on an upgrade's answer, or null when they are missing or not one per ack. */
export function ackedOf(response: Response, count: number): LeaseOutcome[] | null {
  try {
    const outcomes = JSON.parse(response.headers.get(ACKED_HEADER) ?? "null") as unknown;
    return Array.isArray(outcomes) && outcomes.length === count ? (outcomes as LeaseOutcome[]) : null;
  } catch {
    return null;
  }
}

/** What the Worker sends when it stops waiting; the partition answers by closing the socket. */
export const DONE_MESSAGE = "done";

/** The close code of a waiter's socket whose queue was deleted: the wait ends with QUEUE_NOT_FOUND. */
export const QUEUE_DELETED_CLOSE = 4404;

/** A push: the messages leased to the waiter (bodies still JSON text). */
export interface PushMessage {
  type: "leased";
  messages: LeasedMessage[];
}

// ---------------------------------------------------------------- consume streams

/** The path of a consume stream's WebSocket upgrade, forwarded by the Worker (see partition/streams.ts). */
export const STREAMS_PATH = "/streams";

/** What the Worker tells a partition about a consume stream it forwards, once it has authenticated it. */
export interface StreamRequest {
  /** The partition's index (the stream's receipts name it). */
  partition: number;
  /** Messages the stream may hold leased at once, 0..maxPrefetch. */
  prefetch: number;
  /** Lease length of pushed messages; null: the queue's. */
  visibilityTimeoutMs: number | null;
  /** When the consumer's token expires (ms); null: never (the admin token). */
  expiresAt: number | null;
}

/** The upgrade's URL for a consume stream (the host is ignored by a Durable Object stub). */
export function streamUrl(r: StreamRequest): string {
  const params = new URLSearchParams({ partition: String(r.partition), prefetch: String(r.prefetch) });
  if (r.visibilityTimeoutMs !== null) params.set("visibilityTimeoutMs", String(r.visibilityTimeoutMs));
  if (r.expiresAt !== null) params.set("expiresAt", String(r.expiresAt));
  return `https://partition${STREAMS_PATH}?${params}`;
}

// ---------------------------------------------------------------- outcomes and stats

/** One partition's figures, as merged by the worker into QueueStats. */
export interface PartitionStats {
  /** The partition's clock when it counted. */
  now: number;
  ready: number;
  delayed: number;
  inFlight: number;
  deadLetters: number;
  oldestReadyAgeMs: number;
  /** Counters of the last hour, one row per minute and name that counted anything. */
  counters: { minute: number; name: CounterName; count: number }[];
  totals: Record<CounterName, number>;
  /** Latency histograms of the last minutes, summed by kind and bucket. */
  latency: { kind: LatencyKind; bucket: number; count: number }[];
  /** Push delivery's state, when the queue pushes: until when a Retry-After holds it back (null: it does not). */
  push?: { pausedUntil: number | null };
}

/** What an enqueue answers; refusals store nothing of the batch. */
export type EnqueueOutcome =
  | { ok: true; results: EnqueuedItem[] }
  | { ok: false; code: "UNCONFIGURED" }
  | { ok: false; code: "QUEUE_FULL"; depth: number; maxDepth: number; retryAfterMs: number };

/** What a reserve answers; `reservation` is null when the partition has no maxDepth. */
export type ReserveOutcome =
  | { ok: true; reservation: string | null }
  | Exclude<EnqueueOutcome, { ok: true }>;

/** What a receive answers: the leases, and when the delivery rate allows the next one if it stopped this receive. */
export interface ReceiveOutcome {
  messages: LeasedMessage[];
  nextDeliveryAt: number | null;
  /** The queue delivers by push: receives are refused (nothing was leased). */
  pushes?: true;
}
