/**
 * Producing: a request's messages checked, routed to their partitions and
 * stored, each partition's share in one transaction.
 */
import type { QueueConfig, SendMessage, SentMessage } from "../client/protocol";
import { packBatch, type EnqueueItem } from "../durable-objects/contract";
import { ApiError } from "./errors";
import { nextSpread, partitionFor, routingKey } from "./partitions";
import { partitionStub, repairPartitions, resolveQueue } from "./queues";

const encoder = new TextEncoder();

/**
 * Refuses a message whose body and attributes, as JSON text, take more than
 * `max` bytes of UTF-8. A UTF-16 code unit takes 1 to 3 bytes, so text of at
 * most `max / 3` units cannot be too large and is not encoded at all.
 */
export function checkSize(body: string, attributes: string | null, max: number, at: () => string): void {
  const units = body.length + (attributes === null ? 0 : attributes.length);
  if (units * 3 <= max) return;
  const bytes = encoder.encode(body).length + (attributes === null ? 0 : encoder.encode(attributes).length);
  if (bytes > max) throw new ApiError("PAYLOAD_TOO_LARGE", `${at()} is ${bytes} bytes; maxMessageBytes is ${max}`);
}

/**
 * Enqueues messages in the order given; each partition stores its share in
 * one transaction. Messages without a routing key all go to one partition
 * (round-robin per batch). A batch that spans several partitions of a queue
 * with a maxDepth first reserves room in each, so it is stored or refused
 * whole. Partitions that answer UNCONFIGURED (the queue was deleted since
 * this isolate cached it) make it read the queue again and re-route.
 *
 * Each request sends its own RPC to each partition it writes to: concurrent
 * enqueues meet in the partition's group commit, never in this isolate, so
 * a request's outcome depends on no other request's lifetime.
 *
 * `minDedupWindowMs` keeps the messages' dedup ids at least that long,
 * whatever the queue's window (see EnqueueBatch); default the queue's.
 * `sizeChecked`: the caller has held each message to maxMessageBytes by its
 * own measure (SQS counts a body's text, not its JSON); default false.
 */
export async function sendMessages(
  env: Env,
  queue: string,
  input: SendMessage[],
  opts: { minDedupWindowMs?: number; sizeChecked?: boolean } = {},
): Promise<SentMessage[]> {
  let config = await resolveQueue(env, queue);
  const items: EnqueueItem[] = new Array(input.length);
  for (let index = 0; index < input.length; index++) {
    const m = input[index];
    const body = JSON.stringify(m.body);
    const attributes = m.attributes === undefined ? null : JSON.stringify(m.attributes);
    if (!opts.sizeChecked) checkSize(body, attributes, config.maxMessageBytes, () => (input.length > 1 ? `messages[${index}]` : "message"));
    items[index] = {
      id: crypto.randomUUID(),
      body,
      attributes,
      delayMs: m.delayMs ?? 0,
      groupId: m.groupId ?? null,
      dedupId: m.dedupId ?? null,
    };
  }

  const sent: SentMessage[] = new Array(input.length);
  let pending = input.map((_, index) => index);
  for (let round = 0; ; round++) {
    const spread = nextSpread(config);
    const byPartition = new Map<number, number[]>();
    for (const index of pending) {
      const partition = partitionFor(config, routingKey(input[index]), spread);
      const indexes = byPartition.get(partition);
      if (indexes) indexes.push(index);
      else byPartition.set(partition, [index]);
    }
    const reservations = await reserveRoom(env, queue, config, byPartition);
    const stale: number[] = [];
    const staleIndexes: number[] = [];
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const share = packBatch(indexes.length === items.length ? items : indexes.map((i) => items[i]), opts.minDedupWindowMs);
        const reservation = reservations.get(partition) ?? undefined;
        const outcome = await partitionStub(env, queue, partition).enqueue(share, reservation);
        if (outcome.ok) return outcome.results.forEach((r, i) => (sent[indexes[i]] = r));
        if (outcome.code === "UNCONFIGURED") return void (stale.push(partition), staleIndexes.push(...indexes));
        // Only reachable for a batch in one partition (several reserve first), so nothing was stored.
        throw queueFull(queue, config, outcome);
      }),
    );
    if (stale.length === 0) return sent;
    if (round >= 2) throw new ApiError("UNAVAILABLE", `queue ${queue} is being deleted or re-created; retry`);
    config = await repairPartitions(env, queue, stale);
    pending = staleIndexes.sort((a, b) => a - b);
  }
}

/** Reserves room in every partition of a multi-partition batch when the queue has a maxDepth; refuses whole if one is full. */
async function reserveRoom(
  env: Env,
  queue: string,
  config: QueueConfig,
  byPartition: Map<number, number[]>,
): Promise<Map<number, string | null>> {
  const reservations = new Map<number, string | null>();
  if (config.maxDepth === null || byPartition.size < 2) return reservations;
  const outcomes = await Promise.all(
    [...byPartition].map(async ([partition, indexes]) => {
      const outcome = await partitionStub(env, queue, partition).reserve(indexes.length);
      if (outcome.ok) reservations.set(partition, outcome.reservation);
      return outcome;
    }),
  );
  const refused = outcomes.find((o) => !o.ok);
  // UNCONFIGURED partitions are dealt with by the enqueue that follows.
  if (refused && !refused.ok && refused.code === "QUEUE_FULL") {
    await Promise.all(
      [...reservations].map(([p, r]) => (r === null ? null : partitionStub(env, queue, p).release(r))),
    );
    throw queueFull(queue, config, refused);
  }
  return reservations;
}

function queueFull(
  queue: string,
  config: QueueConfig,
  full: { depth: number; maxDepth: number; retryAfterMs: number },
): ApiError {
  const share = config.partitions > 1 ? ` (a partition holds ${full.depth} of its share of ${full.maxDepth})` : "";
  return new ApiError(
    "QUEUE_FULL",
    `queue ${queue} is at its maxDepth of ${config.maxDepth}${share}; nothing of this request was stored`,
    { "retry-after": String(Math.ceil(full.retryAfterMs / 1000)) },
  );
}

