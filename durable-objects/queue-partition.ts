import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type RpcResult, type SendMessage, type SendResponse } from "../client/protocol";
import {
  ACKED_HEADER,
  DONE_MESSAGE,
  type EnqueueBatch,
  type EnqueueOutcome,
  type LeaseOutcome,
  type LeaseRef,
  type PartitionStats,
  type PeekedRow,
  type ReceiveOutcome,
  type ReserveOutcome,
  type StoredDeadLetter,
} from "./contract";
import { logEvent } from "./log";
import { runOutbox, type OutboxHost } from "./outbox";
import { PartitionCore, QueueFull } from "./partition-core";
import { ack } from "./partition/ack";
import { STREAM_CLOSE } from "./partition/consume-streams";
import { deleteDeadLetters, listDeadLetters, redrive } from "./partition/dead-letter";
import { allowance } from "./partition/deliver";
import { enqueue } from "./partition/enqueue";
import { extend } from "./partition/extend";
import { retryAfterFullMs } from "./partition/limits";
import { deleteMeta, writeMeta } from "./partition/meta";
import { cancelMoveTask, listMoveTasks, startMoveTask, type MoveTask } from "./partition/move-tasks";
import { nack } from "./partition/nack";
import { peek } from "./partition/peek";
import { purge } from "./partition/purge";
import { leasePushBatches, PUSH_LEASE_GRACE_MS } from "./partition/push-lease";
import { PUSH_PAUSED_UNTIL, settlePush } from "./partition/push-settle";
import { countReady } from "./partition/receive";
import { giveBack, orphanedOwners } from "./partition/reclaim";
import { release as releaseLeases } from "./partition/release";
import { migrate } from "./partition/schema";
import { stats } from "./partition/stats";
import { acceptStream, streamStateOf } from "./partition/streams";
import { nextDueAt, sweep } from "./partition/sweep";
import { acceptWaiter, endWait, endWaitsOfDeletedQueue } from "./partition/waiters";
import type { PushBatch } from "./push/batch";
import { sendBatch } from "./push/send";
import type { PushSecrets } from "./push/settings";

export type { OperationKind } from "./partition-core";

/**
 * One partition of one queue: its RPC methods, its sockets (long-poll
 * waiters and consume streams) and its alarm. The methods are thin: each
 * operation is a function of its own under `partition/`, run in the group
 * commit by `run` (partition-core.ts, which holds the machinery and the
 * state).
 *
 * RPC methods return results rather than throw: custom error properties do
 * not survive RPC.
 */
export class QueuePartition extends PartitionCore {
  /**
   * Hands messages to another queue: EdgeqService.forward through the
   * Worker's own entrypoint (`ctx.exports`), as any producer's send, each
   * message's dedup id kept for `minDedupWindowMs`. Tests may stand in for it.
   */
  protected forward(queue: string, messages: SendMessage[], minDedupWindowMs: number): Promise<RpcResult<SendResponse>> {
    return this.ctx.exports.EdgeqService.forward(queue, messages, minDedupWindowMs) as Promise<RpcResult<SendResponse>>;
  }

  /** What the outbox (durable-objects/outbox.ts) needs of this partition. */
  private outboxHost(): OutboxHost {
    return {
      queue: this.queueName,
      sql: this.ctx.storage.sql,
      run: (operation) => this.run(operation, "alarm"),
      lease: (ctx, max, visibilityTimeoutMs) => this.lease(ctx, max, visibilityTimeoutMs).messages,
      forward: (queue, messages, windowMs) => this.forward(queue, messages, windowMs),
    };
  }

  /** A consume stream's or a long-poll waiter's WebSocket upgrade (the only things this object serves over fetch). */
  override async fetch(request: Request): Promise<Response> {
    const stream = acceptStream(this.ctx, request, Date.now(), this.config.visibilityTimeoutMs);
    if (stream) return "response" in stream ? stream.response : this.streams.open(stream.client, stream.server, stream.state);
    const upgrade = acceptWaiter(this.ctx, request, Date.now());
    if (!upgrade) return new Response("not found", { status: 404 });
    if ("response" in upgrade) return upgrade.response;
    // What is ready now goes to it at once, in the group that acks what it brought: one commit for both.
    let outcomes: LeaseOutcome[];
    try {
      outcomes = await this.run((ctx) => {
        ctx.effects.mayDeliver();
        return upgrade.acks.length === 0 ? [] : ack(ctx, upgrade.acks);
      });
    } catch (err) {
      endWait(upgrade.server); // nobody will hear this socket: never serve it
      throw err;
    }
    const headers = upgrade.acks.length === 0 ? undefined : { [ACKED_HEADER]: JSON.stringify(outcomes) };
    return new Response(null, { status: 101, webSocket: upgrade.client, headers });
  }

  /**
   * A frame of a consume stream; or a waiter's, which only ever says that
   * it stops waiting (the socket is closed after anything already pushed on it).
   */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.onOperation("request");
    const stream = streamStateOf(ws);
    if (stream) return this.streams.frame(ws, stream, message);
    if (message === DONE_MESSAGE) endWait(ws);
  }

  /**
   * A consume stream that closes gives back at once what it holds (a failed
   * attempt each). A waiter has nothing to hand on: it holds nothing until a
   * push, and a push is a lease of its own.
   */
  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.onOperation("request");
    await this.streams.end(ws, true);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws);
  }

  /**
   * Stores the queue's configuration; it applies from the next operation on.
   * `version` is the registry's: a push older than the stored one (two
   * changes whose pushes crossed) is ignored. `index` is this partition's
   * place among the queue's partitions, which sets its share of the limits.
   */
  async configure(
    config: QueueConfig,
    version = this.version + 1,
    index = this.place.index,
    pushSecrets: PushSecrets | null | undefined = undefined,
  ): Promise<QueueConfig> {
    if (version < this.version) return this.config;
    const wasPaused = this.config.paused;
    const partitionsBefore = this.place.partitions;
    const place = { index, partitions: config.partitions };
    const sql = this.ctx.storage.sql;
    const secrets = pushSecrets === undefined ? this.pushSecrets : pushSecrets;
    // A Retry-After was the old target's word: a new target starts unpaused.
    const target = (c: QueueConfig) => JSON.stringify([c.push?.url, c.push?.service]);
    const keepPause = config.push !== null && target(config) === target(this.config);
    this.ctx.storage.transactionSync(() => {
      writeMeta(sql, "config", config);
      writeMeta(sql, "version", version);
      writeMeta(sql, "place", place);
      deleteMeta(sql, "deleted");
      if (secrets === null) deleteMeta(sql, "pushSecrets");
      else writeMeta(sql, "pushSecrets", secrets);
      if (!keepPause) deleteMeta(sql, PUSH_PAUSED_UNTIL);
    });
    this.config = { ...config };
    this.version = version;
    this.place = place;
    this.deleted = false;
    this.pushSecrets = secrets;
    if (!keepPause) this.pushPausedUntil = null;
    if (config.push !== null) {
      // A queue that pushes is not pulled from: its streams end, what they held goes back to be pushed.
      const owners = this.streams.closeAll(STREAM_CLOSE.queuePushes, "queue pushes");
      if (owners.length > 0) await this.run((ctx) => giveBack(ctx, owners));
    } else if (config.partitions !== partitionsBefore) {
      this.streams.tellPartitions(config.partitions);
    }
    await this.serveWaitersNow(); // a resumed queue, or a larger limit, may deliver again
    // Retention or dedup window may have shrunk: let the alarm recompute. A
    // resumed queue fires it at once, which is what wakes waiting receives,
    // and so does a queue that pushes (its alarm pushes what is ready).
    const pushNow = config.push !== null && this.delivering;
    await this.wakeBy((wasPaused && !config.paused) || pushNow ? Date.now() : nextDueAt(this.context(Date.now())));
    return this.config;
  }

  /**
   * Stores a batch, all or nothing. Refused whole when the partition was
   * deleted (the caller's view of the queue is stale) or when the batch
   * would take the partition past its share of maxDepth.
   */
  async enqueue(batch: EnqueueBatch, reservation?: string): Promise<EnqueueOutcome> {
    if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
    const maxDepth = this.shares.maxDepth;
    try {
      // Depth is read inside the group, so that it counts the enqueues that ran before in it.
      return await this.run((ctx): EnqueueOutcome => {
        if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
        // The batch's own reservation held its room until now; from here its rows count instead.
        if (reservation !== undefined) this.depth.release(reservation);
        const depth = maxDepth === null ? 0 : this.depth.used(ctx.now);
        const { results, stored } = enqueue(ctx, batch);
        // Counted after the insert so that duplicates (which store nothing) do not count.
        if (maxDepth !== null && depth + stored > maxDepth) throw new QueueFull(depth); // rolls the batch back
        return { ok: true, results };
      });
    } catch (err) {
      if (!(err instanceof QueueFull)) throw err;
      return { ok: false, code: "QUEUE_FULL", depth: err.depth, maxDepth: maxDepth!, retryAfterMs: retryAfterFullMs(this.shares, batch.count) };
    }
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
    const maxDepth = this.shares.maxDepth;
    if (maxDepth === null) return { ok: true, reservation: null };
    // In the commit group, after the enqueues queued before it, so that it counts them.
    return this.run((ctx): ReserveOutcome => {
      if (this.deleted) return { ok: false, code: "UNCONFIGURED" };
      const depth = this.depth.used(ctx.now);
      if (depth + count > maxDepth) {
        return { ok: false, code: "QUEUE_FULL", depth, maxDepth, retryAfterMs: retryAfterFullMs(this.shares, count) };
      }
      return { ok: true, reservation: this.depth.reserve(count, ctx.now) };
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
    if (this.config.push !== null) return { messages: [], nextDeliveryAt: null, pushes: true };
    if (!this.delivering) return { messages: [], nextDeliveryAt: null };
    const { messages, nextDeliveryAt } = await this.run((ctx) => this.lease(ctx, max, visibilityTimeoutMs));
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
    if (!this.delivering || this.config.push !== null) return 0;
    this.onOperation("request");
    const ctx = this.context(Date.now());
    const leaseEnds = this.leases.nextEnd;
    if (leaseEnds !== null && leaseEnds <= ctx.now) return limit;
    return countReady(ctx, allowance(this.deliveryLimits(), this.leases.inFlight, ctx.now, limit).allowed);
  }

  /**
   * Gives leases back untouched (ready now, the attempt not counted): for a
   * receive whose consumer disconnected before it got the answer.
   */
  releaseLeases(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    return this.run((ctx) => releaseLeases(ctx, refs));
  }

  ack(refs: LeaseRef[]): Promise<LeaseOutcome[]> {
    return this.run((ctx) => ack(ctx, refs));
  }

  nack(refs: LeaseRef[], delayMs: number | null, error: string | null): Promise<LeaseOutcome[]> {
    return this.run((ctx) => nack(ctx, refs, delayMs, error));
  }

  extend(refs: LeaseRef[], visibilityTimeoutMs: number): Promise<LeaseOutcome[]> {
    return this.run((ctx) => extend(ctx, refs, visibilityTimeoutMs));
  }

  async stats(): Promise<PartitionStats> {
    this.onOperation("request");
    const now = Date.now();
    const s = stats(this.context(now));
    if (this.config.push !== null) {
      s.push = { pausedUntil: this.pushPausedUntil !== null && this.pushPausedUntil > now ? this.pushPausedUntil : null };
    }
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
  redrive(ids: string[] | null): Promise<{ redriven: number; remaining: number }> {
    const maxDepth = this.shares.maxDepth;
    // In the commit group, after the enqueues queued before it, so that the room counts them.
    return this.run((ctx) => redrive(ctx, ids, maxDepth === null ? null : maxDepth - this.depth.used(ctx.now)));
  }

  /** Deletes ready and delayed messages; leased ones stay. Answers how many went. */
  purge(): Promise<number> {
    return this.run((ctx) => purge(ctx));
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
    endWaitsOfDeletedQueue(this.ctx);
    // Their leases go with the storage; a consumer that reconnects finds whether the queue exists again.
    this.streams.closeAll(STREAM_CLOSE.queueDeleted, "queue deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage);
    writeMeta(this.ctx.storage.sql, "deleted", true);
    this.config = { ...DEFAULT_QUEUE_CONFIG };
    this.version = 0;
    this.place = { index: 0, partitions: 1 };
    this.deleted = true;
    this.alarmAt = null;
    this.depth.clear();
    this.bucket = null;
    this.pushSecrets = null;
    this.pushPausedUntil = null;
    this.leases.reset();
  }

  /**
   * Starts this partition's share of a message move task (see
   * partition/move-tasks.ts), unless another task is active here.
   */
  startMoveTask(task: { taskId: string; destination: string | null; rate: number | null; startedAt: number }): Promise<"started" | "running"> {
    return this.run((ctx) => startMoveTask(ctx, task));
  }

  /** Stops a running task after the batch in hand; answers it, or null when this partition has none of that id. */
  cancelMoveTask(taskId: string): Promise<MoveTask | null> {
    return this.run((ctx) => cancelMoveTask(ctx, taskId));
  }

  /** The move tasks this partition keeps, the latest first. */
  async moveTasks(): Promise<MoveTask[]> {
    return listMoveTasks(this.ctx.storage.sql);
  }

  async deleteDeadLetters(ids: string[] | null): Promise<number> {
    return this.ctx.storage.transactionSync(() => deleteDeadLetters(this.ctx.storage.sql, ids));
  }

  /**
   * Time-based work: expired leases, retention, dedup and counter windows,
   * the leases of streams whose socket went with a restart; then push
   * delivery, for a queue that pushes; then the sends to other queues that
   * are due (the outbox: dead letters for the deadLetterQueue, a move task's
   * batches); then the next alarm.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.inAlarm = true;
    try {
      const now = Date.now();
      // The group that sweeps also serves waiters: delays, backoffs, ended leases and rate tokens that came due.
      await this.run((ctx) => {
        sweep(ctx);
        giveBack(ctx, orphanedOwners(ctx, this.streams.live()));
      }, "alarm");
      const pushAt = this.config.push !== null && this.delivering ? await this.pump.run(this.pushHost) : null;
      // What is due to go to other queues. A failure here must not keep the next alarm from being set.
      await runOutbox(this.outboxHost()).catch((err) => logEvent("internal_error", { during: "sending to other queues", error: String(err) }));
      // Something became deliverable after the pump stopped: the next alarm pushes it.
      const pushedLate = this.pump.pending && this.config.push !== null && this.delivering ? Date.now() : null;
      const due = [nextDueAt(this.context(Date.now())), pushAt, pushedLate].filter((t): t is number => t !== null);
      if (due.length > 0) await this.wakeBy(Math.max(Math.min(...due), now + 1));
    } finally {
      this.inAlarm = false;
    }
  }

  /** What the push loop asks of the partition: leases through the delivery core, sends, settles. */
  private readonly pushHost = {
    lease: (slots: number) =>
      this.run((ctx): { batches: PushBatch[]; wakeAt: number | null } => {
        const push = this.config.push;
        if (push === null || !this.delivering) return { batches: [], wakeAt: null };
        if (this.pushPausedUntil !== null && this.pushPausedUntil > ctx.now) return { batches: [], wakeAt: this.pushPausedUntil };
        const leaseMs = push.timeoutMs + PUSH_LEASE_GRACE_MS;
        const got = leasePushBatches(ctx, push, slots, (max) => this.lease(ctx, max, leaseMs));
        const queue = this.queueName;
        return { batches: got.batches.map((messages) => ({ queue, messages, push, secrets: this.pushSecrets })), wakeAt: got.wakeAt };
      }, "alarm"),
    deliver: async (batch: PushBatch): Promise<void> => {
      const outcome = await sendBatch(this.env, batch);
      // The queue was deleted while the batch was out: nothing is left to settle.
      if (this.deleted) return;
      const pausedUntil = outcome.pausedUntil === null ? null : Math.max(outcome.pausedUntil, this.pushPausedUntil ?? 0);
      try {
        await this.run((ctx) => settlePush(ctx, batch.messages, { ...outcome, pausedUntil }), "internal");
        if (pausedUntil !== null) this.pushPausedUntil = pausedUntil;
      } catch (err) {
        // The leases end on their own, and the batch is retried then.
        logEvent("internal_error", { during: "settling a push", queue: batch.queue, error: String(err) });
      }
    },
  };
}
