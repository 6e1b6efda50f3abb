import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type DeadLetterReason, type QueueConfig } from "../client/protocol";
import { logEvent } from "./log";
import { ack } from "./partition/ack";
import { deleteDeadLetters, listDeadLetters, redrive } from "./partition/dead-letter";
import { enqueue } from "./partition/enqueue";
import { extend } from "./partition/extend";
import { nack } from "./partition/nack";
import { receive, } from "./partition/receive";
import { migrate } from "./partition/schema";
import { stats } from "./partition/stats";
import { nextDueAt, sweep, sweepExpiredLeases } from "./partition/sweep";
import type {
  EnqueueItem,
  EnqueuedItem,
  LeaseOutcome,
  LeaseRef,
  LeasedMessage,
  OpContext,
  PartitionStats,
  StoredDeadLetter,
} from "./partition/types";

/**
 * One partition of one queue. Every message of the partition lives in this
 * object's SQLite; every RPC method is one synchronous transaction, so each
 * request is one WAL sync and a 2xx means committed. The methods are thin:
 * each operation is a function of its own under `partition/`.
 *
 * RPC methods return results rather than throw: custom error properties do
 * not survive RPC.
 */
export class QueuePartition extends DurableObject<Env> {
  private config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG };
  /** The alarm as last set by this instance (null: none). Lets most operations skip setAlarm. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    let failure: unknown;
    ctx.blockConcurrencyWhile(async () => {
      try {
        migrate(ctx.storage);
        const stored = ctx.storage.sql
          .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'config'")
          .toArray()[0];
        if (stored) this.config = { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(stored.value) };
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

  private op(now = Date.now()): OpContext {
    return { sql: this.ctx.storage.sql, config: this.config, now };
  }

  /** Makes sure an alarm fires no later than `at`. */
  private async wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** Stores the queue's configuration; it applies from the next operation on. */
  async configure(config: QueueConfig): Promise<QueueConfig> {
    this.ctx.storage.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(config),
    );
    this.config = { ...config };
    // Retention or dedup window may have shrunk: let the alarm recompute.
    await this.wakeBy(nextDueAt(this.op()));
    return this.config;
  }

  async enqueue(items: EnqueueItem[]): Promise<EnqueuedItem[]> {
    const ctx = this.op();
    const { results, earliestDueAt, stored } = this.ctx.storage.transactionSync(() => enqueue(ctx, items));
    if (stored > 0) await this.wakeBy(Math.min(earliestDueAt ?? Infinity, ctx.now + this.config.retentionMs));
    return results;
  }

  async receive(max: number, visibilityTimeoutMs: number): Promise<LeasedMessage[]> {
    const ctx = this.op();
    if (this.config.paused) return [];
    const { leased, swept } = this.ctx.storage.transactionSync(() => {
      const swept = sweepExpiredLeases(ctx);
      return { leased: receive(ctx, max, visibilityTimeoutMs), swept };
    });
    this.logDeadLettered(swept.deadLettered, "max_attempts", "lease expired");
    if (leased.length > 0) await this.wakeBy(ctx.now + visibilityTimeoutMs);
    return leased;
  }

  async ack(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    return this.ctx.storage.transactionSync(() => ack(ctx, refs)).outcomes;
  }

  async nack(refs: LeaseRef[], delayMs: number | null, error: string | null): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const result = this.ctx.storage.transactionSync(() => nack(ctx, refs, delayMs, error));
    this.logDeadLettered(result.deadLettered, "max_attempts", "nack");
    await this.wakeBy(result.earliestDueAt);
    return result.outcomes;
  }

  async extend(refs: LeaseRef[], visibilityTimeoutMs: number): Promise<LeaseOutcome[]> {
    const ctx = this.op();
    const result = this.ctx.storage.transactionSync(() => extend(ctx, refs, visibilityTimeoutMs));
    return result.outcomes;
  }

  async stats(): Promise<PartitionStats> {
    return stats(this.op());
  }

  async deadLetters(afterSeq: number, limit: number): Promise<{ deadLetters: StoredDeadLetter[]; next: number | null }> {
    return listDeadLetters(this.ctx.storage.sql, afterSeq, limit);
  }

  async redrive(ids: string[] | null): Promise<number> {
    const ctx = this.op();
    const n = this.ctx.storage.transactionSync(() => redrive(ctx.sql, ids, ctx.now));
    if (n > 0) await this.wakeBy(ctx.now + this.config.retentionMs);
    return n;
  }

  async deleteDeadLetters(ids: string[] | null): Promise<number> {
    return this.ctx.storage.transactionSync(() => deleteDeadLetters(this.ctx.storage.sql, ids));
  }

  /** Time-based work: expired leases, retention, dedup and counter windows; then the next alarm. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const ctx = this.op();
    const swept = this.ctx.storage.transactionSync(() => sweep(ctx));
    this.logDeadLettered(swept.deadLettered, "max_attempts", "lease expired");
    this.logDeadLettered(swept.expired, "expired", "retention");
    const next = nextDueAt(ctx);
    if (next !== null) await this.wakeBy(Math.max(next, ctx.now + 1));
  }
}
