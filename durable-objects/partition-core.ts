import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type DeadLetterReason, type QueueConfig } from "../client/protocol";
import { logEvent } from "./log";
import { Tally } from "./partition/counters";
import { ConsumeStreams } from "./partition/consume-streams";
import { deliver, type Delivery, type DeliveryLimits } from "./partition/deliver";
import { Depth } from "./partition/depth";
import { Effects } from "./partition/effects";
import { GroupCommit } from "./partition/group-commit";
import { Leases } from "./partition/leases";
import { limitShares, type PartitionPlace, type TokenBucket } from "./partition/limits";
import { readMeta } from "./partition/meta";
import { PUSH_PAUSED_UNTIL } from "./partition/push-settle";
import { countReady } from "./partition/receive";
import { orphanedOwners } from "./partition/reclaim";
import { migrate } from "./partition/schema";
import { streamTakers } from "./partition/streams";
import { serveTakers } from "./partition/takers";
import type { OpContext } from "./partition/types";
import { hasWaiters, waiterTakers } from "./partition/waiters";
import { PushPump } from "./push/pump";
import type { PushSecrets } from "./push/settings";

/** Thrown inside an enqueue's savepoint to roll back a batch the partition has no room for. */
export class QueueFull extends Error {
  constructor(readonly depth: number) {
    super("queue full");
  }
}

/** What started an operation: a request, the alarm, or the partition itself (serving waiters). */
export type OperationKind = "request" | "alarm" | "internal";

/**
 * The machinery every operation of a queue partition runs on: the state it
 * keeps in memory beside its SQLite, the group commit, and what happens at
 * the end of each group. QueuePartition (queue-partition.ts) is the object's
 * surface: its RPC methods, sockets and alarm, each a thin call of an
 * operation under `partition/` through `run`.
 *
 * Every message of the partition lives in this object's SQLite; every write
 * is one synchronous transaction (a savepoint in a group commit that
 * concurrent requests share, see partition/group-commit.ts), and a 2xx means
 * committed. Operations report what they changed beyond their rows
 * (`Effects`): the depth kept for maxDepth, that something may be
 * deliverable, when the alarm must fire, what became a dead letter. `apply`
 * takes them in once an operation's savepoint has committed; at the end of
 * each group the partition serves waiting long-polls and consume streams (in
 * the group's transaction), then sets the alarm and logs dead letters.
 */
export abstract class PartitionCore extends DurableObject<Env> {
  protected config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG };
  /** The registry version of `config`; 0 before the first configure. A push older than this is ignored. */
  protected version = 0;
  protected place: PartitionPlace = { index: 0, partitions: 1 };
  /** Set when the queue was deleted: enqueues are refused until the partition is configured again. */
  protected deleted = false;
  /** The alarm as last set by this instance (null: none). Lets most operations skip setAlarm. */
  protected alarmAt: number | null = null;
  /** Messages stored and room reserved, for maxDepth (see partition/depth.ts). */
  protected readonly depth: Depth;
  /** The delivery-rate bucket; also saved with each lease that takes tokens (see partition/deliver.ts). */
  protected bucket: TokenBucket | null = null;
  /** The SQL operations run on (see `sqlStorage`). */
  private readonly sql: SqlStorage;
  /** Writes of concurrent requests share one commit. */
  private readonly commits: GroupCommit;
  /** The leases: one row per receive, mirrored in memory (see partition/leases.ts). */
  protected readonly leases: Leases;
  /** Operations' counts: one counter statement per group commit (see partition/counters.ts). */
  private readonly tally: Tally;
  /** Something may have become deliverable since the last group: waiters are served at the end of the group. */
  private mayDeliver = false;
  /** The earliest alarm the group's operations asked for; set once the group's transaction has run. */
  private wakeAfterGroup: number | null = null;
  /** Dead letters of the group's operations; logged once the group's transaction has run. */
  private deadLetteredInGroup: Effects["deadLettered"] = [];
  /** Consume streams: their upgrade, frames and end (see partition/consume-streams.ts). */
  protected readonly streams: ConsumeStreams;
  /** Push delivery's header values and signing secrets, as the registry last sent them (null: none). */
  protected pushSecrets: PushSecrets | null = null;
  /** Until when a 429 or 503 with Retry-After holds push back (null: it does not). Persisted. */
  protected pushPausedUntil: number | null = null;
  /** The push loop; runs inside the alarm (see push/pump.ts). */
  protected readonly pump = new PushPump();
  /** The alarm handler is running: a change that may make a push due is left to it. */
  protected inAlarm = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = this.sqlStorage();
    this.leases = new Leases(this.sql);
    this.depth = new Depth(ctx.storage.sql);
    this.tally = new Tally(this.sql);
    this.streams = new ConsumeStreams({
      state: ctx,
      run: (operation) => this.run(operation),
      place: () => ({ queue: this.names()[0], partitions: this.place.partitions }),
    });
    this.commits = new GroupCommit(ctx.storage, {
      // A group whose transaction failed left memory ahead of storage: count and scan again.
      onRollback: () => {
        this.depth.set(null);
        this.leases.reset();
        this.mayDeliver = true;
        this.deadLetteredInGroup = [];
      },
      // One operation rolled back alone: the leases it may have changed in memory are read again
      // (not for a full queue's enqueue, which touches no lease and may be refused often).
      onOpRollback: (error) => {
        if (!(error instanceof QueueFull)) this.leases.reset();
      },
      settle: () => this.endGroup(),
      tally: this.tally,
    });
    // A consumer's keep-alive is answered by the runtime, without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    let failure: unknown;
    ctx.blockConcurrencyWhile(async () => {
      try {
        migrate(ctx.storage);
        this.loadMeta();
        this.alarmAt = await ctx.storage.getAlarm();
        // Streams whose sockets went with the last instance (a restart calls no close handler): the alarm gives their leases back now.
        if (orphanedOwners(this.context(Date.now()), this.streams.live()).length > 0) await this.wakeBy(Date.now());
      } catch (err) {
        failure = err;
      }
    });
    // Rethrown outside blockConcurrencyWhile so the input gate is not left broken.
    if (failure) throw failure;
  }

  /** The SQL the operations run on: the object's own. A subclass may wrap it (the bench's meter). */
  protected sqlStorage(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** Called as each request, alarm or internal operation starts; nothing here (the bench's meter counts them). */
  protected onOperation(_kind: OperationKind): void {}

  private loadMeta(): void {
    const meta = readMeta(this.ctx.storage.sql, ["config", "version", "place", "deleted", "bucket", "pushSecrets", PUSH_PAUSED_UNTIL]);
    this.config = { ...DEFAULT_QUEUE_CONFIG, ...((meta.get("config") as Partial<QueueConfig>) ?? {}) };
    this.version = (meta.get("version") as number) ?? 0;
    this.place = (meta.get("place") as PartitionPlace) ?? { index: 0, partitions: 1 };
    this.deleted = meta.get("deleted") === true;
    this.bucket = (meta.get("bucket") as TokenBucket) ?? null;
    this.pushSecrets = (meta.get("pushSecrets") as PushSecrets) ?? null;
    this.pushPausedUntil = (meta.get(PUSH_PAUSED_UNTIL) as number) ?? null;
  }

  protected context(now: number): OpContext {
    return { sql: this.sql, config: this.config, now, leases: this.leases, counts: this.tally, effects: new Effects() };
  }

  /**
   * Runs a storage operation in the next group commit. Its effects are
   * applied once it has succeeded; one that throws is rolled back alone
   * and leaves none.
   */
  protected run<T>(operation: (ctx: OpContext) => T, kind: OperationKind = "request"): Promise<T> {
    const now = Date.now();
    this.onOperation(kind);
    return this.commits.run(() => {
      const ctx = this.context(now);
      const result = operation(ctx);
      this.apply(ctx.effects);
      return result;
    });
  }

  /** The one place an operation's effects are taken in. */
  private apply(effects: Effects): void {
    this.depth.add(effects.depthDelta);
    if (effects.deliverable) this.mayDeliver = true;
    if (effects.wakeAt !== null) this.wakeAfterGroup = Math.min(this.wakeAfterGroup ?? Infinity, effects.wakeAt);
    this.deadLetteredInGroup.push(...effects.deadLettered);
  }

  /**
   * The end of a group commit, in its transaction: waiting long-polls get
   * what became deliverable. Answers what to do once the transaction has
   * run (still before the commit, whose output gate holds what it sends):
   * the pushes, the alarm, the log lines.
   */
  private endGroup(): (() => void) | null {
    const push = this.mayDeliver ? this.serveWaiters() : null;
    const pushDue = this.mayDeliver && this.config.push !== null && this.delivering;
    this.mayDeliver = false;
    if (pushDue) {
      // A running pump leases again at once; else the alarm pushes (unless it is running, and will look).
      this.pump.poke();
      if (!this.pump.running && !this.inAlarm) this.wakeAfterGroup = Math.min(this.wakeAfterGroup ?? Infinity, Date.now());
    }
    const wakeAt = this.wakeAfterGroup;
    const deadLettered = this.deadLetteredInGroup;
    this.wakeAfterGroup = null;
    this.deadLetteredInGroup = [];
    if (push === null && wakeAt === null && deadLettered.length === 0) return null;
    return () => {
      push?.();
      for (const d of deadLettered) this.logDeadLettered(d);
      if (wakeAt !== null) {
        this.wakeBy(wakeAt).catch((err) => logEvent("internal_error", { during: "setting the alarm", error: String(err) }));
      }
    };
  }

  /**
   * Leases to waiting long-polls and to consume streams with credit what can
   * be delivered now, as a receive would, the longest waiting first; free
   * when no consumer has a socket (one in-memory `getWebSockets()`). When
   * the delivery rate holds ready messages back, the alarm is set for the
   * next token, and the alarm serves them. A stream whose token has expired
   * is closed here, its leases given back.
   */
  private serveWaiters(): (() => void) | null {
    if (!hasWaiters(this.ctx) || !this.delivering || this.config.push !== null) return null;
    this.onOperation("internal");
    const ctx = this.context(Date.now());
    this.streams.endExpired(ctx);
    const takers = [...waiterTakers(this.ctx), ...streamTakers(this.ctx, this.leases, ctx.now)];
    const push = serveTakers(takers, (want, visibilityTimeoutMs, owner) => {
      const got = this.lease(ctx, want, visibilityTimeoutMs, owner);
      if (got.messages.length === 0 && got.nextDeliveryAt !== null && countReady(ctx, 1) > 0) ctx.effects.dueAt(got.nextDeliveryAt);
      return got;
    });
    this.apply(ctx.effects);
    return push;
  }

  /** Serves waiters in a group of its own, for a change made outside the group commit. */
  protected async serveWaitersNow(): Promise<void> {
    if (hasWaiters(this.ctx)) await this.run((ctx) => ctx.effects.mayDeliver(), "internal");
  }

  protected get delivering(): boolean {
    return !this.config.paused && !this.deleted;
  }

  protected get shares() {
    return limitShares(this.config, this.place);
  }

  protected deliveryLimits(): DeliveryLimits {
    const { maxInFlight, deliveryRatePerSec } = this.shares;
    return { maxInFlight, deliveryRatePerSec, bucket: this.bucket };
  }

  /** One delivery through the core (partition/deliver.ts), in the caller's transaction; nothing while paused. */
  protected lease(ctx: OpContext, max: number, visibilityTimeoutMs: number, owner: string | null = null): Delivery {
    if (!this.delivering) return { messages: [], nextDeliveryAt: null, more: false, bucket: null };
    const got = deliver(ctx, this.deliveryLimits(), max, visibilityTimeoutMs, owner);
    if (got.bucket !== null) this.bucket = got.bucket;
    return got;
  }

  /** Makes sure an alarm fires no later than `at`. */
  protected async wakeBy(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** One log line per batch that ran out of attempts or retention, never one per message. */
  private logDeadLettered({ count, reason, cause }: { count: number; reason: DeadLetterReason; cause: string }): void {
    const [queue, partition] = this.names();
    logEvent("dead_lettered", { queue, partition, count, reason, cause });
  }

  /** The queue and the index of this partition, from its name (`<queue>/<index>`, as the worker names it). */
  private names(): [queue: string, partition: number] {
    const [queue, partition] = (this.ctx.id.name ?? this.ctx.id.toString()).split("/");
    return [queue, Number(partition ?? 0)];
  }

  /** The queue's name (the worker names each partition `<queue>/<index>`). */
  protected get queueName(): string {
    return this.names()[0];
  }
}
