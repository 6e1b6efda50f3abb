/**
 * How full the partition is, for maxDepth: the messages it stores (ready,
 * delayed, in flight) and the room held for batches that span several
 * partitions (`reserve`).
 *
 * The stored count is taken once, when maxDepth first needs it, then kept by
 * every operation that adds or removes rows, so a depth check costs no scan.
 * Reservations are in memory on purpose: one lives seconds, and one lost
 * with an eviction only means that batch's enqueue checks the depth again.
 */

/** How long a reservation holds room: far longer than the enqueue that follows takes. */
export const RESERVATION_MS = 10_000;

export class Depth {
  /** Messages stored; null: not counted yet. */
  private stored: number | null = null;
  private readonly reservations = new Map<string, { count: number; until: number }>();

  constructor(private readonly sql: SqlStorage) {}

  /** Messages stored plus room reserved now. */
  used(now: number): number {
    this.stored ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n;
    let reserved = 0;
    for (const [id, r] of this.reservations) {
      if (r.until <= now) this.reservations.delete(id);
      else reserved += r.count;
    }
    return this.stored + reserved;
  }

  /** Rows were stored (positive) or removed (negative). */
  add(delta: number): void {
    if (this.stored !== null) this.stored += delta;
  }

  /** The stored count as a full count just found it (stats), or null to count again. */
  set(stored: number | null): void {
    this.stored = stored;
  }

  /** Whether the stored count is being kept (so that a free count may refresh it). */
  get counted(): boolean {
    return this.stored !== null;
  }

  /** Holds room for `count` messages; answers the reservation's id. */
  reserve(count: number, now: number): string {
    const id = crypto.randomUUID();
    this.reservations.set(id, { count, until: now + RESERVATION_MS });
    return id;
  }

  /** Gives back a reservation: another partition refused the batch, or its own rows now count instead. */
  release(id: string): void {
    this.reservations.delete(id);
  }

  /** Forgets everything (the partition was destroyed): nothing stored, nothing reserved. */
  clear(): void {
    this.stored = 0;
    this.reservations.clear();
  }
}
