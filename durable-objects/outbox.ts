/**
 * A partition's sends to other queues, run by its alarm: dead letters bound
 * for the queue's deadLetterQueue (partition/forward.ts) and the steps of a
 * message move task (partition/move-tasks.ts). What to send is in SQLite
 * before anything is sent, and each message carries a dedup id made from
 * it, kept by the other queue for a day: a send whose outcome is unknown
 * (the call threw, the runtime died before the outcome was recorded) is
 * sent again by a later alarm, and the other queue stores nothing twice.
 * Each outcome is recorded in a transaction of its own, in the group commit.
 */
import type { ErrorCode, RpcResult, SendMessage, SendResponse } from "../client/protocol";
import type { LeasedMessage } from "./contract";
import { logEvent } from "./log";
import { dueForwards, FORWARD_DEDUP_WINDOW_MS, forwarded, forwardFailed, type DueForward } from "./partition/forward";
import {
  activeMoveTask,
  failMoveTask,
  MOVE_BATCH,
  MOVE_DEDUP_WINDOW_MS,
  MOVE_LEASE_MS,
  moveCopies,
  settleMoveBatch,
  takeMoveBatch,
} from "./partition/move-tasks";
import type { OpContext } from "./partition/types";

/** What the outbox needs of its partition. */
export interface OutboxHost {
  /** The queue the partition belongs to. */
  queue: string;
  sql: SqlStorage;
  /** Runs a storage operation in the group commit. */
  run<T>(operation: (ctx: OpContext) => T): Promise<T>;
  /** Leases through the partition's delivery core, in the operation's transaction. */
  lease(ctx: OpContext, max: number, visibilityTimeoutMs: number): LeasedMessage[];
  /** EdgeqService.forward, through the Worker's own entrypoint. */
  forward(queue: string, messages: SendMessage[], minDedupWindowMs: number): Promise<RpcResult<SendResponse>>;
}

/** Refusals that the same send would meet again: the other queue does not exist, or the message does not fit it. */
const FOR_GOOD: ReadonlySet<string> = new Set<ErrorCode>(["QUEUE_NOT_FOUND", "INVALID_REQUEST", "INVALID_VALUE", "PAYLOAD_TOO_LARGE"]);

/** How much one alarm sends before it hands over to the next: calls to other queues, and time. */
const BUDGET = { calls: 50, ms: 10_000 };

type Outcome = { ok: true } | { ok: false; code: string; message: string; forGood: boolean };

async function send(host: OutboxHost, queue: string, messages: SendMessage[], windowMs: number): Promise<Outcome> {
  try {
    const answer = await host.forward(queue, messages, windowMs);
    if (!("error" in answer)) return { ok: true };
    const { code, message } = answer.error;
    return { ok: false, code, message, forGood: FOR_GOOD.has(code) };
  } catch (err) {
    // The outcome is unknown: the copies may be stored. The retry's dedup ids will say.
    return { ok: false, code: "UNAVAILABLE", message: String(err).slice(0, 200), forGood: false };
  }
}

/** Sends what is due, until nothing is or the budget is spent; the alarm then sets the next one from what is left. */
export async function runOutbox(host: OutboxHost): Promise<void> {
  const budget = { calls: BUDGET.calls, until: Date.now() + BUDGET.ms };
  const spent = () => budget.calls <= 0 || Date.now() >= budget.until;
  while (!spent() && (await forwardDeadLetters(host, budget))) {
    // one batch of dead letters per turn
  }
  while (!spent() && (await moveStep(host, budget))) {
    // one batch of the move task per turn
  }
}

/** Sends one batch of due dead letters; answers whether there may be more. */
async function forwardDeadLetters(host: OutboxHost, budget: { calls: number }): Promise<boolean> {
  const due = dueForwards(host.sql, host.queue, Date.now());
  if (due.length === 0) return false;
  const target = due[0].target;
  budget.calls -= 1;
  const outcome = await send(host, target, due.map((d) => d.message), FORWARD_DEDUP_WINDOW_MS);
  if (outcome.ok || !outcome.forGood || due.length === 1) {
    await record(host, target, due, outcome);
    return outcome.ok;
  }
  // Refused for good as a batch: each alone, so only the ones that cannot go stay.
  for (const one of due) {
    budget.calls -= 1;
    await record(host, target, [one], await send(host, target, [one.message], FORWARD_DEDUP_WINDOW_MS));
  }
  return true;
}

async function record(host: OutboxHost, target: string, due: DueForward[], outcome: Outcome): Promise<void> {
  const dlSeqs = due.map((d) => d.dlSeq);
  await host.run((ctx) => (outcome.ok ? forwarded(ctx, dlSeqs) : forwardFailed(ctx, dlSeqs, `not forwarded to ${target}: ${outcome.code}: ${outcome.message}`, outcome.forGood)));
  if (!outcome.ok) {
    logEvent("forward_failed", { queue: host.queue, to: target, count: due.length, kept: outcome.forGood, error: `${outcome.code}: ${outcome.message}` });
  }
}

/** One step of the active move task: take a batch if none is in hand, send it, record it. Answers whether to go on at once. */
async function moveStep(host: OutboxHost, budget: { calls: number }): Promise<boolean> {
  let task = activeMoveTask(host.sql);
  if (!task || (task.nextAt ?? Infinity) > Date.now()) return false;
  if (task.batch === null) {
    const current = task;
    const size = current.rate === null ? MOVE_BATCH : Math.max(1, Math.min(MOVE_BATCH, Math.floor(current.rate)));
    const taken = await host.run((ctx) => {
      const leased = current.status === "CANCELLING" ? [] : host.lease(ctx, size, MOVE_LEASE_MS);
      return takeMoveBatch(ctx, current, leased);
    });
    if (!taken) return false;
    task = activeMoveTask(host.sql);
    if (!task?.batch) return false;
  }
  const inHand = task;
  const { byQueue, homeless } = moveCopies(host.sql, inHand);
  if (homeless.length > 0) {
    await host.run((ctx) => failMoveTask(ctx, inHand, `${homeless.length} messages did not come from another queue: give a DestinationArn`));
    return false;
  }
  const stored: number[] = [];
  let failure: { message: string; forGood: boolean } | null = null;
  for (const [queue, copies] of byQueue) {
    budget.calls -= 1;
    const outcome = await send(host, queue, copies.map((c) => c.message), MOVE_DEDUP_WINDOW_MS);
    if (outcome.ok) stored.push(...copies.map((c) => c.seq));
    else if (!failure?.forGood) failure = { message: `${queue}: ${outcome.code}: ${outcome.message}`, forGood: outcome.forGood };
  }
  await host.run((ctx) => {
    // A cancel or another step may have changed the task meanwhile: settle only the batch this step sent.
    const now = activeMoveTask(ctx.sql);
    if (now?.taskId === inHand.taskId && JSON.stringify(now.batch) === JSON.stringify(inHand.batch)) settleMoveBatch(ctx, now, stored, failure);
  });
  return failure === null;
}
