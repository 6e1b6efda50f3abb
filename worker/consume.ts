/**
 * Consuming: receives that lease messages, in a fair order over the
 * queue's partitions; long-polls that wait for a partition to push
 * (long-poll.ts); and acks carried on a receive.
 */
import type { QueueConfig, ReceiptResult } from "../client/protocol";
import { ACK_HEADER, ackedOf, ackHeader, DONE_MESSAGE, type LeaseOutcome, type LeaseRef, type LeasedMessage } from "../durable-objects/contract";
import { ApiError } from "./errors";
import { waitForMessages, type WaitTarget } from "./long-poll";
import { fairOrder } from "./partitions";
import { partitionStub, resolveQueue } from "./queues";
import { formatReceipt } from "./receipts";
import { answerPartition, askEach, settled, sortReceipts } from "./settle";

/** A queue that pushes is not pulled from: its partitions deliver every message themselves (docs/push.md). */
export function refusePullOnPush(queue: string, config: Pick<QueueConfig, "push">): void {
  if (config.push === null) return;
  const target = config.push.url !== undefined ? "an endpoint" : `the Worker behind ${config.push.service}`;
  throw new ApiError("CONFLICT", `queue ${queue} delivers by push to ${target}: it cannot be received from; set push to null to pull`);
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
  /** Called once when the receive is about to wait: everything that can fail before the wait has passed. Default none. */
  onWait?: () => void;
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
  refusePullOnPush(queue, config);
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
  refusePullOnPush(queue, config);
  const leaseMs = opts.visibilityTimeoutMs ?? config.visibilityTimeoutMs;
  const gone = () => opts.signal?.aborted === true;
  const waitMs = opts.waitMs ?? 0;
  let out: Leased[] = [];
  const direct = straightToWait(config, waitMs);
  const take = async (partition: number) => {
    const { messages, pushes } = await partitionStub(env, queue, partition).receive(opts.max - out.length, leaseMs);
    // This isolate's copy of the configuration is older than the partition's.
    if (pushes) refusePullOnPush(queue, await resolveQueue(env, queue, false, true));
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
      const connect = async (url: string) => {
        // Acks go with the first upgrade only: a reconnect must not ack again.
        const acks = direct && carried && !carried.sent ? carried : null;
        if (!acks) return stub.fetch(url, { headers: { upgrade: "websocket" } });
        acks.sent = true;
        const res = await stub.fetch(url, {
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
    opts.onWait?.();
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
export async function releaseLeases(env: Env, queue: string, leased: Leased[]): Promise<void> {
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

