/**
 * Queue management, one function each, shared by the HTTP routes and the
 * service-binding RPC entrypoint: create or change a queue, read, list,
 * delete, pause, purge and peek. Inputs are already shape-checked; values
 * are checked by the registry (`applyConfigPatch`) inside its transaction.
 */
import type { QueueConfigPatch, QueueInfo, QueueStats, QueueStatsSummary } from "../client/protocol";
import { RESERVED_BINDINGS, type PeekedRow, type QueueRecord } from "../durable-objects/contract";
import { ApiError } from "./errors";
import { pageAcrossPartitions } from "./partitions";
import { configurePartitions, forgetQueue, partitionStub, partitionsOf, registry, rememberQueue, resolveQueue } from "./queues";
import { STATS_CONCURRENCY, statsOf, statsSummary } from "./queue-stats";

const info = (record: QueueRecord, stats?: QueueStats | QueueStatsSummary): QueueInfo => ({
  name: record.name,
  config: record.config,
  createdAt: record.createdAt,
  ...(stats ? { stats } : {}),
});

/**
 * Pushes a stored change to the partitions. The registry already holds it,
 * so a partition that could not be reached gets it from the next change or
 * the same request repeated (it is idempotent).
 */
async function propagate(env: Env, record: QueueRecord): Promise<void> {
  try {
    await configurePartitions(env, record);
  } catch (err) {
    console.error(JSON.stringify({ event: "configure_failed", queue: record.name, error: String(err) }));
    throw new ApiError("UNAVAILABLE", `queue ${record.name} was saved but not every partition has it yet; repeat the request`);
  }
  rememberQueue(record.name, record.config);
}

/**
 * A push to a Worker needs a service binding of edgeq's own to it (in
 * wrangler.toml): refused before anything is stored when there is none.
 */
function checkPushService(env: Env, patch: QueueConfigPatch): void {
  const push = patch.push;
  if (!push || !("service" in push)) return;
  const binding = (env as unknown as Record<string, unknown>)[push.service];
  if (RESERVED_BINDINGS.has(push.service) || typeof (binding as { fetch?: unknown } | undefined)?.fetch !== "function") {
    throw new ApiError(
      "INVALID_VALUE",
      `push.service: edgeq has no service binding named ${push.service.slice(0, 64)}; add one to its wrangler.toml ([[services]]) and deploy`,
    );
  }
}

async function update(env: Env, name: string, patch: QueueConfigPatch, create: boolean, sqsAttributes?: Record<string, string>) {
  checkPushService(env, patch);
  const result = await registry(env).update(name, patch, { create, sqsAttributes });
  if ("problem" in result) throw new ApiError(result.problem.code, result.problem.message);
  await propagate(env, result.record);
  return result;
}

/** Creates a queue or changes some of its settings; answers the whole configuration and whether it was created. */
export async function putQueue(env: Env, name: string, patch: QueueConfigPatch): Promise<{ queue: QueueInfo; created: boolean }> {
  const { record, created, signingSecret } = await update(env, name, patch, true);
  const queue = info(record);
  // The secret is answered this once; GET never shows it.
  if (signingSecret !== undefined) queue.push = { signingSecret, previousExpiresAt: null };
  return { queue, created };
}

/**
 * A new signing secret for a queue that pushes to an endpoint, answered
 * once; the previous one signs beside it for a day, so the endpoint can
 * switch without dropping a delivery.
 */
export async function rotatePushSecret(env: Env, name: string): Promise<QueueInfo> {
  const result = await registry(env).rotatePushSecret(name);
  if ("problem" in result) throw new ApiError(result.problem.code, result.problem.message);
  await propagate(env, result.record);
  return { ...info(result.record), push: { signingSecret: result.signingSecret, previousExpiresAt: result.previousExpiresAt } };
}

/**
 * Creates a queue with `patch` and `sqsAttributes` unless it exists, and
 * then answers it unchanged: SQS's CreateQueue, which compares.
 */
export async function createQueueIfAbsent(
  env: Env,
  name: string,
  patch: QueueConfigPatch,
  sqsAttributes: Record<string, string>,
): Promise<{ record: QueueRecord; created: boolean }> {
  const result = await registry(env).create(name, patch, sqsAttributes);
  if ("problem" in result) throw new ApiError(result.problem.code, result.problem.message);
  if (result.created) await propagate(env, result.record);
  return result;
}

/** Changes an existing queue's settings and its SQS-only attributes (SQS's SetQueueAttributes); answers the record. */
export async function changeQueue(env: Env, name: string, patch: QueueConfigPatch, sqsAttributes: Record<string, string>): Promise<QueueRecord> {
  return (await update(env, name, patch, false, sqsAttributes)).record;
}

/** Pauses (or resumes) delivery; enqueues are still accepted. */
export async function setPaused(env: Env, name: string, paused: boolean): Promise<QueueInfo> {
  return info((await update(env, name, { paused }, false)).record);
}

/** The queue's configuration and stats, read from the registry (never from a cache). */
export async function getQueue(env: Env, name: string): Promise<QueueInfo> {
  const record = await registry(env).get(name);
  if (!record) throw new ApiError("QUEUE_NOT_FOUND", `queue ${name} does not exist`);
  return info(record, await statsOf(env, record.name, record.config));
}

/** Largest page when stats are asked for: each queue costs one call per partition. */
export const MAX_STATS_PAGE = 100;

/**
 * Queues in name order, a page at a time, each with a stats summary unless
 * `stats` is false. With stats a page holds at most MAX_STATS_PAGE queues
 * (the cursor goes on from there), which bounds the partition calls.
 */
export async function listQueues(
  env: Env,
  opts: { limit: number; cursor?: string; stats: boolean },
): Promise<{ queues: QueueInfo[]; cursor: string | null }> {
  const limit = opts.stats ? Math.min(opts.limit, MAX_STATS_PAGE) : opts.limit;
  const records = await registry(env).list(opts.cursor ?? "", limit + 1);
  const more = records.length > limit;
  const page = more ? records.slice(0, limit) : records;
  const queues: QueueInfo[] = [];
  for (let i = 0; i < page.length; i += STATS_CONCURRENCY) {
    const slice = page.slice(i, i + STATS_CONCURRENCY);
    queues.push(...(await Promise.all(slice.map(async (r) => info(r, opts.stats ? statsSummary(await statsOf(env, r.name, r.config)) : undefined)))));
  }
  return { queues, cursor: more ? page[page.length - 1].name : null };
}

/**
 * Deletes the queue and everything in it. The registry entry goes first (a
 * tombstone until the partitions are done):
 * from then on no partition can be configured for the queue again except by
 * re-creating it, so a worker with a stale cache cannot store a message in
 * a partition that has no registry entry behind it. Then every partition
 * deletes its storage and alarm (and refuses enqueues as UNCONFIGURED).
 */
export async function deleteQueue(env: Env, name: string): Promise<void> {
  const record = await registry(env).delete(name);
  forgetQueue(name);
  if (!record) throw new ApiError("QUEUE_NOT_FOUND", `queue ${name} does not exist`);
  try {
    await Promise.all(partitionsOf(record.config).map((p) => partitionStub(env, name, p).destroy()));
  } catch (err) {
    console.error(JSON.stringify({ event: "delete_failed", queue: name, error: String(err) }));
    // The tombstone stays: the queue is gone for every reader, and repeating the DELETE finishes it.
    throw new ApiError("UNAVAILABLE", `queue ${name} is deleted but not every partition is empty yet; repeat the DELETE`);
  }
  await registry(env).forget(name, record.version);
}

/** Deletes ready and delayed messages in every partition; leased ones stay. Answers how many went. */
export async function purgeQueue(env: Env, name: string): Promise<number> {
  const config = await resolveQueue(env, name, false);
  const counts = await Promise.all(partitionsOf(config).map((p) => partitionStub(env, name, p).purge()));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * One page of stored messages, without leasing any: partition after
 * partition, each in its delivery (`seq`) order. The cursor is
 * `<partition>.<last seq>`.
 */
export async function peekMessages(
  env: Env,
  name: string,
  opts: { limit: number; cursor?: string },
): Promise<{ messages: (PeekedRow & { partition: number })[]; cursor: string | null }> {
  const config = await resolveQueue(env, name, false);
  const page = await pageAcrossPartitions(config.partitions, opts.cursor, opts.limit, async (partition, after, limit) => {
    const { messages, next } = await partitionStub(env, name, partition).peek(after, limit);
    return { items: messages.map((m) => ({ ...m, partition })), next };
  });
  return { messages: page.items, cursor: page.cursor };
}
