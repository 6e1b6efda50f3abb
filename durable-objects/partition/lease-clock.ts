/**
 * When the partition's leases end, kept in memory instead of in an index.
 *
 * The message rows are the truth: a leased message has its `lease_token`
 * and, in `visible_at`, the end of its lease. What the sweep and the alarm
 * need is "which leases have ended by now" and "when does the next one end".
 * An index on the lease end answered that, at the price of one more row
 * written per message received (index entries count in `rowsWritten`: a
 * receive cost 2 rows per message instead of 1). This clock answers it from
 * memory: one entry per receive (its token, the seqs it leased, a time by
 * which its first lease ends), filled by one scan of the leased rows when
 * the object starts, then kept by the operations.
 *
 * It may say too early, never too late: an entry's `endsBy` is at most the
 * earliest lease end of its messages (extend only ever moves it earlier;
 * ack, nack and release remove seqs). A due entry is checked against the
 * rows (`checkDue`), which finds what really expired and moves the entry to
 * its next end. So a stale entry costs one lookup by seq, and a rolled-back
 * operation that left one behind cannot lose a lease: the clock is rebuilt
 * from the rows when a commit fails (see GroupCommit's onRollback).
 */
export class LeaseClock {
  private entries: Map<string, { endsBy: number; seqs: Set<number> }> | null = null;
  /** No entry ends before this: lets `checkDue` answer the common "nothing yet" without a walk. */
  private earliest = -Infinity;

  constructor(private readonly sql: SqlStorage) {}

  /** The entries, scanning the leased rows once when first needed. */
  private get byToken(): Map<string, { endsBy: number; seqs: Set<number> }> {
    if (this.entries === null) {
      const entries = new Map<string, { endsBy: number; seqs: Set<number> }>();
      for (const row of this.sql.exec<{ seq: number; lease_token: string; visible_at: number }>(
        "SELECT seq, lease_token, visible_at FROM messages WHERE lease_token IS NOT NULL",
      )) {
        const entry = entries.get(row.lease_token);
        if (entry) {
          entry.seqs.add(row.seq);
          entry.endsBy = Math.min(entry.endsBy, row.visible_at);
        } else entries.set(row.lease_token, { endsBy: row.visible_at, seqs: new Set([row.seq]) });
      }
      this.entries = entries;
      this.earliest = -Infinity;
    }
    return this.entries;
  }

  /** Forgets everything; the next use scans the rows again. */
  reset(): void {
    this.entries = null;
    this.earliest = -Infinity;
  }

  /** A receive leased `seqs` under `token` until `endsAt`. */
  leased(token: string, seqs: number[], endsAt: number): void {
    if (seqs.length === 0) return;
    this.byToken.set(token, { endsBy: endsAt, seqs: new Set(seqs) });
    this.earliest = Math.min(this.earliest, endsAt);
  }

  /** A lease under `token` now ends at `endsAt` (an extend; a longer lease keeps the earlier check). */
  endsAt(token: string, endsAt: number): void {
    const entry = this.byToken.get(token);
    if (!entry) return;
    entry.endsBy = Math.min(entry.endsBy, endsAt);
    this.earliest = Math.min(this.earliest, endsAt);
  }

  /** These leases ended (ack, nack, release, dead letter): no longer watched. */
  ended(refs: Iterable<{ seq: number; token: string }>): void {
    for (const { seq, token } of refs) {
      const entry = this.byToken.get(token);
      if (!entry) continue;
      entry.seqs.delete(seq);
      if (entry.seqs.size === 0) this.byToken.delete(token);
    }
  }

  /** Messages watched as leased: what counts against maxInFlight. */
  get inFlight(): number {
    let n = 0;
    for (const entry of this.byToken.values()) n += entry.seqs.size;
    return n;
  }

  /** The earliest time a lease may end; null with no leases. */
  get nextEnd(): number | null {
    let next: number | null = null;
    for (const entry of this.byToken.values()) next = Math.min(next ?? Infinity, entry.endsBy);
    return next;
  }

  /**
   * The leases that have ended by `now`, checked against the rows: seq ->
   * its attempts and lease end. Entries found still running (extended) move
   * to their real next end; entries with nothing left are dropped. The
   * caller ends the returned leases and reports them with `ended`.
   */
  checkDue(now: number): Map<number, { attempts: number; failedAt: number; token: string }> {
    const expired = new Map<number, { attempts: number; failedAt: number; token: string }>();
    if (now < this.earliest) return expired;
    const due = [...this.byToken].filter(([, entry]) => entry.endsBy <= now);
    if (due.length === 0) {
      this.earliest = this.nextEnd ?? Infinity;
      return expired;
    }
    const seqs = due.flatMap(([, entry]) => [...entry.seqs]);
    const rows = new Map<number, { lease_token: string | null; visible_at: number; attempts: number }>();
    for (const row of this.sql.exec<{ seq: number; lease_token: string | null; visible_at: number; attempts: number }>(
      "SELECT seq, lease_token, visible_at, attempts FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
      JSON.stringify(seqs),
    )) {
      rows.set(row.seq, row);
    }
    for (const [token, entry] of due) {
      let endsBy = Infinity;
      for (const seq of [...entry.seqs]) {
        const row = rows.get(seq);
        if (!row || row.lease_token !== token) entry.seqs.delete(seq); // gone, or leased again under another token
        else if (row.visible_at <= now) {
          expired.set(seq, { attempts: row.attempts, failedAt: row.visible_at, token });
          endsBy = now; // due until the caller reports it ended (its operation may yet roll back)
        } else endsBy = Math.min(endsBy, row.visible_at);
      }
      if (entry.seqs.size === 0) this.byToken.delete(token);
      else entry.endsBy = endsBy;
    }
    this.earliest = this.nextEnd ?? Infinity;
    return expired;
  }
}
