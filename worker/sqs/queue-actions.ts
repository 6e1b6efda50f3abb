/**
 * The queue actions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
 * PurgeQueue, GetQueueAttributes and SetQueueAttributes, on edgeq's own
 * queues (worker/manage.ts): a queue made here is an ordinary edgeq queue,
 * and every edgeq queue is an SQS queue.
 */
import { SCOPES } from "../../client/protocol";
import type { QueueRecord } from "../../durable-objects/contract";
import { changeQueue, createQueueIfAbsent, deleteQueue, purgeQueue } from "../manage";
import { statsOf } from "../queue-stats";
import { registry } from "../queues";
import { allow, targetQueue, type ActionContext } from "./context";
import { invalidParameter, SqsError } from "./errors";
import { integer, text, textList, textMap } from "./input";
import { mayUse } from "./keys";
import {
  checkAttributeNames,
  needsStats,
  queueAttributes,
  readQueueAttributes,
  SQS_QUEUE_DEFAULTS,
  withChange,
  type QueueChange,
} from "./queue-attributes";
import { isFifo, isQueueName, queueUrl } from "./queue-url";
import { forgetSqsQueue, queueDoesNotExist, rememberSqsQueue, sqsQueue } from "./queues";

/** Refuses the action unless the key has any scope on `queue` (reading a queue's URL or attributes). */
export function allowAnyScope(ctx: ActionContext, queue: string): void {
  if (!SCOPES.some((s) => mayUse(ctx.principal, s, queue))) allow(ctx, "manage", queue);
}

/** A RedrivePolicy's target must exist and be of the queue's kind (FIFO or standard). */
async function checkTarget(ctx: ActionContext, queue: string, change: QueueChange): Promise<void> {
  const target = change.deadLetterTarget;
  if (target === undefined) return;
  const exists = await registry(ctx.env).get(target);
  if (!exists) throw new SqsError("InvalidParameterValue", `Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`);
  if (isFifo(target) !== isFifo(queue)) {
    throw new SqsError("InvalidParameterValue", "Value for parameter RedrivePolicy is invalid. Reason: the dead-letter queue of a FIFO queue must be a FIFO queue, and of a standard queue a standard queue.");
  }
}

export async function createQueue(ctx: ActionContext) {
  const name = text(ctx.input, "QueueName", true);
  if (!isQueueName(name)) {
    throw invalidParameter("QueueName", "Can only include alphanumeric characters, hyphens, or underscores, 1 to 64 of them, and .fifo at the end of a FIFO queue's name.");
  }
  allow(ctx, "manage", name);
  const tags = textMap(ctx.input, "Tags");
  if (tags && tags.size > 0) throw invalidParameter("Tags", "edgeq does not support queue tags");
  const change = readQueueAttributes(name, textMap(ctx.input, "Attributes") ?? new Map(), true);
  await checkTarget(ctx, name, change);
  const { record, created } = await createQueueIfAbsent(ctx.env, name, { ...SQS_QUEUE_DEFAULTS, ...change.patch }, change.sqsAttributes);
  if (!created) {
    // SQS answers the existing queue when every attribute asked for is what it has.
    const given = new Set((textMap(ctx.input, "Attributes") ?? new Map()).keys());
    given.delete("FifoQueue");
    const now = queueAttributes(record, ctx.region, given);
    const wanted = queueAttributes(withChange(record, change), ctx.region, given);
    const differs = [...given].find((n) => now[n] !== wanted[n]);
    if (differs) throw new SqsError("QueueNameExists", `A queue already exists with the same name and a different value for attribute ${differs}`);
  }
  rememberSqsQueue(record);
  return { QueueUrl: queueUrl(ctx.origin, name) };
}

export async function getQueueUrl(ctx: ActionContext) {
  const name = text(ctx.input, "QueueName", true);
  if (!isQueueName(name)) throw queueDoesNotExist();
  allowAnyScope(ctx, name);
  await sqsQueue(ctx.env, name, true);
  return { QueueUrl: queueUrl(ctx.origin, name) };
}

/** The page size of ListQueues without MaxResults, and its largest MaxResults. */
const MAX_LIST = 1000;

const token = (name: string) => btoa(name).replace(/=+$/, "");
function afterToken(value: string): string {
  try {
    const name = atob(value);
    if (isQueueName(name)) return name;
  } catch {
    // falls through
  }
  throw invalidParameter("NextToken", "not a token ListQueues gave");
}

/**
 * One page of queue names, in name order: those under `prefix` that `keep`
 * keeps and the key covers. With `maxResults`, a page of that size and a
 * NextToken when more follow; without, the first 1000 and no token.
 */
export async function queuePage(
  ctx: ActionContext,
  opts: { prefix: string; keep: (record: QueueRecord) => boolean },
): Promise<{ names: string[]; nextToken?: string }> {
  const maxResults = integer(ctx.input, "MaxResults", 1, MAX_LIST);
  const next = text(ctx.input, "NextToken");
  if (next !== undefined && maxResults === undefined) throw invalidParameter("NextToken", "needs MaxResults");
  const limit = maxResults ?? MAX_LIST;
  const names: string[] = [];
  let after = next === undefined ? "" : afterToken(next);
  let more = false;
  for (;;) {
    const page = await registry(ctx.env).list(after, MAX_LIST, opts.prefix);
    for (const record of page) {
      if (!opts.keep(record) || !SCOPES.some((s) => mayUse(ctx.principal, s, record.name))) continue;
      if (names.length === limit) {
        more = true;
        break;
      }
      names.push(record.name);
    }
    if (more || page.length < MAX_LIST) break;
    after = page[page.length - 1].name;
  }
  return more && maxResults !== undefined ? { names, nextToken: token(names[names.length - 1]) } : { names };
}

/** Queues by name (those under QueueNamePrefix), and only those the key covers. */
export async function listQueues(ctx: ActionContext) {
  const { names, nextToken } = await queuePage(ctx, { prefix: text(ctx.input, "QueueNamePrefix") ?? "", keep: () => true });
  return {
    ...(names.length > 0 ? { QueueUrls: names.map((n) => queueUrl(ctx.origin, n)) } : {}),
    ...(nextToken === undefined ? {} : { NextToken: nextToken }),
  };
}

export async function deleteQueueAction(ctx: ActionContext) {
  const name = targetQueue(ctx);
  allow(ctx, "manage", name);
  forgetSqsQueue(name);
  await deleteQueue(ctx.env, name);
  return null;
}

/** Deletes the messages that are not leased: edgeq's purge keeps messages in flight, so their consumers can still delete them. */
export async function purgeQueueAction(ctx: ActionContext) {
  const name = targetQueue(ctx);
  allow(ctx, "manage", name);
  await purgeQueue(ctx.env, name);
  return null;
}

export async function getQueueAttributes(ctx: ActionContext) {
  const name = targetQueue(ctx);
  allowAnyScope(ctx, name);
  const names = checkAttributeNames(textList(ctx.input, "AttributeNames") ?? []);
  const record = await sqsQueue(ctx.env, name, true);
  const stats = needsStats(names) ? await statsOf(ctx.env, name, record.config) : undefined;
  const attributes = queueAttributes(record, ctx.region, names, stats);
  return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
}

export async function setQueueAttributes(ctx: ActionContext) {
  const name = targetQueue(ctx);
  allow(ctx, "manage", name);
  const attributes = textMap(ctx.input, "Attributes");
  if (attributes === undefined) throw new SqsError("MissingParameter", "The request must contain the parameter Attributes.");
  const change = readQueueAttributes(name, attributes, false);
  await checkTarget(ctx, name, change);
  rememberSqsQueue(await changeQueue(ctx.env, name, change.patch, change.sqsAttributes));
  return null;
}
