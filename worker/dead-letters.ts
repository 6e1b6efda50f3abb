/**
 * A queue's dead letters across its partitions: list a page, redrive, delete.
 */
import type { DeadLetterPage } from "../client/protocol";
import { ApiError } from "./errors";
import { pageAcrossPartitions } from "./partitions";
import { partitionStub, partitionsOf, resolveQueue } from "./queues";

/**
 * One page of dead letters, partition after partition; the cursor is
 * `<partition>.<last dead-letter seq>`. Bodies stay JSON text (`rawBody`).
 */
export async function listDeadLetters(
  env: Env,
  queue: string,
  opts: { limit: number; cursor?: string },
): Promise<{ deadLetters: (Omit<DeadLetterPage["deadLetters"][number], "body" | "attributes"> & { body: string; attributes: string | null })[]; cursor: string | null }> {
  const config = await resolveQueue(env, queue, false);
  const page = await pageAcrossPartitions(config.partitions, opts.cursor, opts.limit, async (partition, after, limit) => {
    const { deadLetters, next } = await partitionStub(env, queue, partition).deadLetters(after, limit);
    return { items: deadLetters.map(({ groupId, ...rest }) => (groupId === null ? rest : { ...rest, groupId })), next };
  });
  return { deadLetters: page.items, cursor: page.cursor };
}

/**
 * Puts dead letters back, oldest first in each partition, as many as the
 * queue's maxDepth has room for; `remaining` counts those asked for that did
 * not fit. When none fit, answers QUEUE_FULL (nothing moved).
 */
export async function redriveDeadLetters(
  env: Env,
  queue: string,
  ids: string[] | null,
): Promise<{ redriven: number; remaining: number }> {
  const config = await resolveQueue(env, queue, false);
  const results = await Promise.all(partitionsOf(config).map((p) => partitionStub(env, queue, p).redrive(ids)));
  const redriven = results.reduce((sum, r) => sum + r.redriven, 0);
  const remaining = results.reduce((sum, r) => sum + r.remaining, 0);
  if (redriven === 0 && remaining > 0) {
    throw new ApiError(
      "QUEUE_FULL",
      `queue ${queue} is at its maxDepth of ${config.maxDepth}; none of the ${remaining} dead letters was redriven`,
      { "retry-after": "1" },
    );
  }
  return { redriven, remaining };
}

export async function deleteDeadLetters(env: Env, queue: string, ids: string[] | null): Promise<number> {
  const config = await resolveQueue(env, queue, false);
  const counts = await Promise.all(
    partitionsOf(config).map((p) => partitionStub(env, queue, p).deleteDeadLetters(ids)),
  );
  return counts.reduce((a, b) => a + b, 0);
}
