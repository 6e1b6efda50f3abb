import type { DeadLetterReason, QueueConfig } from "../../client/protocol";
import type { CounterName, Counts } from "./counters";
import type { LatencyKind } from "./latency";
import type { Leases } from "./leases";

/** What every storage operation gets: the partition's SQL, its settings and the time. */
export interface OpContext {
  sql: SqlStorage;
  config: QueueConfig;
  /** The operation's time, ms since the epoch. */
  now: number;
  /** The partition's leases (table and memory, see leases.ts); operations take and end leases through it. */
  leases: Leases;
  /** Where the operation counts what it did (counters.ts: a group commit writes its counts once). */
  counts: Counts;
}

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

/** Row shape of `messages` as read by the operations (each selects the columns it needs). */
export type MessageRow = {
  seq: number;
  id: string;
  body: string;
  attributes: string | null;
  group_id: string | null;
  attempts: number;
  visible_at: number;
  enqueued_at: number;
  last_error: string | null;
};


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
}
