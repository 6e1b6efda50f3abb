import type { LeaseOutcome, LeaseRef } from "../contract";
import { leaseOwner } from "./lease-token";

/**
 * The partition's leases: one row per receive in the `leases` table, and
 * the same in memory.
 *
 * A receive writes one row, whatever it leased: the token, when it leased
 * and, for each message, when its lease ends. The message rows are not
 * touched: a message row changes only when the message is acked (deleted),
 * fails (nack or lease end: attempts + 1 and a new due time) or dies. So a
 * message's life batched by 100 writes about 2 rows per message instead of
 * 3 (the bench's W7 counts them). A message is leased while a lease row names it;
 * `attempts` in its row counts the deliveries that failed, and the one it
 * is on is the next.
 *
 * Memory mirrors the table exactly: loaded by one scan when first needed,
 * then changed by each write right after its statement, in the same
 * synchronous operation. An operation or group commit that fails rolls back
 * the table, and the partition then forgets memory (`reset`) so that the
 * next use loads it again.
 *
 * A consume stream's leases carry its owner id in their token
 * (lease-token.ts); memory also counts the messages each owner holds, which
 * is what a stream's prefetch is measured against.
 */

/** One receive's lease: when it was delivered, and when each message it still holds is due back. */
interface Lease {
  deliveredAt: number | null;
  ends: Map<number, number>;
  /** No lease of `ends` ends before this (it may be earlier than the first end, never later). */
  endsBy: number;
}

/** A lease that has ended without an ack: what the sweep needs to fail it. */
export interface EndedLease {
  seq: number;
  token: string;
  endedAt: number;
  deliveredAt: number | null;
}

const itemsOf = (ends: Map<number, number>): string => JSON.stringify([...ends]);

/** At most this many holes in the prefix; a further one ends the prefix before it. */
const MAX_HOLES = 32;

/** `scanStart` walks the prefix forward only when this many leased seqs or more lie above it. */
export const WALK_FROM = 8;

/** A ready scan that read past this many rows more than it returned asks the next `scanStart` to walk. */
export const READ_PAST = 64;

export class Leases {
  private byToken: Map<string, Lease> | null = null;
  private tokenBySeq = new Map<number, string>();
  /** Messages leased per consume stream (the owner in their token); owners that hold none are absent. */
  private heldByOwner = new Map<string, number>();
  /** No lease ends before this: lets `ended` answer the common "none yet" without a walk. */
  private earliest = -Infinity;
  /**
   * Every stored message with a seq up to this is leased, in `holes`, or
   * waiting: unleased and not due before `dueBy` (0 says nothing). See
   * `scanStart`.
   */
  private prefix = 0;
  /** No waiting message up to `prefix` is due before this. */
  private dueBy = Infinity;
  /** A ready scan read past many rows: the next `scanStart` walks whatever lies above the prefix. */
  private walkAsked = false;
  /**
   * Seqs up to `prefix` of messages that may be stored and not leased: a
   * message that waits for a retry or a delay ahead of leased ones, or whose
   * lease ended. Kept few (MAX_HOLES); a seq here whose message has gone is
   * harmless (scans look it up).
   */
  private holes = new Set<number>();

  private readonly walkFrom: number;
  private readonly readPastLimit: number;

  /** `walkFrom` and `readPast`: see `scanStart` (tests set them low to walk often). */
  constructor(
    private readonly sql: SqlStorage,
    options: { walkFrom?: number; readPast?: number } = {},
  ) {
    this.walkFrom = options.walkFrom ?? WALK_FROM;
    this.readPastLimit = options.readPast ?? READ_PAST;
  }

  private forgetPrefix(): void {
    this.prefix = 0;
    this.holes.clear();
    this.dueBy = Infinity;
    this.walkAsked = false;
  }

  /** The leases, read from the table when first needed. */
  private load(): Map<string, Lease> {
    if (this.byToken === null) {
      const byToken = new Map<string, Lease>();
      const tokenBySeq = new Map<number, string>();
      this.heldByOwner = new Map();
      for (const row of this.sql.exec<{ token: string; delivered_at: number | null; items: string }>(
        "SELECT token, delivered_at, items FROM leases",
      )) {
        const ends = new Map(JSON.parse(row.items) as [number, number][]);
        byToken.set(row.token, { deliveredAt: row.delivered_at, ends, endsBy: Math.min(...ends.values()) });
        for (const seq of ends.keys()) tokenBySeq.set(seq, row.token);
        this.count(row.token, ends.size);
      }
      this.byToken = byToken;
      this.tokenBySeq = tokenBySeq;
      this.earliest = -Infinity;
      this.forgetPrefix();
    }
    return this.byToken;
  }

  /** Forgets memory: the next use reads the table again (after a rollback, or when storage was wiped). */
  reset(): void {
    this.byToken = null;
    this.tokenBySeq = new Map();
    this.heldByOwner = new Map();
    this.earliest = -Infinity;
    this.forgetPrefix();
  }

  /** Leases `seqs` under `token` from `deliveredAt` until `endsAt`: one row. */
  take(token: string, seqs: number[], deliveredAt: number, endsAt: number): void {
    if (seqs.length === 0) return;
    const all = this.load();
    const ends = new Map(seqs.map((seq) => [seq, endsAt]));
    this.sql.exec("INSERT INTO leases (token, delivered_at, items) VALUES (?, ?, ?)", token, deliveredAt, itemsOf(ends));
    all.set(token, { deliveredAt, ends, endsBy: endsAt });
    for (const seq of seqs) {
      this.tokenBySeq.set(seq, token);
      this.holes.delete(seq);
    }
    this.earliest = Math.min(this.earliest, endsAt);
    this.count(token, seqs.length);
  }

  /** Counts `n` more (or fewer) messages leased under `token` for its owner, if a stream owns it. */
  private count(token: string, n: number): void {
    const owner = leaseOwner(token);
    if (owner === null) return;
    const held = (this.heldByOwner.get(owner) ?? 0) + n;
    if (held > 0) this.heldByOwner.set(owner, held);
    else this.heldByOwner.delete(owner);
  }

  /** Messages the consume stream `owner` holds leased (ended or not). */
  heldBy(owner: string): number {
    this.load();
    return this.heldByOwner.get(owner) ?? 0;
  }

  /** The consume streams that hold leases. */
  get owners(): string[] {
    this.load();
    return [...this.heldByOwner.keys()];
  }

  /** The leases the consume stream `owner` holds (ended or not), by seq. */
  ownedBy(owner: string): Map<number, { token: string; deliveredAt: number | null }> {
    const owned = new Map<number, { token: string; deliveredAt: number | null }>();
    if (this.heldBy(owner) === 0) return owned;
    for (const [token, lease] of this.byToken!) {
      if (leaseOwner(token) !== owner) continue;
      for (const seq of lease.ends.keys()) owned.set(seq, { token, deliveredAt: lease.deliveredAt });
    }
    return owned;
  }

  /** The lease `token` holds on `seq`, if it still does (whether or not it has ended). */
  held(seq: number, token: string): { endsAt: number; deliveredAt: number | null } | null {
    const lease = this.load().get(token);
    const endsAt = lease?.ends.get(seq);
    return lease && endsAt !== undefined ? { endsAt, deliveredAt: lease.deliveredAt } : null;
  }

  /** When the lease on `seq` ends; undefined when it is not leased. */
  endOf(seq: number): number | undefined {
    const all = this.load();
    const token = this.tokenBySeq.get(seq);
    return token === undefined ? undefined : all.get(token)!.ends.get(seq);
  }

  /** Messages leased (ended or not): what counts against maxInFlight. */
  get inFlight(): number {
    this.load();
    return this.tokenBySeq.size;
  }

  /** The leased seqs as a JSON array, for `seq NOT IN (SELECT value FROM json_each(?))` (stats, purge, the sweep). */
  get seqsJson(): string {
    this.load();
    return JSON.stringify([...this.tokenBySeq.keys()]);
  }

  /**
   * Where a scan for ready messages in `seq` order looks: `holes`, the
   * seqs up to `after` that may be ready (a JSON array, in order), then the
   * messages above `after` but for `rest`, the leased seqs above it (a JSON
   * array, to exclude in SQL with `NOT IN (SELECT value FROM
   * json_each(?))`). Every stored message up to `after` is leased, a hole,
   * or waiting: unleased and not due before `dueBy` (delayed, or retrying
   * after a backoff). Only scans for what is ready `now` may use it.
   *
   * Messages are mostly leased oldest first, so the leased ones form a
   * prefix of the queue, with a few holes (a message retrying after a
   * backoff, a lease given back). Skipping the prefix spares every receive
   * from reading past it and from excluding its leased seqs one by one, so
   * a receive's cost does not grow with the messages in flight; delayed
   * messages ahead of the ready ones are skipped the same way (the bench's
   * W8 measures both).
   *
   * The prefix grows by seeking to the next stored message that is due and
   * walking the leased seqs that follow it, from where the last call
   * stopped. The waiting messages it passes are remembered only by the
   * earliest time one is due (`dueBy`); when that comes, the ones now due
   * are found through the `messages_delayed` index and become holes
   * (`matured`). It walks once `walkFrom` leased seqs lie above it, or when
   * the last ready scan read past `READ_PAST` rows more than it returned
   * (`readPast`): a few leased seqs are cheaper to exclude in SQL than to
   * walk past, a seek each (a queue whose consumers keep up, where each
   * message is leased as it comes and acked soon after, would otherwise
   * seek several times per message).
   */
  scanStart(now: number): { holes: string; after: number; rest: string } {
    this.load();
    if (now >= this.dueBy) this.matured(now);
    let after = this.prefix;
    const above = () => {
      const seqs: number[] = [];
      for (const seq of this.tokenBySeq.keys()) if (seq > after) seqs.push(seq);
      return seqs;
    };
    let rest = above();
    // A short list is cheaper to exclude in SQL than the seeks that would take it into the prefix.
    if (rest.length < this.walkFrom && !this.walkAsked) return { holes: this.holesJson(), after, rest: JSON.stringify(rest) };
    this.walkAsked = false;
    const nextDue = (seq: number) =>
      this.sql.exec<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM messages WHERE seq > ? AND visible_at <= ?", seq, now).one().seq;
    /** The messages between `from` and `to` (both excluded) are waiting: keep the earliest due time among them. */
    const passWaiting = (from: number, to: number) => {
      if (to === from + 1) return;
      const { due } = this.sql
        .exec<{ due: number | null }>("SELECT MIN(visible_at) AS due FROM messages WHERE seq > ? AND seq < ?", from, to)
        .one();
      if (due !== null) this.dueBy = Math.min(this.dueBy, due);
    };
    for (let seeks = 0; seeks < 16; seeks++) {
      let next = nextDue(after);
      if (next === null) {
        // Nothing above is due: all of it is waiting.
        const { last, due } = this.sql
          .exec<{ last: number | null; due: number | null }>("SELECT MAX(seq) AS last, MIN(visible_at) AS due FROM messages WHERE seq > ?", after)
          .one();
        if (last !== null) after = last;
        if (due !== null) this.dueBy = Math.min(this.dueBy, due);
        break;
      }
      passWaiting(after, next);
      if (!this.tokenBySeq.has(next)) {
        // An unleased message that is due is a hole only when leased ones follow it; else the prefix ends just before it.
        const following = this.holes.size < MAX_HOLES ? nextDue(next) : null;
        if (following === null || !this.tokenBySeq.has(following)) {
          after = next - 1;
          break;
        }
        passWaiting(next, following);
        this.holes.add(next);
        next = following;
      }
      after = next;
      while (this.tokenBySeq.has(after + 1)) after += 1; // a leased seq is a stored one
    }
    if (after !== this.prefix) rest = above();
    this.prefix = after;
    return { holes: this.holesJson(), after, rest: JSON.stringify(rest) };
  }

  /** The last ready scan read past `rows` rows it did not return: past `READ_PAST`, the next `scanStart` walks. */
  readPast(rows: number): void {
    if (rows > this.readPastLimit) this.walkAsked = true;
  }

  /**
   * `dueBy` has come: the waiting messages in the prefix that are now due
   * (found through the `messages_delayed` index, which holds every message
   * whose due time is later than its enqueue time) become holes, or the
   * prefix ends before them; then `dueBy` is the next due time among those
   * still waiting.
   */
  private matured(now: number): void {
    const due = this.sql
      .exec<{ seq: number }>(
        `SELECT seq FROM messages
         WHERE lease_token IS NULL AND visible_at > enqueued_at AND visible_at <= ? AND seq <= ?
         ORDER BY seq`,
        now,
        this.prefix,
      )
      .toArray();
    for (const { seq } of due) if (!this.tokenBySeq.has(seq) && !this.holes.has(seq)) this.unleasedInPrefix(seq);
    const next = this.sql
      .exec<{ due: number | null }>(
        `SELECT MIN(visible_at) AS due FROM messages
         WHERE lease_token IS NULL AND visible_at > enqueued_at AND visible_at > ? AND seq <= ?`,
        now,
        this.prefix,
      )
      .one().due;
    this.dueBy = next ?? Infinity;
  }

  private holesJson(): string {
    return this.holes.size === 0 ? "[]" : JSON.stringify([...this.holes].sort((a, b) => a - b));
  }

  /** A message up to the prefix is stored and no longer leased: a hole, or the prefix ends before it. */
  private unleasedInPrefix(seq: number): void {
    if (seq > this.prefix) return;
    if (this.holes.size >= MAX_HOLES) {
      // Forget the holes whose messages have gone first.
      const stored = new Set(
        this.sql
          .exec<{ seq: number }>("SELECT seq FROM messages WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify([...this.holes]))
          .toArray()
          .map((r) => r.seq),
      );
      for (const hole of this.holes) if (!stored.has(hole)) this.holes.delete(hole);
    }
    if (this.holes.size < MAX_HOLES) {
      this.holes.add(seq);
      return;
    }
    this.prefix = seq - 1;
    for (const hole of this.holes) if (hole > this.prefix) this.holes.delete(hole);
  }

  /** The earliest time a lease may end (never later than it does); null with no leases. */
  get nextEnd(): number | null {
    let next: number | null = null;
    for (const lease of this.load().values()) next = Math.min(next ?? Infinity, lease.endsBy);
    return next;
  }

  /** The leases that have ended by `now`; they stay until the caller ends them (`end`). */
  ended(now: number): EndedLease[] {
    const ended: EndedLease[] = [];
    const all = this.load();
    if (now < this.earliest) return ended;
    let earliest = Infinity;
    for (const [token, lease] of all) {
      if (lease.endsBy <= now) {
        let endsBy = Infinity;
        for (const [seq, endedAt] of lease.ends) {
          if (endedAt <= now) ended.push({ seq, token, endedAt, deliveredAt: lease.deliveredAt });
          endsBy = Math.min(endsBy, endedAt);
        }
        lease.endsBy = endsBy;
      }
      earliest = Math.min(earliest, lease.endsBy);
    }
    this.earliest = earliest;
    return ended;
  }

  /**
   * These leases are over (ack, nack, release, lease end, dead letter): each
   * receive's row loses them, and goes when it holds none. Refs whose lease
   * is not held are skipped. Two statements at most, whatever the count.
   * `stayStored`: their messages stay (a nack, a lease end, a release), so
   * they become holes in the prefix, or end it (`scanStart`).
   */
  end(refs: Iterable<LeaseRef>, stayStored: boolean): void {
    const all = this.load();
    const gone = new Map<string, Set<number>>();
    for (const { seq, token } of refs) {
      if (this.tokenBySeq.get(seq) !== token) continue;
      let seqs = gone.get(token);
      if (!seqs) gone.set(token, (seqs = new Set()));
      seqs.add(seq);
    }
    if (gone.size === 0) return;
    const emptied: string[] = [];
    const kept: [token: string, items: string][] = [];
    for (const [token, seqs] of gone) {
      const ends = all.get(token)!.ends;
      if (seqs.size === ends.size) emptied.push(token);
      else kept.push([token, JSON.stringify([...ends].filter(([seq]) => !seqs.has(seq)))]);
    }
    if (emptied.length > 0) {
      this.sql.exec("DELETE FROM leases WHERE token IN (SELECT value FROM json_each(?))", JSON.stringify(emptied));
    }
    if (kept.length > 0) {
      this.sql.exec(
        "UPDATE leases SET items = j.value ->> 1 FROM json_each(?) AS j WHERE leases.token = j.value ->> 0",
        JSON.stringify(kept),
      );
    }
    for (const [token, seqs] of gone) {
      const lease = all.get(token)!;
      for (const seq of seqs) {
        lease.ends.delete(seq);
        this.tokenBySeq.delete(seq);
      }
      if (lease.ends.size === 0) all.delete(token);
      this.count(token, -seqs.size);
      if (stayStored) for (const seq of seqs) this.unleasedInPrefix(seq);
    }
  }

  /** Moves the end of these (held) leases to `endsAt`: one row per receive they came from. */
  extend(refs: Iterable<LeaseRef>, endsAt: number): void {
    const all = this.load();
    const moved = new Map<string, Map<number, number>>();
    for (const { seq, token } of refs) {
      const lease = all.get(token);
      if (!lease?.ends.has(seq)) continue;
      let ends = moved.get(token);
      if (!ends) moved.set(token, (ends = new Map(lease.ends)));
      ends.set(seq, endsAt);
    }
    if (moved.size === 0) return;
    this.sql.exec(
      "UPDATE leases SET items = j.value ->> 1 FROM json_each(?) AS j WHERE leases.token = j.value ->> 0",
      JSON.stringify([...moved].map(([token, ends]) => [token, itemsOf(ends)])),
    );
    for (const [token, ends] of moved) {
      const lease = all.get(token)!;
      lease.ends = ends;
      lease.endsBy = Math.min(lease.endsBy, endsAt);
    }
    this.earliest = Math.min(this.earliest, endsAt);
  }
}

/**
 * Splits receipts into the ones whose lease is current (held by that token
 * and not ended) and the rest, which get LEASE_LOST when the message is
 * still stored and NOT_FOUND when it is gone. This is the fence: only the
 * holder of the current lease may ack, nack, extend or release. Current
 * leases are answered from memory; only refused ones are looked up.
 */
export function checkLeases(
  sql: SqlStorage,
  leases: Leases,
  refs: LeaseRef[],
  now: number,
): { current: Map<number, { token: string; deliveredAt: number | null }>; outcomes: LeaseOutcome[] } {
  const current = new Map<number, { token: string; deliveredAt: number | null }>();
  const refused: number[] = [];
  for (const ref of refs) {
    const held = leases.held(ref.seq, ref.token);
    if (held && held.endsAt > now) current.set(ref.seq, { token: ref.token, deliveredAt: held.deliveredAt });
    else refused.push(ref.seq);
  }
  const stored = new Set<number>();
  if (refused.length > 0) {
    for (const row of sql.exec<{ seq: number }>(
      "SELECT seq FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
      JSON.stringify(refused),
    )) {
      stored.add(row.seq);
    }
  }
  const outcomes = refs.map((ref): LeaseOutcome => {
    if (current.get(ref.seq)?.token === ref.token) return { ok: true };
    return { ok: false, code: stored.has(ref.seq) ? "LEASE_LOST" : "NOT_FOUND" };
  });
  return { current, outcomes };
}
