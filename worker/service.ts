/**
 * The queue operations, one function each, shared by the HTTP routes and the
 * service-binding RPC entrypoint. Inputs are already validated; errors are
 * thrown as ApiError with a code from the closed set.
 */
import type {
  DeadLetterPage,
  QueueConfig,
  QueueStats,
  ReceiptResult,
  SendMessage,
  SentMessage,
} from "../client/protocol";
import type { EnqueueItem, LeaseOutcome, LeaseRef, LeasedMessage } from "../durable-objects/partition/types";
import { logEvent } from "../durable-objects/log";
import { packBatch } from "../durable-objects/partition/enqueue";
import { ACK_HEADER, ackedOf, ackHeader, DONE_MESSAGE } from "../durable-objects/partition/waiters";
import { enqueueInLine } from "./enqueue-line";
import { ApiError } from "./errors";
import { waitForMessages, type WaitTarget } from "./long-poll";
import { fairOrder, nextSpread, pageAcrossPartitions, partitionFor, routingKey } from "./partitions";
import { partitionStub, partitionsOf, registry, repairPartitions, resolveQueue } from "./queues";
import { formatReceipt, parseReceipt } from "./receipts";
import { summarizeStats } from "./stats";

const encoder = new TextEncoder();

/**
 * Refuses a message whose body and attributes, as JSON text, take more than
 * `max` bytes of UTF-8. A UTF-16 code unit takes 1 to 3 bytes, so text of at
 * most `max / 3` units cannot be too large and is not encoded at all.
 */
function checkSize(body: string, attributes: string | null, max: number, at: () => string): void {
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
 * With `waitUntil`, a share that reserved nothing joins the partition's
 * enqueue line (enqueue-line.ts): it may share an RPC with enqueues of
 * other requests of this isolate. `arrived` is called when the shares are
 * about to be sent (the request counted by `headFor` has reached the line).
 */
export async function sendMessages(
  env: Env,
  queue: string,
  input: SendMessage[],
  opts: { waitUntil?: (promise: Promise<unknown>) => void; arrived?: () => void } = {},
): Promise<SentMessage[]> {
  let config = await resolveQueue(env, queue);
  const items: EnqueueItem[] = new Array(input.length);
  for (let index = 0; index < input.length; index++) {
    const m = input[index];
    const body = JSON.stringify(m.body);
    const attributes = m.attributes === undefined ? null : JSON.stringify(m.attributes);
    checkSize(body, attributes, config.maxMessageBytes, () => (input.length > 1 ? `messages[${index}]` : "message"));
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
    opts.arrived?.();
    const stale: number[] = [];
    const staleIndexes: number[] = [];
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const share = packBatch(indexes.length === items.length ? items : indexes.map((i) => items[i]));
        const reservation = reservations.get(partition) ?? undefined;
        const outcome = await (reservation === undefined && opts.waitUntil
          ? lined(enqueueInLine(env, queue, partition, share), opts.waitUntil)
          : partitionStub(env, queue, partition).enqueue(share, reservation));
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

/** Keeps the request's context alive until its place in an enqueue line is answered (it may send the line's next RPC). */
function lined<T>(outcome: Promise<T>, waitUntil: (promise: Promise<unknown>) => void): Promise<T> {
  waitUntil(outcome.catch(() => undefined));
  return outcome;
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

/** A leased message with its partition, body still JSON text. */
export interface Leased {
  partition: number;
  message: LeasedMessage;
}

export interface ReceiveOptions {
  /** Messages to lease, 1..100. */
  max: number;
  /** Lease length; default the queue's visibilityTimeoutMs. */
  visibilityTimeoutMs?: number;
  /** Long-poll: how long to wait when nothing is ready, 0..20000 ms. Default 0 (answer at once). */
  waitMs?: number;
  /** The consumer's request signal: once aborted nothing more is leased, and a lease that lands anyway is released. Default none. */
  signal?: AbortSignal;
  /** ExecutionContext.waitUntil: keeps those releases (and a long-poll's listening for crossing pushes) running after the answer. Default none. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * From this many partitions on, a receive that its first partition did not
 * fill asks all the others at once how many they could deliver, then
 * leases only from those that have some: one parallel round instead of
 * asking one empty partition after another.
 */
const PROBE_FROM_PARTITIONS = 3;

/**
 * Leases up to `max` messages, asking the partitions in a fair order; with
 * nothing ready and `waitMs` > 0, waits for a partition to lease messages to
 * the wait and push them (worker/long-poll.ts), and answers empty after
 * `waitMs`. When the delivery rate ran out of tokens, the wait lasts until a
 * partition has a token again (the partition sets its alarm for it and
 * serves its waiters) rather than answering empty.
 */
export function receiveMessages(env: Env, queue: string, opts: ReceiveOptions, carried?: CarriedAcks): Promise<Leased[]> {
  const work = receiveOrWait(env, queue, opts, carried);
  opts.waitUntil?.(work.catch(() => undefined));
  return work;
}

/**
 * A long-poll on one partition goes straight to its socket: the partition leases what is ready as the
 * waiter arrives and pushes it at once, which saves the receive call (one round trip, one group-commit
 * pass). With several partitions each would push to the same wait, so they are asked in turn first.
 */
const straightToWait = (config: QueueConfig, waitMs: number | undefined) => (waitMs ?? 0) > 0 && config.partitions === 1;

/** Acks that ride on the upgrade of a wait that goes straight to partition 0's socket; sent at most once. */
interface CarriedAcks {
  refs: LeaseRef[];
  sent: boolean;
  outcomes: LeaseOutcome[] | null;
}

/**
 * Acks `receipts`, then receives as `receiveMessages` does: a consumer acks
 * its last messages with its next receive, one request instead of two.
 * When the receive goes straight to a partition's socket, the acks ride on
 * the upgrade, and the partition acks them in the group commit that then
 * serves the wait (an ack that makes room can serve it at once). Otherwise
 * each partition acks first, then the receive runs. Every receipt is
 * checked before anything is acked or leased. Like the receive, the work
 * runs under `waitUntil`, so that acks still land when the consumer leaves.
 */
export function ackAndReceive(
  env: Env,
  queue: string,
  receipts: string[],
  opts: ReceiveOptions,
): Promise<{ ackResults: ReceiptResult[]; leased: Leased[] }> {
  const work = ackThenReceive(env, queue, receipts, opts);
  opts.waitUntil?.(work.catch(() => undefined));
  return work;
}

async function ackThenReceive(
  env: Env,
  queue: string,
  receipts: string[],
  opts: ReceiveOptions,
): Promise<{ ackResults: ReceiptResult[]; leased: Leased[] }> {
  const s = await sortReceipts(env, queue, receipts, "ack");
  const config = await resolveQueue(env, queue);
  let carried: CarriedAcks | undefined;
  if (straightToWait(config, opts.waitMs) && s.byPartition.has(0)) {
    carried = { refs: s.byPartition.get(0)!.map((l) => l.ref), sent: false, outcomes: null };
  } else {
    await askEach(env, queue, s, (stub, refs) => stub.ack(refs));
  }
  const leased = await receiveMessages(env, queue, opts, carried);
  if (carried) {
    // A consumer that left before the wait began never sent them: they are acked all the same.
    answerPartition(s, 0, carried.sent ? carried.outcomes! : await partitionStub(env, queue, 0).ack(carried.refs));
  }
  return { ackResults: settled(queue, s), leased };
}

async function receiveOrWait(env: Env, queue: string, opts: ReceiveOptions, carried?: CarriedAcks): Promise<Leased[]> {
  const config = await resolveQueue(env, queue);
  const leaseMs = opts.visibilityTimeoutMs ?? config.visibilityTimeoutMs;
  const gone = () => opts.signal?.aborted === true;
  const waitMs = opts.waitMs ?? 0;
  let out: Leased[] = [];
  const direct = straightToWait(config, waitMs);
  const take = async (partition: number) => {
    const { messages } = await partitionStub(env, queue, partition).receive(opts.max - out.length, leaseMs);
    for (const message of messages) out.push({ partition, message });
  };
  let order = direct ? [] : fairOrder(config);
  if (order.length >= PROBE_FROM_PARTITIONS) {
    // The first in turn is asked straight away: on a busy queue it fills the receive alone.
    await take(order[0]);
    const others = out.length >= opts.max || gone() ? [] : order.slice(1);
    const counts = await Promise.all(others.map((p) => partitionStub(env, queue, p).deliverable(opts.max - out.length)));
    order = others.filter((_, i) => counts[i] > 0);
  }
  for (const partition of order) {
    if (out.length >= opts.max || gone()) break;
    await take(partition);
  }
  if (out.length === 0 && waitMs > 0 && !gone()) {
    const targets = fairOrder(config).map((partition): WaitTarget => {
      const stub = partitionStub(env, queue, partition);
      const connect = async (path: string) => {
        // Acks go with the first upgrade only: a reconnect must not ack again.
        const acks = direct && carried && !carried.sent ? carried : null;
        if (!acks) return stub.fetch(`https://partition${path}`, { headers: { upgrade: "websocket" } });
        acks.sent = true;
        const res = await stub.fetch(`https://partition${path}`, {
          headers: { upgrade: "websocket", [ACK_HEADER]: ackHeader(acks.refs) },
        });
        acks.outcomes = res.status === 101 ? ackedOf(res, acks.refs.length) : null;
        if (res.status === 101 && !acks.outcomes) {
          // Not expected of a partition of this same script: its wait is ended unheard, and the consumer told to retry.
          res.webSocket?.accept();
          res.webSocket?.send(DONE_MESSAGE);
          throw new ApiError("UNAVAILABLE", `partition ${partition} did not answer the acks; retry them`);
        }
        return res;
      };
      return { partition, connect };
    });
    const pushed = await waitForMessages(targets, {
      max: opts.max,
      visibilityTimeoutMs: leaseMs,
      waitMs,
      signal: opts.signal,
      release: (partition, messages) => releaseLeases(env, queue, messages.map((message) => ({ partition, message }))),
      waitUntil: opts.waitUntil,
    });
    out = pushed ? pushed.messages.map((message) => ({ partition: pushed.partition, message })) : [];
  }
  if (out.length > 0 && gone()) {
    await releaseLeases(env, queue, out);
    return [];
  }
  return out;
}

/** Gives leases back untouched (ready again, the attempt not counted). */
async function releaseLeases(env: Env, queue: string, leased: Leased[]): Promise<void> {
  const byPartition = new Map<number, LeaseRef[]>();
  for (const { partition, message } of leased) {
    const refs = byPartition.get(partition) ?? [];
    refs.push({ seq: message.seq, token: message.leaseToken });
    byPartition.set(partition, refs);
  }
  await Promise.all(
    [...byPartition].map(([partition, refs]) => partitionStub(env, queue, partition).releaseLeases(refs)),
  );
}

/** A leased message as wire JSON; the body is spliced in as stored, never parsed. */
export function leasedJson({ partition, message: m }: Leased): string {
  const head = JSON.stringify({ id: m.id, seq: m.seq }).slice(0, -1);
  const tail = JSON.stringify({
    attempts: m.attempts,
    enqueuedAt: m.enqueuedAt,
    receipt: formatReceipt(partition, m.seq, m.leaseToken),
    leaseExpiresAt: m.leaseExpiresAt,
    ...(m.groupId === null ? {} : { groupId: m.groupId }),
  }).slice(1);
  return `${head},"body":${m.body},"attributes":${m.attributes ?? "{}"},${tail}`;
}

type PartitionStub = ReturnType<typeof partitionStub>;

/**
 * Receipts sorted by partition, each partition's leases in the order given;
 * `results` already holds NOT_FOUND for a partition the queue does not have.
 * Every receipt is parsed before anything is asked of a partition.
 */
interface Settling {
  receipts: string[];
  results: ReceiptResult[];
  byPartition: Map<number, { index: number; ref: LeaseRef }[]>;
}

async function sortReceipts(env: Env, queue: string, receipts: string[], field: string): Promise<Settling> {
  let config = await resolveQueue(env, queue, false);
  // A receipt from a partition this isolate does not know yet: the queue grew since it cached it.
  if (receipts.some((r) => (parseReceipt(r)?.partition ?? 0) >= config.partitions)) {
    config = await resolveQueue(env, queue, false, true);
  }
  const results: ReceiptResult[] = new Array(receipts.length);
  const byPartition = new Map<number, { index: number; ref: LeaseRef }[]>();
  receipts.forEach((receipt, index) => {
    const parsed = parseReceipt(receipt);
    if (!parsed) throw new ApiError("INVALID_REQUEST", `${field}[${index}]: not a receipt`);
    if (parsed.partition >= config.partitions) {
      results[index] = { receipt, ok: false, code: "NOT_FOUND" };
      return;
    }
    const list = byPartition.get(parsed.partition) ?? [];
    list.push({ index, ref: { seq: parsed.seq, token: parsed.token } });
    byPartition.set(parsed.partition, list);
  });
  return { receipts, results, byPartition };
}

/** Records a partition's outcomes, in the order its leases were sent. */
function answerPartition(s: Settling, partition: number, outcomes: LeaseOutcome[]): void {
  const list = s.byPartition.get(partition)!;
  outcomes.forEach((o, i) => (s.results[list[i].index] = { receipt: s.receipts[list[i].index], ...o }));
}

/** The results in the order given; a consumer that loses leases is too slow for its visibility timeout: worth one line per request. */
function settled(queue: string, s: Settling): ReceiptResult[] {
  const lost = s.results.filter((r) => r.code === "LEASE_LOST").length;
  if (lost > 0) logEvent("lease_lost", { queue, count: lost, of: s.receipts.length });
  return s.results;
}

/** Sends each partition its leases in one call, all partitions at once, and records the outcomes. */
async function askEach(
  env: Env,
  queue: string,
  s: Settling,
  call: (stub: PartitionStub, refs: LeaseRef[]) => Promise<LeaseOutcome[]>,
): Promise<void> {
  await Promise.all(
    [...s.byPartition].map(async ([partition, list]) =>
      answerPartition(s, partition, await call(partitionStub(env, queue, partition), list.map((l) => l.ref))),
    ),
  );
}

/** Sends each partition its receipts in one call and answers in the order given. */
async function settle(
  env: Env,
  queue: string,
  receipts: string[],
  call: (stub: PartitionStub, refs: LeaseRef[]) => Promise<LeaseOutcome[]>,
): Promise<ReceiptResult[]> {
  const s = await sortReceipts(env, queue, receipts, "receipts");
  await askEach(env, queue, s, call);
  return settled(queue, s);
}

export const ackMessages = (env: Env, queue: string, receipts: string[]) =>
  settle(env, queue, receipts, (stub, refs) => stub.ack(refs));

export const nackMessages = (
  env: Env,
  queue: string,
  receipts: string[],
  opts: { delayMs?: number; error?: string } = {},
) => settle(env, queue, receipts, (stub, refs) => stub.nack(refs, opts.delayMs ?? null, opts.error ?? null));

export const extendLeases = (env: Env, queue: string, receipts: string[], visibilityTimeoutMs: number) =>
  settle(env, queue, receipts, (stub, refs) => stub.extend(refs, visibilityTimeoutMs));

export async function queueStats(env: Env, queue: string): Promise<QueueStats> {
  const config = await resolveQueue(env, queue, false);
  return statsOf(env, queue, config);
}

async function statsOf(env: Env, queue: string, config: QueueConfig): Promise<QueueStats> {
  const parts = await Promise.all(partitionsOf(config).map((p) => partitionStub(env, queue, p).stats()));
  return summarizeStats(parts, Date.now());
}

/** Queues asked for their stats at once by allQueueStats: bounds the partition calls in flight. */
const STATS_CONCURRENCY = 16;

/**
 * Every queue of the registry with its configuration and stats, by name. A
 * queue whose partitions cannot answer is left out (and logged), so one bad
 * queue does not blank a whole scrape or dashboard.
 */
export async function allQueueStats(env: Env): Promise<{ name: string; config: QueueConfig; stats: QueueStats }[]> {
  const queues = await registry(env).list();
  const out: { name: string; config: QueueConfig; stats: QueueStats }[] = [];
  for (let i = 0; i < queues.length; i += STATS_CONCURRENCY) {
    const settled = await Promise.allSettled(
      queues.slice(i, i + STATS_CONCURRENCY).map(async (q) => ({ ...q, stats: await statsOf(env, q.name, q.config) })),
    );
    settled.forEach((r, j) => {
      if (r.status === "fulfilled") out.push(r.value);
      else logEvent("internal_error", { queue: queues[i + j].name, during: "stats", error: String(r.reason) });
    });
  }
  return out;
}

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
