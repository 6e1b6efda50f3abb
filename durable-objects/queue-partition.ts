import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type DeadLetterReason, type QueueConfig } from "../client/protocol";
import { logEvent } from "./log";
import { ack } from "./partition/ack";
import { deleteDeadLetters, listDeadLetters, redrive } from "./partition/dead-letter";
import { enqueue } from "./partition/enqueue";
import { extend } from "./partition/extend";
import { GroupCommit } from "./partition/group-commit";
import { LeaseClock } from "./partition/lease-clock";
import { nack } from "./partition/nack";
import { Meter, type MeterReading } from "./partition/meter";
import { limitShares, nextTokenAt, refill, type PartitionPlace, type TokenBucket } from "./partition/limits";
import { peek, type PeekedRow } from "./partition/peek";
import { purge } from "./partition/purge";
import { countReady, receive } from "./partition/receive";
import { release as releaseLeases } from "./partition/release";
import { migrate } from "./partition/schema";
import { stats } from "./partition/stats";
import { nextDueAt, sweep, sweepExpiredLeases } from "./partition/sweep";
import type {
  EnqueueBatch,
  EnqueuedItem,
  LeaseOutcome,
  LeaseRef,
  LeasedMessage,
  OpContext,
  PartitionStats,
  StoredDeadLetter,
} from "./partition/types";
import { acceptWaiter, heldClaim, serveWaiters, settleWaiter } from "./partition/waiters";

/** What an enqueue answers; refusals store nothing of the batch. */
export type EnqueueOutcome =
  | { ok: true; results: EnqueuedItem[] }
  | { ok: false; code: "UNCONFIGURED" }
  | { ok: false; code: "QUEUE_FULL"; depth: number; maxDepth: number; retryAfterMs: number };

/** What a reserve answers; `reservation` is null when the partition has no maxDepth. */
export type ReserveOutcome =
  | { ok: true; reservation: string | null }
  | Exclude<EnqueueOutcome, { ok: true }>;

/** How long `reserve` holds room: far longer than the enqueue that follows takes. */
const RESERVATION_MS = 10_000;

/** What a receive answers: the leases, and when the delivery rate allows the next one if it stopped this receive. */
export interface ReceiveOutcome {
  messages: LeasedMessage[];
  nextDeliveryAt: number | null;
}

/**
 * One partition of one queue. Every message of the partition lives in this
 * object's SQLite; every write is one synchronous transaction (a savepoint
 * in a group commit that concurrent requests share, see
 * partition/group-commit.ts), and a 2xx means committed. The methods are thin:
 * each operation is a function of its own under `partition/`.
 *
 * RPC methods return results rather than throw: custom error properties do
 * not survive RPC.
 *
 * Long-poll consumers wait in the Worker, connected here by hibernatable
 * WebSockets (see `partition/waiters.ts`): every operation that can make a
 * message deliverable (enqueue, ack or dead-lettering of a group head, nack,
 * a lease given back, redrive, resume, and the alarm for delays, backoffs,
 * expired leases and delivery-rate tokens) ends with `wakeWaiters()`.
 */
export class QueuePartition extends DurableObject<Env> {
  private config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG };
  /** The registry version of `config`; 0 before the first configure. A push older than this is ignored. */
  private version = 0;
  private place: PartitionPlace = { index: 0, partitions: 1 };
  /** Set when the queue was deleted: enqueues are refused until the partition is configured again. */
  private deleted = false;
  /** The alarm as last set by this instance (null: none). Lets most operations skip setAlarm. */
  private alarmAt: number | null = null;
  /**
   * Messages stored (ready, delayed, in flight), counted once when maxDepth
   * first needs it and then kept by every operation that adds or removes
   * rows, so the depth check costs no scan. Null: not counted yet.
   */
  private depth: number | null = null;
  /** The delivery-rate bucket; also saved with each receive that takes tokens (see `receive`). */
  private bucket: TokenBucket | null = null;
  /**
   * Room held for batches that span several partitions (see `reserve`).
   * In memory on purpose: a reservation lives seconds, and one lost with an
   * eviction only means that batch's enqueue checks the depth again.
   */
  private reservations = new Map<string, { count: number; until: number }>();
  /** Requests, statements and rows of this instance, for the benchmark (W7). */
  private readonly metered = new Meter();
  /** This object's SQL, metered: operations use it through `op()`. */
  private readonly sql: SqlStorage;
  /** Writes of concurrent requests share one commit. */
  private readonly commits: GroupCommit;
  /** When leases end (in memory, from the rows; see partition/lease-clock.ts). */
  private readonly leases: LeaseClock;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = this.metered.wrap(ctx.storage.sql);
    this.leases = new LeaseClock(this.sql);
    // A group whose transaction failed left memory ahead of storage: count and scan again.
    this.commits = new GroupCommit(ctx.storage, () => {
      this.depth = null;
      this.leases.reset();
    });
    let failure: unknown;
    ctx.blockConcurrencyWhile(async () => {
      try {
        migrate(ctx.storage);
        const stored = ctx.storage.sql
          .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'config'")
          .toArray()[0];
        if (stored) this.config = { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(stored.value) };
        this.loadMeta();
        this.alarmAt = await ctx.storage.getAlarm();
      } catch (err) {
        failure = err;
      }
    });
    // Rethrown outside blockConcurrencyWhile so the input gate is not left broken.
    if (failure) throw failure;
  }

  /** One log line per batch that ran out of attempts or retention, never one per message. */
  private logDeadLettered(count: number, reason: DeadLetterReason, cause: string): void {
    if (count === 0) return;
    // The worker names each partition `<queue>/<index>`.
    const [queue, partition] = (this.ctx.id.name ?? this.ctx.id.toString()).split("/");
    logEvent("dead_lettered", { queue, partition: Number(partition ?? 0), count, reason, cause });
  }

  /** The context of one operation; every request and alarm that touches storage starts with it. */
  private op(now = Date.now(), kind: "request" | "alarm" | "internal" = "request"): OpContext {
    this.metered.begin(kind);
    return { sql: this.sql, config: this.config, now, leases: this.leases };
  }

  /** Makes sure an alarm fires no later than `at`. */
  private async wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private loadMeta(): void {
    const meta = new Map(
      this.ctx.storage.sql
        .exec<{ key: string; value: string }>("SELECT key, value FROM meta WHERE key IN ('version', 'place', 'deleted', 'bucket')")
        .toArray()
        .map((r) => [r.key, JSON.parse(r.value)]),
    );
    this.version = meta.get("version") ?? 0;
    this.place = meta.get("place") ?? { index: 0, partitions: 1 };
    this.deleted = meta.get("deleted") === true;
    this.bucket = meta.get("bucket") ?? null;
  }

  private setMeta(key: string, value: unknown): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  /**
   * Wakes waiting long-polls for what can be delivered now, as a receive
   * would see it: nothing while paused, at most the in-flight room and the
   * delivery-rate tokens. Free when no one waits (one in-memory
   * `getWebSockets()`). When the rate holds back ready messages from waiters,
   * the alarm is set for the next token, and the alarm serves them again.
   */
  private async wakeWaiters(now = Date.now()): Promise<void> {
    if (this.ctx.getWebSockets().length === 0) return;
    const ctx = this.op(now, "internal");
    const shares = limitShares(this.config, this.place);
    const rate = shares.deliveryRatePerSec;
    const bucket = rate === null ? null : refill(this.bucket, rate, now);
    let heldByRate = false;
    serveWaiters(
      this.ctx,
      (limit) => {
        if (this.config.paused || this.deleted) return 0;
        let room = limit;
        if (shares.maxInFlight !== null) {
          room = Math.min(room, Math.max(0, shares.maxInFlight - this.leases.inFlight));
        }
        const ready = countReady(ctx, room);
        if (bucket === null) return ready;
        const tokens = Math.floor(bucket.tokens);
        heldByRate = ready > tokens;
        return Math.min(ready, tokens);
      },
      now,
    );
    // The next whole token: when the fraction left in the bucket has grown to one.
    if (heldByRate) await this.wakeBy(nextTokenAt({ tokens: bucket!.tokens % 1, at: now }, rate!));
  }

  /** A long-poll waiter's WebSocket upgrade (the only thing this object serves over fetch). */
  override async fetch(request: Request): Promise<Response> {
    const now = Date.now();
    this.metered.begin("request");
    const accepted = acceptWaiter(this.ctx, request, now);
    if (!accepted) return new Response("not found", { status: 404 });
    // Something may have become ready between the waiter's last receive and now.
    await this.wakeWaiters(now);
    return accepted;
  }

  /** Waiters only listen. */
  override async webSocketMessage(): Promise<void> {}

  /** A waiter that leaves while it holds a claim passes it on. */
  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.metered.begin("request");
    if (heldClaim(ws)) {
      ws.serializeAttachment(null);
      await this.wakeWaiters();
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws);
  }

  /** Messages stored now, counted once, then kept up to date. */
  private currentDepth(): number {
    this.depth ??= this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one().n;
    return this.depth;
  }

  private addDepth(delta: number): void {
    if (this.depth !== null) this.depth += delta;
  }

  /**
   * Stores the queue's configuration; it applies from the next operation on.
   * `version` is the registry's: a push older than the stored one (two
   * changes whose pushes crossed) is ignored. `index` is this partition's
   * place among the queue's partitions, which sets its share of the limits.
   */
  async configure(config: QueueConfig, version = this.version + 1, index = this.place.index): Promise<QueueConfig> {
    if (version < this.version) return this.config;
    const wasPaused = this.config.paused;
    const place = { index, partitions: config.partitions };
    this.ctx.storage.transactionSync(() => {
      this.setMeta("config", config);
      this.setMeta("version", version);
      this.setMeta("place", place);
      this.ctx.storage.sql.exec("DELETE FROM meta WHERE key = 'deleted'");
    });
    this.config = { ...config };
    this.version = version;
    this.place = place;
    this.deleted = false;
    await this.wakeWaiters(); // a resumed queue, or a larger limit, may deliver again
    // Retention or dedup window may have shrunk: let the alarm recompute. A
    // resumed queue fires it at once, which is what wakes waiting receives.
    await this.wakeBy(wasPaused && !config.paused ? Date.now() : nextDueAt(this.op()));
    return this.config;
  }

  /**
   * Stores a batch, all or nothing. Refused whole when the partition was
   * deleted (the caller's view of the queue is stale) or when the batch
   * would take the partition past its share of maxDepth.
   */
  async enqueue(batch: EnqueueBatch, reservation?: string): Promise<EnqueueOutcome> {
    if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
    const ctx = this.op();
    const maxDepth = limitShares(this.config, this.place).maxDepth;
    let full: { depth: number } | null = null;
    let outcome: ReturnType<typeof enqueue> | "unconfigured" | undefined;
    try {
      // Depth is read inside the group, so that it counts the enqueues that ran before in it.
      outcome = await this.commits.run(() => {
        if (this.deleted) return "unconfigured" as const;
        // The batch's own reservation held its room until now; from here its rows count instead.
        if (reservation !== undefined) this.reservations.delete(reservation);
        const depth = maxDepth === null ? 0 : this.currentDepth() + this.reserved(ctx.now);
        const result = enqueue(ctx, batch);
        // Counted after the insert so that duplicates (which store nothing) do not count.
        if (maxDepth !== null && depth + result.stored > maxDepth) {
          full = { depth };
          throw new Error("queue full"); // rolls the whole batch back
        }
        this.addDepth(result.stored);
        return result;
      });
    } catch (err) {
      if (!full) throw err;
    }
    if (outcome === "unconfigured") return { ok: false, code: "UNCONFIGURED" };
    if (!outcome) {
      const depth = (full as { depth: number } | null)?.depth ?? 0;
      return { ok: false, code: "QUEUE_FULL", depth, maxDepth: maxDepth!, retryAfterMs: this.retryAfterFullMs(batch.count) };
    }
    if (outcome.stored > 0) {
      await this.wakeWaiters(ctx.now);
      await this.wakeBy(Math.min(outcome.earliestDueAt ?? Infinity, ctx.now + this.config.retentionMs));
    }
    return { ok: true, results: outcome.results };
  }

  /** Room held by live reservations. */
  private reserved(now: number): number {
    let sum = 0;
    for (const [id, r] of this.reservations) {
      if (r.until <= now) this.reservations.delete(id);
      else sum += r.count;
    }
    return sum;
  }

  /**
   * Holds room for `count` messages for a few seconds: the first half of an
   * enqueue whose batch spans several partitions under a maxDepth. The
   * worker reserves in every partition first and enqueues only when all
   * agreed, so a full partition refuses the batch before any of it is
   * stored. Without maxDepth there is nothing to hold and the answer is yes.
   */
  async reserve(count: number): Promise<ReserveOutcome> {
    if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
    const now = Date.now();
    const maxDepth = limitShares(this.config, this.place).maxDepth;
    if (maxDepth === null) return { ok: true, reservation: null };
    // In the commit group, after the enqueues queued before it, so that it counts them.
    return this.commits.run((): ReserveOutcome => {
      if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
      const depth = this.currentDepth() + this.reserved(now);
      if (depth + count > maxDepth) {
        return { ok: false, code: "QUEUE_FULL", depth, maxDepth, retryAfterMs: this.retryAfterFullMs(count) };
      }
      const reservation = crypto.randomUUID();
      this.reservations.set(reservation, { count, until: now + RESERVATION_MS });
      return { ok: true, reservation };
    });
  }

  /** Gives back room held by `reserve` (another partition refused the batch). */
  async release(reservation: string): Promise<void> {
    this.reservations.delete(reservation);
  }

  /** A guess at when a full partition has room: the time the delivery rate takes to drain the batch, else a second. */
  private retryAfterFullMs(count: number): number {
    const rate = limitShares(this.config, this.place).deliveryRatePerSec;
    const ms = rate === null ? 1000 : (count / rate) * 1000;
    return Math.min(Math.max(Math.ceil(ms), 1000), 60_000);
  }

  /**
   * Leases up to `max` ready messages, fewer when the partition's share of
   * maxInFlight or of the delivery rate allows fewer. Paused: nothing.
   *
   * The token bucket lives in memory and is saved in the receive's own
   * transaction whenever tokens are taken: no extra write or sync, and an
   * evicted or restarted partition does not hand out a fresh burst.
   * `nextDeliveryAt` says when the rate allows the next lease (null when the
   * rate did not limit this receive), so a waiting receive can wait for it.
   * `waiter` names the long-poll wait this receive follows a "ready" for,
   * settling its claim.
   */
  async receive(max: number, visibilityTimeoutMs: number, waiter?: string): Promise<ReceiveOutcome> {
    const outcome = await this.lease(max, visibilityTimeoutMs);
    if (waiter !== undefined) settleWaiter(this.ctx, waiter, outcome.messages.length);
    return outcome;
  }

  private async lease(max: number, visibilityTimeoutMs: number): Promise<ReceiveOutcome> {
    if (this.config.paused || this.deleted) return { messages: [], nextDeliveryAt: null };
    const ctx = this.op();
    const shares = limitShares(this.config, this.place);
    const rate = shares.deliveryRatePerSec;
    // The bucket is refilled inside the group, so that receives in one group share its tokens.
    let bucket: TokenBucket | null = null;
    let byRate = max;
    let allowed = max;
    let swept = 0;
    const leased = await this.commits.run(() => {
      if (this.config.paused || this.deleted) return [];
      bucket = rate === null ? null : refill(this.bucket, rate, ctx.now);
      byRate = bucket === null ? max : Math.min(max, Math.floor(bucket.tokens));
      allowed = byRate;
      swept = sweepExpiredLeases(ctx).deadLettered;
      if (shares.maxInFlight !== null) {
        allowed = Math.min(allowed, Math.max(0, shares.maxInFlight - this.leases.inFlight));
      }
      const got = receive(ctx, allowed, visibilityTimeoutMs);
      if (bucket !== null && got.length > 0) {
        bucket.tokens -= got.length;
        this.setMeta("bucket", bucket);
      }
      if (bucket !== null) this.bucket = bucket;
      this.addDepth(-swept);
      return got;
    });
    this.logDeadLettered(swept, "max_attempts", "lease expired");
    if (leased.length > 0) await this.wakeBy(ctx.now + visibilityTimeoutMs);
    // The rate, not the lack of messages or of in-flight room, stopped this receive.
    const spent = bucket as TokenBucket | null;
    const rateBound = spent !== null && byRate < max && leased.length === allowed && allowed === byRate;
    return { messages: leased, nextDeliveryAt: rateBound ? nextTokenAt(spent, rate!) : null };
  }

  /**
   * Gives leases back untouched (ready now, the attempt not counted): for a
   * receive whose consumer disconnected before it got the answer.
   */
  async releaseLeases(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const { outcomes, released } = await this.commits.run(() => releaseLeases(ctx, refs));
    if (released > 0) await this.wakeWaiters(ctx.now);
    return outcomes;
  }

  async ack(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const outcomes = await this.commits.run(() => {
      const { outcomes, acked } = ack(ctx, refs);
      this.addDepth(-acked);
      return { outcomes, acked };
    });
    if (outcomes.acked > 0) await this.wakeWaiters(ctx.now); // the next of a group, or in-flight room
    return outcomes.outcomes;
  }

  async nack(refs: LeaseRef[], delayMs: number | null, error: string | null): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const result = await this.commits.run(() => {
      const nacked = nack(ctx, refs, delayMs, error);
      this.addDepth(-nacked.deadLettered);
      return nacked;
    });
    this.logDeadLettered(result.deadLettered, "max_attempts", "nack");
    if (result.retried + result.deadLettered > 0) await this.wakeWaiters(ctx.now);
    await this.wakeBy(result.earliestDueAt);
    return result.outcomes;
  }

  async extend(refs: LeaseRef[], visibilityTimeoutMs: number): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const result = await this.commits.run(() => extend(ctx, refs, visibilityTimeoutMs));
    // A shortened lease must still end on time (stats, retention, and long-polls wait on it).
    if (result.outcomes.some((o) => o.ok)) await this.wakeBy(result.leaseExpiresAt);
    return result.outcomes;
  }

  async stats(): Promise<PartitionStats> {
    const s = stats(this.op());
    // The counts are there anyway: keep the depth honest for free.
    if (this.depth !== null) this.depth = s.ready + s.delayed + s.inFlight;
    return s;
  }

  async deadLetters(afterSeq: number, limit: number): Promise<{ deadLetters: StoredDeadLetter[]; next: number | null }> {
    return listDeadLetters(this.ctx.storage.sql, afterSeq, limit);
  }

  /**
   * Puts dead letters back, oldest first, as many as the partition's share of
   * maxDepth has room for; `remaining` counts the ones asked for that did not fit.
   */
  async redrive(ids: string[] | null): Promise<{ redriven: number; remaining: number }> {
    const ctx = this.op();
    const maxDepth = limitShares(this.config, this.place).maxDepth;
    // In the commit group, after the enqueues queued before it, so that the room counts them.
    const result = await this.commits.run(() => {
      const room = maxDepth === null ? null : maxDepth - this.currentDepth() - this.reserved(ctx.now);
      const moved = redrive(ctx.sql, ids, ctx.now, room);
      this.addDepth(moved.redriven);
      return moved;
    });
    const n = result.redriven;
    if (n > 0) {
      await this.wakeWaiters(ctx.now);
      await this.wakeBy(ctx.now + this.config.retentionMs);
    }
    return result;
  }

  /** Deletes ready and delayed messages; leased ones stay. Answers how many went. */
  async purge(): Promise<number> {
    const n = this.ctx.storage.transactionSync(() => purge(this.ctx.storage.sql, Date.now()));
    this.addDepth(-n);
    return n;
  }

  /** One page of messages in `seq` order, without leasing any. */
  async peek(afterSeq: number, limit: number): Promise<{ messages: PeekedRow[]; next: number | null }> {
    return peek(this.ctx.storage.sql, afterSeq, limit, Date.now());
  }

  /**
   * Deletes everything this partition stores (messages, dead letters, dedup
   * ids, counters, configuration) and its alarm. The partition then refuses
   * enqueues as UNCONFIGURED until it is configured again, so a worker with
   * a stale view of a deleted queue cannot store a message in it unseen.
   */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage);
    this.setMeta("deleted", true);
    this.config = { ...DEFAULT_QUEUE_CONFIG };
    this.version = 0;
    this.place = { index: 0, partitions: 1 };
    this.deleted = true;
    this.alarmAt = null;
    this.depth = 0;
    this.bucket = null;
    this.leases.reset();
  }

  async deleteDeadLetters(ids: string[] | null): Promise<number> {
    return this.ctx.storage.transactionSync(() => deleteDeadLetters(this.ctx.storage.sql, ids));
  }

  /** Bench only (bench/run.mjs, W7): what this instance has cost so far. Not itself counted. */
  async meter(): Promise<MeterReading> {
    return this.metered.read();
  }

  /** Time-based work: expired leases, retention, dedup and counter windows; then the next alarm. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const ctx = this.op(Date.now(), "alarm");
    const swept = await this.commits.run(() => sweep(ctx));
    this.logDeadLettered(swept.deadLettered, "max_attempts", "lease expired");
    this.logDeadLettered(swept.expired, "expired", "retention");
    this.addDepth(-(swept.deadLettered + swept.expired));
    await this.wakeWaiters(ctx.now); // delays, backoffs, expired leases and rate tokens that came due
    const next = nextDueAt(ctx);
    if (next !== null) await this.wakeBy(Math.max(next, ctx.now + 1));
  }
}
