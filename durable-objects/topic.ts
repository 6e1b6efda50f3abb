import { DurableObject } from "cloudflare:workers";
import {
  DEFAULT_TOPIC_CONFIG,
  type RpcResult,
  type SendMessage,
  type SendResponse,
  type TopicConfigPatch,
  type TopicInfo,
  type TopicStats,
} from "../client/protocol";
import { logEvent, logEventThrottled } from "./log";
import { GroupCommit } from "./partition/group-commit";
import { readMeta, writeMeta } from "./partition/meta";
import { setSubscriptions, subscriptionsOf } from "./topic/configure";
import { delivered, failed, fanOutWindowMs, nextBatch, prune, type Batch } from "./topic/fan-out";
import { publish } from "./topic/publish";
import { migrate } from "./topic/schema";
import { topicStats } from "./topic/stats";
import { readSubs, subOf, type PublishOutcome, type Sub, type TopicItem } from "./topic/types";

/** What the topic keeps besides its subscriptions. */
interface TopicMeta {
  name: string;
  dedupWindowMs: number;
  createdAt: number;
}

/**
 * How long one alarm delivers, and how many calls it makes to queues, before
 * it hands over to the next alarm: an invocation has a wall-clock limit and a
 * limit of subrequests (each delivery is one).
 */
const ALARM_BUDGET = { ms: 30_000, calls: 500 };

/**
 * One topic: an outbox in SQLite and its subscriptions. A publish is stored
 * in the transaction that answers 201 (a group commit shared by concurrent
 * publishes, as the partition's); the alarm then copies each message to the
 * queue of every subscription whose filter took it, through the Worker's
 * own EdgeqService (`ctx.exports`), with retries and backoff. Nothing waits
 * in memory: a runtime that dies mid fan-out leaves the outbox and each
 * subscription's cursor as committed, and the next alarm goes on from there
 * (alarms are at least once; each copy's dedup id makes a repeat store
 * nothing, see topic/fan-out.ts).
 *
 * The subscriptions and the settings live here (the registry only lists
 * topic names), so a publish is matched against them in its own transaction.
 * RPC methods return results rather than throw.
 */
export class Topic extends DurableObject<Env> {
  /** Null when the topic is not configured (never created, or deleted). */
  private meta: TopicMeta | null = null;
  /** The subscriptions in their order; replaced whole on every change. */
  private subs = new Map<string, Sub>();
  /** The highest seq stored (0: none yet). */
  private lastSeq = 0;
  /** The alarm as last set by this instance (null: none). Lets most publishes skip setAlarm. */
  private alarmAt: number | null = null;
  private readonly commits: GroupCommit;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // A group whose transaction failed left memory ahead of storage: read it again.
    this.commits = new GroupCommit(ctx.storage, { onRollback: () => this.load() });
    let failure: unknown;
    ctx.blockConcurrencyWhile(async () => {
      try {
        migrate(ctx.storage);
        this.load();
        this.alarmAt = await ctx.storage.getAlarm();
        // An outbox with work and no alarm (one that could not be set): the fan-out goes on.
        if (this.alarmAt === null) await this.wakeBy(this.nextDueAt(Date.now())).catch(() => {});
      } catch (err) {
        failure = err;
      }
    });
    // Rethrown outside blockConcurrencyWhile so the input gate is not left broken.
    if (failure) throw failure;
  }

  private load(): void {
    const sql = this.ctx.storage.sql;
    this.meta = (readMeta(sql, ["topic"]).get("topic") as TopicMeta | undefined) ?? null;
    this.subs = new Map(readSubs(sql).map((r) => [r.queue, subOf(r)]));
    this.lastSeq = sql.exec<{ last: number | null }>("SELECT MAX(seq) AS last FROM messages").one().last ?? 0;
  }

  private info(meta: TopicMeta): TopicInfo {
    return {
      name: meta.name,
      config: { subscriptions: subscriptionsOf([...this.subs.values()]), dedupWindowMs: meta.dedupWindowMs },
      createdAt: meta.createdAt,
    };
  }

  /**
   * Creates the topic or changes its settings (those not given keep their
   * value, or take the default). Values are already checked by the Worker.
   */
  async configure(name: string, patch: TopicConfigPatch): Promise<{ topic: TopicInfo; created: boolean }> {
    return this.commits.run(() => {
      const sql = this.ctx.storage.sql;
      const now = Date.now();
      const created = this.meta === null;
      const meta: TopicMeta = {
        name,
        dedupWindowMs: patch.dedupWindowMs ?? this.meta?.dedupWindowMs ?? DEFAULT_TOPIC_CONFIG.dedupWindowMs,
        createdAt: this.meta?.createdAt ?? now,
      };
      writeMeta(sql, "topic", meta);
      const subs = patch.subscriptions === undefined ? null : setSubscriptions(sql, patch.subscriptions, now);
      // Memory follows once nothing can throw any more.
      this.meta = meta;
      if (subs !== null) this.subs = new Map(subs.map((s) => [s.queue, s]));
      return { topic: this.info(meta), created };
    });
  }

  /** The topic's settings; null when it does not exist. */
  async describe(): Promise<TopicInfo | null> {
    return this.meta === null ? null : this.info(this.meta);
  }

  /** Stores messages (JSON text of `TopicItem[]`) in the outbox, all or nothing; the alarm fans them out. */
  async publish(itemsJson: string): Promise<PublishOutcome> {
    const outcome = await this.commits.run((): PublishOutcome => {
      if (this.meta === null) return { ok: false, code: "TOPIC_NOT_FOUND" };
      const items = JSON.parse(itemsJson) as TopicItem[];
      const { results, lastSeq } = publish(this.ctx.storage.sql, Date.now(), [...this.subs.values()], this.meta.dedupWindowMs, items);
      if (lastSeq !== null) this.lastSeq = lastSeq;
      return { ok: true, results };
    });
    // Stored whatever happens next: an alarm that cannot be set now is set by the next publish or start.
    if (outcome.ok) await this.wakeBy(this.nextDueAt(Date.now())).catch(() => {});
    return outcome;
  }

  /** The topic's figures; null when it does not exist. */
  async stats(): Promise<TopicStats | null> {
    return this.meta === null ? null : topicStats(this.ctx.storage.sql, Date.now());
  }

  /**
   * Deletes the topic: its settings, its subscriptions and its outbox (as
   * deleting a queue deletes its messages; the subscribed queues keep what
   * they already have). Answers whether there was a topic.
   */
  async destroy(): Promise<boolean> {
    const existed = this.meta !== null;
    // First, so that publishes refuse and a running fan-out stops at its next step.
    this.meta = null;
    this.subs = new Map();
    this.lastSeq = 0;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage);
    this.load();
    this.alarmAt = null;
    return existed;
  }

  /**
   * Hands a batch to a queue: EdgeqService.forward through the Worker's own
   * entrypoint (`ctx.exports`), as any producer's send, with each message's
   * dedup id kept for `minDedupWindowMs`.
   */
  protected forward(queue: string, messages: SendMessage[], minDedupWindowMs: number): Promise<RpcResult<SendResponse>> {
    return this.ctx.exports.EdgeqService.forward(queue, messages, minDedupWindowMs) as Promise<RpcResult<SendResponse>>;
  }

  /** Fan-out: every subscription delivers what it has, on its own, within ALARM_BUDGET; then the next alarm. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    if (this.meta === null) return;
    const budget = { until: Date.now() + ALARM_BUDGET.ms, calls: ALARM_BUDGET.calls };
    this.ctx.storage.sql.exec("DELETE FROM dedup WHERE expires_at <= ?", Date.now());
    await Promise.all([...this.subs.values()].map((sub) => this.deliverAll(sub.queue, budget)));
    await this.wakeBy(this.nextDueAt(Date.now()));
  }

  /** Delivers one subscription's batches until it has passed everything, fails, is removed, or the budget is spent. */
  private async deliverAll(queue: string, budget: { until: number; calls: number }): Promise<void> {
    const topic = this.meta!.name;
    for (;;) {
      const sub = this.subs.get(queue);
      const now = Date.now();
      if (sub === undefined || now >= budget.until || budget.calls <= 0 || (sub.retryAt !== null && sub.retryAt > now)) return;
      const batch = nextBatch(this.ctx.storage.sql, topic, sub, now);
      if (batch === null) return;
      if (batch.messages.length === 0) {
        await this.settle(sub, batch, null);
        continue;
      }
      let error: { code: string; message: string } | null;
      budget.calls -= 1;
      try {
        const answer = await this.forward(queue, batch.messages, fanOutWindowMs(sub, now));
        error = "error" in answer ? answer.error : null;
      } catch (err) {
        // The outcome is unknown: the copies may be stored. The retry's dedup ids will say.
        error = { code: "UNAVAILABLE", message: String(err).slice(0, 200) };
      }
      if (!(await this.settle(sub, batch, error))) return;
    }
  }

  /**
   * Records a delivery's outcome in one transaction: the cursor moves and
   * the outbox is pruned, or the failure is recorded (see `failed`).
   * Nothing when the subscription was removed or replaced meanwhile.
   * Answers whether it may go on at once.
   */
  private async settle(sub: Sub, batch: Batch, error: { code: string; message: string } | null): Promise<boolean> {
    const topic = this.meta?.name;
    return this.commits.run(() => {
      if (this.subs.get(sub.queue) !== sub) return false;
      const sql = this.ctx.storage.sql;
      const now = Date.now();
      const next = error === null ? delivered(sql, sub, batch) : failed(sql, sub, error, batch.messages.length, now);
      const subs = new Map(this.subs).set(sub.queue, next);
      if (error === null) prune(sql, subs.values());
      this.subs = subs;
      if (error !== null && next.retryAt !== null) {
        logEventThrottled(`topic_delivery_failed:${topic}:${sub.queue}`, "topic_delivery_failed", {
          topic,
          queue: sub.queue,
          failures: next.failures,
          error: `${error.code}: ${error.message}`,
        });
      }
      // A refused batch that shrank is tried again at once; any other failure waits for its retry.
      return next.retryAt === null;
    });
  }

  /** When the alarm must next fire: now for a subscription with something to deliver, its retry time for one that failed. */
  private nextDueAt(now: number): number | null {
    let due: number | null = null;
    for (const sub of this.subs.values()) {
      if (sub.cursor >= this.lastSeq) continue;
      const at = Math.max(sub.retryAt ?? now, now);
      if (due === null || at < due) due = at;
    }
    return due;
  }

  /** Makes sure an alarm fires no later than `at`. */
  private async wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    try {
      await this.ctx.storage.setAlarm(at);
    } catch (err) {
      this.alarmAt = null;
      logEvent("internal_error", { during: "setting the topic's alarm", error: String(err) });
      throw err;
    }
  }
}
