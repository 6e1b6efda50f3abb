/**
 * Dead-letter queues: ListDeadLetterSourceQueues (the queues whose
 * RedrivePolicy names a queue), and redrive as message move tasks
 * (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask). A
 * task runs in every partition of the dead-letter queue, each on its own
 * messages (durable-objects/partition/move-tasks.ts); its handle names the
 * queue and the task, and its figures are the partitions' summed.
 */
import type { MoveTask, MoveTaskStatus, QueueRecord } from "../../durable-objects/contract";
import { partitionStub, partitionsOf, registry } from "../queues";
import { allow, targetQueue, type ActionContext } from "./context";
import { invalidParameter, SqsError } from "./errors";
import { integer, text } from "./input";
import { allowAnyScope, queuePage } from "./queue-actions";
import { isFifo, queueArn, queueOfArn, queueUrl } from "./queue-url";
import { sqsQueue } from "./queues";

/** The fastest a move task may go, in messages per second, as SQS allows. */
export const MAX_MOVE_RATE = 500;

export async function listDeadLetterSourceQueues(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allowAnyScope(ctx, queue);
  await sqsQueue(ctx.env, queue, true);
  const { names, nextToken } = await queuePage(ctx, { prefix: "", keep: (r) => r.config.deadLetterQueue === queue });
  return { queueUrls: names.map((n) => queueUrl(ctx.origin, n)), ...(nextToken === undefined ? {} : { NextToken: nextToken }) };
}

/** The queues whose dead letters go to `queue`. */
async function sourcesOf(env: Env, queue: string): Promise<QueueRecord[]> {
  return (await registry(env).list()).filter((r) => r.config.deadLetterQueue === queue);
}

const notFound = (what: string) => new SqsError("ResourceNotFoundException", `The resource that you specified for the ${what} parameter doesn't exist.`);

/** A task's handle: SQS's shape, base64 of `{taskId, sourceArn}`. */
const handleOf = (taskId: string, sourceArn: string) => btoa(JSON.stringify({ taskId, sourceArn }));

function readHandle(value: string): { taskId: string; queue: string } {
  try {
    const { taskId, sourceArn } = JSON.parse(atob(value)) as { taskId?: unknown; sourceArn?: unknown };
    if (typeof taskId === "string" && typeof sourceArn === "string") return { taskId, queue: queueOfArn(sourceArn, "TaskHandle") };
  } catch {
    // falls through
  }
  throw new SqsError("ResourceNotFoundException", "Task does not exist.");
}

/**
 * Starts moving the messages of a dead-letter queue back to the queues they
 * died in, or to DestinationArn, at most MaxNumberOfMessagesPerSecond (as
 * fast as it goes without). The key must manage the dead-letter queue and
 * every queue the messages may go to.
 */
export async function startMessageMoveTask(ctx: ActionContext) {
  const sourceArn = text(ctx.input, "SourceArn", true);
  const source = queueOfArn(sourceArn, "SourceArn");
  allow(ctx, "manage", source);
  const destinationArn = text(ctx.input, "DestinationArn");
  const destination = destinationArn === undefined ? null : queueOfArn(destinationArn, "DestinationArn");
  const rate = integer(ctx.input, "MaxNumberOfMessagesPerSecond", 1, MAX_MOVE_RATE) ?? null;
  const record = await registry(ctx.env).get(source);
  if (!record) throw notFound("SourceArn");
  const sources = await sourcesOf(ctx.env, source);
  if (sources.length === 0) throw new SqsError("UnsupportedOperation", "Source queue must be configured as a Dead Letter Queue.");
  if (destination !== null) {
    allow(ctx, "manage", destination);
    if (!(await registry(ctx.env).get(destination))) throw notFound("DestinationArn");
    if (isFifo(destination) !== isFifo(source)) throw invalidParameter("DestinationArn", "the destination must be of the source's kind (FIFO or standard)");
  } else {
    for (const s of sources) allow(ctx, "manage", s.name);
  }

  const taskId = crypto.randomUUID();
  const parts = partitionsOf(record.config);
  const share = rate === null ? null : rate / parts.length;
  const task = { taskId, destination, rate: share, startedAt: Date.now() };
  const started = await Promise.all(parts.map((p) => partitionStub(ctx.env, source, p).startMoveTask(task)));
  if (started.includes("running")) {
    await Promise.all(parts.filter((_, i) => started[i] === "started").map((p) => partitionStub(ctx.env, source, p).cancelMoveTask(taskId)));
    throw new SqsError("UnsupportedOperation", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.");
  }
  return { TaskHandle: handleOf(taskId, queueArn(ctx.region, source)) };
}

/** A task as one entry of ListMessageMoveTasks, from its partitions' shares. */
function merged(ctx: ActionContext, source: string, shares: MoveTask[]) {
  const statuses = new Set(shares.map((s) => s.status));
  const status: MoveTaskStatus = statuses.has("FAILED")
    ? "FAILED"
    : statuses.has("RUNNING")
      ? "RUNNING"
      : statuses.has("CANCELLING")
        ? "CANCELLING"
        : statuses.has("CANCELLED")
          ? "CANCELLED"
          : "COMPLETED";
  const [first] = shares;
  const sourceArn = queueArn(ctx.region, source);
  const failure = shares.find((s) => s.failure !== null)?.failure;
  const rate = shares.every((s) => s.rate !== null) ? Math.round(shares.reduce((n, s) => n + s.rate!, 0)) : undefined;
  return {
    ...(status === "RUNNING" ? { TaskHandle: handleOf(first.taskId, sourceArn) } : {}),
    Status: status,
    SourceArn: sourceArn,
    ...(first.destination === null ? {} : { DestinationArn: queueArn(ctx.region, first.destination) }),
    ...(rate === undefined ? {} : { MaxNumberOfMessagesPerSecond: rate }),
    ApproximateNumberOfMessagesMoved: shares.reduce((n, s) => n + s.moved, 0),
    ApproximateNumberOfMessagesToMove: shares.reduce((n, s) => n + s.toMove, 0),
    ...(failure ? { FailureReason: failure } : {}),
    StartedTimestamp: first.startedAt,
  };
}

/** The queue's most recent tasks (MaxResults, 1 to 10, default 1), the latest first. */
export async function listMessageMoveTasks(ctx: ActionContext) {
  const source = queueOfArn(text(ctx.input, "SourceArn", true), "SourceArn");
  allowAnyScope(ctx, source);
  const max = integer(ctx.input, "MaxResults", 1, 10) ?? 1;
  const record = await registry(ctx.env).get(source);
  if (!record) throw notFound("SourceArn");
  const byTask = new Map<string, MoveTask[]>();
  for (const tasks of await Promise.all(partitionsOf(record.config).map((p) => partitionStub(ctx.env, source, p).moveTasks()))) {
    for (const t of tasks) byTask.set(t.taskId, [...(byTask.get(t.taskId) ?? []), t]);
  }
  const latest = [...byTask.values()].sort((a, b) => b[0].startedAt - a[0].startedAt).slice(0, max);
  return { Results: latest.map((shares) => merged(ctx, source, shares)) };
}

/** Stops a running task after the batches in hand; answers how many messages it moved. */
export async function cancelMessageMoveTask(ctx: ActionContext) {
  const { taskId, queue } = readHandle(text(ctx.input, "TaskHandle", true));
  allow(ctx, "manage", queue);
  const record = await registry(ctx.env).get(queue);
  if (!record) throw new SqsError("ResourceNotFoundException", "Task does not exist.");
  const shares = (await Promise.all(partitionsOf(record.config).map((p) => partitionStub(ctx.env, queue, p).cancelMoveTask(taskId)))).filter(
    (t): t is MoveTask => t !== null,
  );
  if (shares.length === 0) throw new SqsError("ResourceNotFoundException", "Task does not exist.");
  if (!shares.some((s) => s.status === "CANCELLING")) throw new SqsError("UnsupportedOperation", "Only active tasks can be cancelled.");
  return { ApproximateNumberOfMessagesMoved: shares.reduce((n, s) => n + s.moved, 0) };
}
