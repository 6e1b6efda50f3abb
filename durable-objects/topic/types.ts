/**
 * What a topic's operations share, and the shapes that cross its RPC
 * boundary (re-exported to the Worker by ../contract.ts).
 */
import type { PublishedMessage, SubscriptionFilter } from "../../client/protocol";

/** A message as the Worker hands it to its topic: its id already made, body and attributes already JSON text. */
export interface TopicItem {
  id: string;
  body: string;
  attributes: string | null;
  delayMs: number;
  groupId: string | null;
  key: string | null;
  dedupId: string | null;
}

/** What a publish answers. */
export type PublishOutcome = { ok: true; results: PublishedMessage[] } | { ok: false; code: "TOPIC_NOT_FOUND" };

/** A subscription as the topic keeps it in memory (its counters stay in storage). */
export interface Sub {
  queue: string;
  filter: SubscriptionFilter | null;
  /** Every message up to this seq has been passed: those it takes are in its queue. */
  cursor: number;
  /** Deliveries failed in a row, and when the first of them was; 0 and null when the last one worked. */
  failures: number;
  failingSince: number | null;
  /** When the next delivery may be tried; null when it may be now. */
  retryAt: number | null;
  /** Messages in its next delivery: FANOUT_BATCH, less after refusals (see fan-out.ts). */
  batchLimit: number;
}

/** Row shape of `subscriptions`. */
export type SubRow = {
  queue: string;
  filter: string | null;
  position: number;
  cursor: number;
  added_at: number;
  delivered: number;
  filtered: number;
  failures: number;
  failing_since: number | null;
  retry_at: number | null;
  last_error: string | null;
  batch_limit: number;
};

/** The subscriptions in their order, as stored. */
export function readSubs(sql: SqlStorage): SubRow[] {
  return sql.exec<SubRow>("SELECT * FROM subscriptions ORDER BY position").toArray();
}

/** A stored subscription as the topic keeps it in memory. */
export const subOf = (row: SubRow): Sub => ({
  queue: row.queue,
  filter: row.filter === null ? null : (JSON.parse(row.filter) as SubscriptionFilter),
  cursor: row.cursor,
  failures: row.failures,
  failingSince: row.failing_since,
  retryAt: row.retry_at,
  batchLimit: row.batch_limit,
});

/** Adds `n` to a lifetime total, in the caller's transaction. */
export function addTotal(sql: SqlStorage, name: "published" | "duplicates" | "filtered", n: number): void {
  if (n <= 0) return;
  sql.exec(
    "INSERT INTO totals (name, count) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET count = count + excluded.count",
    name,
    n,
  );
}
