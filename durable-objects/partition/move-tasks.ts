/**
 * Message move tasks (SQS's StartMessageMoveTask): a dead-letter queue's
 * messages go back to the queues they died in (or to one destination). Each
 * partition of the queue runs the task on its own messages, a batch at a
 * time, as a consumer would: it leases the batch through the one delivery
 * core (so groups, pause and limits hold), keeps the batch with the task,
 * sends it (durable-objects/outbox.ts), and acks it once the destination
 * stored it. A retry after a failure sends the same batch with the same
 * dedup ids, so nothing is stored twice; a batch refused for good fails the
 * task and its messages stay.
 */
import { DEAD_LETTER_SOURCE_ATTRIBUTE, type SendMessage } from "../../client/protocol";
import type { LeasedMessage } from "../contract";
import { ack } from "./ack";
import { backoffMs } from "./backoff";
import { extend } from "./extend";
import { release } from "./release";
import type { OpContext } from "./types";

export type MoveTaskStatus = "RUNNING" | "CANCELLING" | "COMPLETED" | "CANCELLED" | "FAILED";

/** One partition's share of a move task. */
export interface MoveTask {
  taskId: string;
  /** The queue every message goes to; null: each to the queue it died in. */
  destination: string | null;
  /** Messages per second for this partition; null: as fast as it goes. */
  rate: number | null;
  startedAt: number;
  status: MoveTaskStatus;
  moved: number;
  toMove: number;
  failure: string | null;
  failures: number;
  /** The leased batch being sent. */
  batch: { token: string; seqs: number[] } | null;
  nextAt: number | null;
}

/** Messages moved per send, at most. */
export const MOVE_BATCH = 10;
/** The lease of a batch in hand; every retry renews it, so only a partition gone this long lets it end. */
export const MOVE_LEASE_MS = 5 * 60_000;
/** Retry delays of a failed send. */
export const MOVE_RETRY = { backoffBaseMs: 1_000, backoffMaxMs: 5 * 60_000 } as const;
/** How long a destination keeps a moved message's dedup id (see forward.ts's window). */
export const MOVE_DEDUP_WINDOW_MS = 24 * 60 * 60_000;
/** Finished tasks kept for ListMessageMoveTasks, per partition. */
const KEPT_TASKS = 10;

type Row = {
  task_id: string;
  destination: string | null;
  rate: number | null;
  started_at: number;
  status: MoveTaskStatus;
  moved: number;
  to_move: number;
  failure: string | null;
  failures: number;
  batch: string | null;
  next_at: number | null;
};

const toTask = (r: Row): MoveTask => ({
  taskId: r.task_id,
  destination: r.destination,
  rate: r.rate,
  startedAt: r.started_at,
  status: r.status,
  moved: r.moved,
  toMove: r.to_move,
  failure: r.failure,
  failures: r.failures,
  batch: r.batch === null ? null : JSON.parse(r.batch),
  nextAt: r.next_at,
});

const ACTIVE = "status IN ('RUNNING', 'CANCELLING')";

/** The task running (or being cancelled) in this partition, if any. */
export function activeMoveTask(sql: SqlStorage): MoveTask | null {
  const row = sql.exec<Row>(`SELECT * FROM move_tasks WHERE ${ACTIVE}`).toArray()[0];
  return row ? toTask(row) : null;
}

/** The tasks this partition keeps, the latest first. */
export const listMoveTasks = (sql: SqlStorage): MoveTask[] =>
  sql.exec<Row>("SELECT * FROM move_tasks ORDER BY started_at DESC, task_id LIMIT ?", KEPT_TASKS).toArray().map(toTask);

/** Starts a task here, unless another is active (`running`); starting the same task again changes nothing. */
export function startMoveTask(
  { sql, now, effects }: OpContext,
  task: { taskId: string; destination: string | null; rate: number | null; startedAt: number },
): "started" | "running" {
  const active = activeMoveTask(sql);
  if (active) return active.taskId === task.taskId ? "started" : "running";
  const { n } = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages").one();
  sql.exec(
    `INSERT INTO move_tasks (task_id, destination, rate, started_at, status, to_move, next_at)
     VALUES (?, ?, ?, ?, 'RUNNING', ?, ?) ON CONFLICT (task_id) DO NOTHING`,
    task.taskId,
    task.destination,
    task.rate,
    task.startedAt,
    n,
    now,
  );
  sql.exec(
    `DELETE FROM move_tasks WHERE NOT ${ACTIVE} AND task_id NOT IN
       (SELECT task_id FROM move_tasks ORDER BY started_at DESC, task_id LIMIT ?)`,
    KEPT_TASKS,
  );
  effects.dueAt(now);
  return "started";
}

/** Asks a running task to stop after the batch in hand; answers the task as it is then, or null when this partition has no such task. */
export function cancelMoveTask({ sql, now, effects }: OpContext, taskId: string): MoveTask | null {
  sql.exec("UPDATE move_tasks SET status = 'CANCELLING', next_at = ? WHERE task_id = ? AND status = 'RUNNING'", now, taskId);
  const row = sql.exec<Row>("SELECT * FROM move_tasks WHERE task_id = ?", taskId).toArray()[0];
  if (row?.status === "CANCELLING") effects.dueAt(now);
  return row ? toTask(row) : null;
}

function finish(sql: SqlStorage, taskId: string, status: MoveTaskStatus, failure: string | null = null): void {
  sql.exec("UPDATE move_tasks SET status = ?, failure = ?, batch = NULL, next_at = NULL WHERE task_id = ?", status, failure, taskId);
}

/**
 * Takes the batch just leased for the task, or, when nothing could be
 * leased (nothing is ready now) or the task is being cancelled, ends it.
 * Answers whether there is a batch to send.
 */
export function takeMoveBatch({ sql, now, leases }: OpContext, task: MoveTask, leased: LeasedMessage[]): boolean {
  if (leased.length === 0 || task.status === "CANCELLING") {
    if (leased.length > 0) leases.end(leased.map((m) => ({ seq: m.seq, token: m.leaseToken })), true);
    finish(sql, task.taskId, task.status === "CANCELLING" ? "CANCELLED" : "COMPLETED");
    return false;
  }
  const batch = { token: leased[0].leaseToken, seqs: leased.map((m) => m.seq) };
  sql.exec("UPDATE move_tasks SET batch = ?, failures = 0, next_at = ? WHERE task_id = ?", JSON.stringify(batch), now, task.taskId);
  return true;
}

/**
 * The batch's messages as copies for their destinations (by destination),
 * and those that have none (no destination was given and they did not die
 * in another queue). A message of the batch that is gone (deleted by a
 * consumer meanwhile) is left out.
 */
export function moveCopies(sql: SqlStorage, task: MoveTask): { byQueue: Map<string, { seq: number; message: SendMessage }[]>; homeless: number[] } {
  const byQueue = new Map<string, { seq: number; message: SendMessage }[]>();
  const homeless: number[] = [];
  const rows = sql
    .exec<{ seq: number; id: string; body: string; attributes: string | null; group_id: string | null }>(
      "SELECT seq, id, body, attributes, group_id FROM messages WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq",
      JSON.stringify(task.batch?.seqs ?? []),
    )
    .toArray();
  for (const row of rows) {
    const attributes = row.attributes === null ? {} : (JSON.parse(row.attributes) as Record<string, string>);
    const destination = task.destination ?? attributes[DEAD_LETTER_SOURCE_ATTRIBUTE] ?? null;
    if (destination === null) {
      homeless.push(row.seq);
      continue;
    }
    delete attributes[DEAD_LETTER_SOURCE_ATTRIBUTE];
    const message: SendMessage = { body: JSON.parse(row.body), dedupId: `move:${row.id}` };
    if (Object.keys(attributes).length > 0) message.attributes = attributes;
    if (row.group_id !== null) message.groupId = row.group_id;
    byQueue.set(destination, [...(byQueue.get(destination) ?? []), { seq: row.seq, message }]);
  }
  return { byQueue, homeless };
}

/**
 * Records a send of the batch in hand: the messages the destinations stored
 * are acked (they leave) and counted; `failure` says why the rest were not
 * sent. `forGood`: the task fails and their leases are given back; else
 * they are tried again after the backoff, their leases renewed. A batch
 * done: the next one is due when the task's rate allows it.
 */
export function settleMoveBatch(
  ctx: OpContext,
  task: MoveTask,
  stored: number[],
  failure: { message: string; forGood: boolean } | null,
): void {
  const { sql, now, effects } = ctx;
  const batch = task.batch!;
  const refs = (seqs: number[]) => seqs.map((seq) => ({ seq, token: batch.token }));
  const moved = ack(ctx, refs(stored)).filter((o) => o.ok).length;
  const rest = batch.seqs.filter((s) => !stored.includes(s));
  sql.exec("UPDATE move_tasks SET moved = moved + ? WHERE task_id = ?", moved, task.taskId);
  if (failure !== null && rest.length > 0) {
    if (failure.forGood) {
      release(ctx, refs(rest));
      finish(sql, task.taskId, "FAILED", failure.message);
      return;
    }
    extend(ctx, refs(rest), MOVE_LEASE_MS);
    const at = now + backoffMs(task.failures + 1, MOVE_RETRY);
    sql.exec(
      "UPDATE move_tasks SET batch = ?, failures = failures + 1, next_at = ? WHERE task_id = ?",
      JSON.stringify({ token: batch.token, seqs: rest }),
      at,
      task.taskId,
    );
    effects.dueAt(at);
    return;
  }
  const at = task.rate === null ? now : now + Math.ceil((batch.seqs.length / task.rate) * 1000);
  sql.exec("UPDATE move_tasks SET batch = NULL, failures = 0, next_at = ? WHERE task_id = ?", at, task.taskId);
  effects.dueAt(at);
}

/** The messages of the batch in hand that no destination can take: the task fails, they stay. */
export function failMoveTask(ctx: OpContext, task: MoveTask, message: string): void {
  if (task.batch) release(ctx, task.batch.seqs.map((seq) => ({ seq, token: task.batch!.token })));
  finish(ctx.sql, task.taskId, "FAILED", message);
}

/** When the next step of a task is due; null when none is active. */
export const nextMoveAt = (sql: SqlStorage): number | null =>
  sql.exec<{ at: number | null }>(`SELECT MIN(next_at) AS at FROM move_tasks WHERE ${ACTIVE}`).one().at;
