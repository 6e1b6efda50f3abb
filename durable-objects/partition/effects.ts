import type { DeadLetterReason } from "../../client/protocol";

/**
 * What one storage operation changed beyond its rows: the operation reports
 * it here as it goes, and the partition applies it in one place
 * (`QueuePartition.apply`) once the operation's savepoint has committed, so
 * an operation that rolls back leaves no trace in memory, and a new
 * operation cannot forget a piece of bookkeeping: it only says what it did.
 */
export class Effects {
  /** Messages stored minus messages removed: the partition's depth (maxDepth) follows it. */
  depthDelta = 0;
  /** Something may have become deliverable: waiting consumers are served at the end of the group. */
  deliverable = false;
  /** The earliest time the alarm must fire for what the operation left due (null: none). */
  wakeAt: number | null = null;
  /** Messages that became dead letters, by reason and cause, for the log. */
  readonly deadLettered: { count: number; reason: DeadLetterReason; cause: string }[] = [];

  /** `n` messages were stored; they may be deliverable. */
  stored(n: number): void {
    if (n <= 0) return;
    this.depthDelta += n;
    this.deliverable = true;
  }

  /** `n` messages left the partition (acked, purged, dead-lettered). */
  removed(n: number): void {
    this.depthDelta -= n;
  }

  /** A message may be deliverable now that was not: a retry, a lease given back, a group's head gone, time passed. */
  mayDeliver(): void {
    this.deliverable = true;
  }

  /** Something becomes due at `at` (a delay, a backoff, a lease end, the retention). */
  dueAt(at: number | null): void {
    if (at !== null && (this.wakeAt === null || at < this.wakeAt)) this.wakeAt = at;
  }

  /** `count` messages moved to the dead letters: they left the partition, and the next of their group may go. */
  deadLetter(count: number, reason: DeadLetterReason, cause: string): void {
    if (count <= 0) return;
    this.removed(count);
    this.deliverable = true;
    this.deadLettered.push({ count, reason, cause });
  }
}
