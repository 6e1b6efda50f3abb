import type { QueueConfig } from "../../client/protocol";
import type { Counts } from "./counters";
import type { Effects } from "./effects";
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
  /** What the operation changed beyond its rows, applied by the partition once it has committed. */
  effects: Effects;
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
