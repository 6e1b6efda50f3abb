import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type DeadLetterReason, type QueueConfig } from "../client/protocol";
import { logEvent } from "./log";
import { ack } from "./partition/ack";
import { deleteDeadLetters, listDeadLetters, redrive } from "./partition/dead-letter";
import { enqueue, joinBatches } from "./partition/enqueue";
import { extend } from "./partition/extend";
import { GroupCommit } from "./partition/group-commit";
import { Depth } from "./partition/depth";
import { Tally } from "./partition/counters";
import { nack } from "./partition/nack";
import { Meter, type MeterReading } from "./partition/meter";
import { limitShares, nextTokenAt, refill, retryAfterFullMs, type PartitionPlace, type TokenBucket } from "./partition/limits";
import { peek, type PeekedRow } from "./partition/peek";
import { purge } from "./partition/purge";
import { countReady, receive } from "./partition/receive";
import { release as releaseLeases } from "./partition/release";
import { Leases } from "./partition/leases";
import { migrate } from "./partition/schema";
import { stats } from "./partition/stats";
import { nextDueAt, sweep, sweepExpiredLeases } from "./partition/sweep";
import type {
  EnqueueBatch,
  EnqueueOutcome,
  LeaseOutcome,
  LeaseRef,
  LeasedMessage,
  OpContext,
  PartitionStats,
  ReceiveOutcome,
  ReserveOutcome,
  StoredDeadLetter,
} from "./partition/types";
import { acceptWaiter, ACKED_HEADER, DONE_MESSAGE, endWait, hasWaiters, leaseToWaiters } from "./partition/waiters";

/** Thrown inside an enqueue's savepoint to roll back a batch the partition has no room for. */
class QueueFull extends Error {
  constructor(readonly depth: number) {
    super("queue full");
  }
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
 * WebSockets (see `partition/waiters.ts`). Every operation that can make a
 * message deliverable (enqueue, ack or dead-lettering of a group head, nack,
 * a lease given back, redrive, resume, a waiter arriving, and the alarm for
 * delays, backoffs, expired leases and delivery-rate tokens) marks
 * `mayDeliver`; the group commit then leases to the waiters in the same
 * transaction (`settleWaiters`) and pushes the leases over their sockets.
 * An enqueue's message thus reaches a waiting consumer with the enqueue's
 * own commit; operations outside the group commit run a group of their own
 * (`pushToWaiters`).
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
  /** Messages stored and room reserved, for maxDepth (see partition/depth.ts). */
  private readonly depth: Depth;
  /** The delivery-rate bucket; also saved with each receive that takes tokens (see `receive`). */
  private bucket: TokenBucket | null = null;
  /** Requests, statements and rows of this instance, for the benchmark (W7). */
  private readonly metered = new Meter();
  /** This object's SQL, metered: operations use it through `op()`. */
  private readonly sql: SqlStorage;
  /** Writes of concurrent requests share one commit. */
  private readonly commits: GroupCommit;
  /** The leases: one row per receive, mirrored in memory (see partition/leases.ts). */
  private readonly leases: Leases;
  /** Something may have become deliverable since the last group: waiters are served at the end of the group. */
  private mayDeliver = false;
  /** Operations' counts: one counter statement per group commit (see partition/counters.ts). */
  private readonly tally: Tally;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = this.metered.wrap(ctx.storage.sql);
    this.leases = new Leases(this.sql);
    this.depth = new Depth(ctx.storage.sql);
    this.tally = new Tally(this.sql);
    this.commits = new GroupCommit(ctx.storage, {
      // A group whose transaction failed left memory ahead of storage: count and scan again.
      onRollback: () => {
        this.depth.set(null);
        this.leases.reset();
        this.mayDeliver = true;
      },
      // One operation rolled back alone: the leases it may have changed in memory are read again
      // (not for a full queue's enqueue, which touches no lease and may be refused often).
      onOpRollback: (error) => {
        if (!(error instanceof QueueFull)) this.leases.reset();
      },
      settle: () => this.settleWaiters(),
      tally: this.tally,
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
    return { sql: this.sql, config: this.config, now, leases: this.leases, counts: this.tally };
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
   * Leases to waiting long-polls what can be delivered now, as a receive
   * would (see `leaseNow`), at the end of a group commit that may have made
   * something deliverable; answers the pushes to send once the group's
   * transaction has run. Free when no one waits (one in-memory
   * `getWebSockets()`). When the delivery rate holds ready messages back from
   * a waiter, the alarm is set for the next token, and the alarm serves it.
   */
  private settleWaiters(): (() => void) | null {
    if (!this.mayDeliver) return null;
    this.mayDeliver = false;
    if (!hasWaiters(this.ctx)) return null;
    const ctx = this.op(Date.now(), "internal");
    let swept = 0;
    let wakeAt = Infinity;
    const push = leaseToWaiters(this.ctx, (want, visibilityTimeoutMs) => {
      const got = this.leaseNow(ctx, want, visibilityTimeoutMs);
      swept += got.swept;
      if (got.messages.length > 0) wakeAt = Math.min(wakeAt, ctx.now + visibilityTimeoutMs);
      else if (got.nextDeliveryAt !== null && countReady(ctx, 1) > 0) wakeAt = Math.min(wakeAt, got.nextDeliveryAt);
      return { messages: got.messages, more: got.more };
    });
    if (push === null && swept === 0 && wakeAt === Infinity) return null;
    return () => {
      push?.();
      this.logDeadLettered(swept, "max_attempts", "lease expired");
      if (wakeAt !== Infinity) {
        this.wakeBy(wakeAt).catch((err) => logEvent("internal_error", { during: "alarm for waiters", error: String(err) }));
      }
    };
  }

  /** For operations outside the group commit: serves waiters in a group (and transaction) of its own. */
  private async pushToWaiters(): Promise<void> {
    if (!hasWaiters(this.ctx)) return;
    this.mayDeliver = true;
    await this.commits.run(() => undefined);
  }

  /** A long-poll waiter's WebSocket upgrade (the only thing this object serves over fetch). */
  override async fetch(request: Request): Promise<Response> {
    const ctx = this.op();
    const upgrade = acceptWaiter(this.ctx, request, ctx.now);
    if (!upgrade) return new Response("not found", { status: 404 });
    if ("response" in upgrade) return upgrade.response;
    // What is ready now goes to it at once: a one-partition long-poll comes here without receiving first.
    // The acks it brought run first, in the same group: one commit for both.
    let headers: Record<string, string> | undefined;
    try {
      if (upgrade.acks.length === 0) await this.pushToWaiters();
      else {
        this.mayDeliver = true;
        headers = { [ACKED_HEADER]: JSON.stringify(await this.acknowledge(ctx, upgrade.acks)) };
      }
    } catch (err) {
      endWait(upgrade.server); // nobody will hear this socket: never serve it
      throw err;
    }
    return new Response(null, { status: 101, webSocket: upgrade.client, headers });
  }

  /** A waiter only ever says that it stops waiting; the socket is closed after anything already pushed on it. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.metered.begin("request");
    if (message === DONE_MESSAGE) endWait(ws);
  }

  /** Nothing to hand on: a waiter holds nothing until a push, and a push is a lease of its own. */
  override async webSocketClose(): Promise<void> {
    this.metered.begin("request");
  }

  override async webSocketError(): Promise<void> {
    await this.webSocketClose();
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
    await this.pushToWaiters(); // a resumed queue, or a larger limit, may deliver again
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
    return this.store(this.op(), batch, reservation);
  }

  /**
   * Several enqueues that met in one worker isolate on their way here (see
   * worker/enqueue-line.ts), in one request: each is stored, or refused, as
   * `enqueue` alone would, in its own savepoint of one commit group. Answers
   * their outcomes in the order given. Without a maxDepth or a dedup id, no
   * batch can be refused alone: they are stored as one (one insert).
   */
  async enqueueAll(batches: EnqueueBatch[]): Promise<EnqueueOutcome[]> {
    if (this.deleted) return batches.map(() => ({ ok: false, code: "UNCONFIGURED" }));
    const ctx = this.op();
    if (limitShares(this.config, this.place).maxDepth === null && !batches.some((b) => b.dedup)) {
      const outcome = await this.store(ctx, joinBatches(batches));
      if (!outcome.ok) return batches.map(() => outcome);
      let at = 0;
      return batches.map((b) => ({ ok: true, results: outcome.results.slice(at, (at += b.count)) }));
    }
    return Promise.all(this.commits.together(() => batches.map((batch) => this.store(ctx, batch))));
  }

  private async store(ctx: OpContext, batch: EnqueueBatch, reservation?: string): Promise<EnqueueOutcome> {
    const maxDepth = limitShares(this.config, this.place).maxDepth;
    let full: QueueFull | null = null;
    let outcome: ReturnType<typeof enqueue> | "unconfigured" | undefined;
    try {
      // Depth is read inside the group, so that it counts the enqueues that ran before in it.
      outcome = await this.commits.run(() => {
        if (this.deleted) return "unconfigured" as const;
        // The batch's own reservation held its room until now; from here its rows count instead.
        if (reservation !== undefined) this.depth.release(reservation);
        const depth = maxDepth === null ? 0 : this.depth.used(ctx.now);
        const result = enqueue(ctx, batch);
        // Counted after the insert so that duplicates (which store nothing) do not count.
        if (maxDepth !== null && depth + result.stored > maxDepth) throw new QueueFull(depth); // rolls the batch back
        this.depth.add(result.stored);
        if (result.stored > 0) this.mayDeliver = true;
        return result;
      });
    } catch (err) {
      if (!(err instanceof QueueFull)) throw err;
      full = err;
    }
    if (outcome === "unconfigured") return { ok: false, code: "UNCONFIGURED" };
    if (full || !outcome) {
      return { ok: false, code: "QUEUE_FULL", depth: full?.depth ?? 0, maxDepth: maxDepth!, retryAfterMs: retryAfterFullMs(limitShares(this.config, this.place), batch.count) };
    }
    if (outcome.stored > 0) {
      await this.wakeBy(Math.min(outcome.earliestDueAt ?? Infinity, ctx.now + this.config.retentionMs));
    }
    return { ok: true, results: outcome.results };
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
      const depth = this.depth.used(now);
      if (depth + count > maxDepth) {
        return { ok: false, code: "QUEUE_FULL", depth, maxDepth, retryAfterMs: retryAfterFullMs(limitShares(this.config, this.place), count) };
      }
      return { ok: true, reservation: this.depth.reserve(count, now) };
    });
  }

  /** Gives back room held by `reserve` (another partition refused the batch). */
  async release(reservation: string): Promise<void> {
    this.depth.release(reservation);
  }

  /**
   * Leases up to `max` ready messages, fewer when the partition's share of
   * maxInFlight or of the delivery rate allows fewer. Paused: nothing.
   * `nextDeliveryAt` says when the rate allows the next lease (null when the
   * rate did not limit this receive).
   */
  async receive(max: number, visibilityTimeoutMs: number): Promise<ReceiveOutcome> {
    if (this.config.paused || this.deleted) return { messages: [], nextDeliveryAt: null };
    const ctx = this.op();
    const { messages, swept, nextDeliveryAt } = await this.commits.run(() => this.leaseNow(ctx, max, visibilityTimeoutMs));
    this.logDeadLettered(swept, "max_attempts", "lease expired");
    if (messages.length > 0) await this.wakeBy(ctx.now + visibilityTimeoutMs);
    return { messages, nextDeliveryAt };
  }

  /**
   * How many messages a receive could lease now, counting no further than
   * `limit` and within the partition's share of maxInFlight and of the
   * delivery rate: what the Worker asks every partition of a queue at once
   * before it leases from the ones that have some. A read, no commit. While
   * a lease has ended unswept it answers `limit` (the receive sweeps first).
   */
  async deliverable(limit: number): Promise<number> {
    if (this.config.paused || this.deleted) return 0;
    const ctx = this.op();
    const leaseEnds = this.leases.nextEnd;
    if (leaseEnds !== null && leaseEnds <= ctx.now) return limit;
    return countReady(ctx, this.allowance(ctx.now, limit).allowed);
  }

  /**
   * How many of `max` a lease may take now: `byRate` as the delivery-rate
   * bucket (refilled to now, not yet spent) allows, `allowed` also within
   * the partition's share of maxInFlight.
   */
  private allowance(now: number, max: number): { bucket: TokenBucket | null; byRate: number; allowed: number } {
    const shares = limitShares(this.config, this.place);
    const rate = shares.deliveryRatePerSec;
    const bucket = rate === null ? null : refill(this.bucket, rate, now);
    const byRate = bucket === null ? max : Math.min(max, Math.floor(bucket.tokens));
    const room = shares.maxInFlight === null ? byRate : Math.max(0, shares.maxInFlight - this.leases.inFlight);
    return { bucket, byRate, allowed: Math.min(byRate, room) };
  }

  /**
   * One lease, in the caller's transaction: what a receive does, and what a
   * push to a long-poll waiter does. Expired leases are swept first.
   *
   * The token bucket lives in memory and is saved in the lease's own
   * transaction whenever tokens are taken: no extra write or sync, and an
   * evicted or restarted partition does not hand out a fresh burst. The
   * bucket is refilled inside the group, so that leases in one group share
   * its tokens.
   */
  private leaseNow(
    ctx: OpContext,
    max: number,
    visibilityTimeoutMs: number,
  ): { messages: LeasedMessage[]; swept: number; nextDeliveryAt: number | null; more: boolean } {
    if (this.config.paused || this.deleted) return { messages: [], swept: 0, nextDeliveryAt: null, more: false };
    // Swept first: leases that ended no longer count against maxInFlight.
    const swept = sweepExpiredLeases(ctx).deadLettered;
    const { bucket, byRate, allowed } = this.allowance(ctx.now, max);
    const messages = receive(ctx, allowed, visibilityTimeoutMs);
    if (bucket !== null && messages.length > 0) {
      bucket.tokens -= messages.length;
      this.setMeta("bucket", bucket);
    }
    if (bucket !== null) this.bucket = bucket;
    this.depth.add(-swept);
    // The rate, not the lack of messages or of in-flight room, stopped this lease.
    const rateBound = bucket !== null && byRate < max && messages.length === allowed && allowed === byRate;
    const rate = limitShares(this.config, this.place).deliveryRatePerSec;
    return {
      messages,
      swept,
      nextDeliveryAt: rateBound ? nextTokenAt(bucket, rate!) : null,
      // Fewer than allowed: nothing else is ready now. As many: there may be more.
      more: messages.length > 0 && messages.length === allowed,
    };
  }

  /**
   * Gives leases back untouched (ready now, the attempt not counted): for a
   * receive whose consumer disconnected before it got the answer.
   */
  async releaseLeases(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const { outcomes } = await this.commits.run(() => {
      const released = releaseLeases(ctx, refs);
      if (released.released > 0) this.mayDeliver = true;
      return released;
    });
    return outcomes;
  }

  ack(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    return this.acknowledge(this.op(), refs);
  }

  /** Acks in the next group commit (for the ack RPC, and for the acks a waiter brings). */
  private async acknowledge(ctx: OpContext, refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    const outcomes = await this.commits.run(() => {
      const { outcomes, acked } = ack(ctx, refs);
      this.depth.add(-acked);
      if (acked > 0) this.mayDeliver = true; // the next of a group, or in-flight room
      return outcomes;
    });
    return outcomes;
  }

  async nack(refs: LeaseRef[], delayMs: number | null, error: string | null): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const result = await this.commits.run(() => {
      const nacked = nack(ctx, refs, delayMs, error);
      this.depth.add(-nacked.deadLettered);
      if (nacked.retried + nacked.deadLettered > 0) this.mayDeliver = true;
      return nacked;
    });
    this.logDeadLettered(result.deadLettered, "max_attempts", "nack");
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
    if (this.depth.counted) this.depth.set(s.ready + s.delayed + s.inFlight);
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
      const room = maxDepth === null ? null : maxDepth - this.depth.used(ctx.now);
      const moved = redrive(ctx, ids, room);
      this.depth.add(moved.redriven);
      if (moved.redriven > 0) this.mayDeliver = true;
      return moved;
    });
    if (result.redriven > 0) await this.wakeBy(ctx.now + this.config.retentionMs);
    return result;
  }

  /** Deletes ready and delayed messages; leased ones stay. Answers how many went. */
  async purge(): Promise<number> {
    const n = this.ctx.storage.transactionSync(() => purge(this.ctx.storage.sql, this.leases, Date.now()));
    this.depth.add(-n);
    return n;
  }

  /** One page of messages in `seq` order, without leasing any. */
  async peek(afterSeq: number, limit: number): Promise<{ messages: PeekedRow[]; next: number | null }> {
    return peek(this.ctx.storage.sql, this.leases, afterSeq, limit, Date.now());
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
    this.depth.clear();
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
    this.depth.add(-(swept.deadLettered + swept.expired));
    await this.pushToWaiters(); // delays, backoffs, expired leases and rate tokens that came due
    const next = nextDueAt(ctx);
    if (next !== null) await this.wakeBy(Math.max(next, ctx.now + 1));
  }
}
