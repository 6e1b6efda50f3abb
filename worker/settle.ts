/**
 * Settling: acks, nacks and extends of receipts. Each receipt names its
 * partition, so each partition gets its receipts in one call, all
 * partitions at once, and the answers come back in the order given.
 */
import type { ReceiptResult } from "../client/protocol";
import { logEvent, type LeaseOutcome, type LeaseRef } from "../durable-objects/contract";
import { ApiError } from "./errors";
import { partitionStub, resolveQueue } from "./queues";
import { parseReceipt } from "./receipts";

type PartitionStub = ReturnType<typeof partitionStub>;

/**
 * Receipts sorted by partition, each partition's leases in the order given;
 * `results` already holds NOT_FOUND for a partition the queue does not have.
 * Every receipt is parsed before anything is asked of a partition.
 */
export interface Settling {
  receipts: string[];
  results: ReceiptResult[];
  byPartition: Map<number, { index: number; ref: LeaseRef }[]>;
}

export async function sortReceipts(env: Env, queue: string, receipts: string[], field: string): Promise<Settling> {
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
export function answerPartition(s: Settling, partition: number, outcomes: LeaseOutcome[]): void {
  const list = s.byPartition.get(partition)!;
  outcomes.forEach((o, i) => (s.results[list[i].index] = { receipt: s.receipts[list[i].index], ...o }));
}

/** The results in the order given; a consumer that loses leases is too slow for its visibility timeout: worth one line per request. */
export function settled(queue: string, s: Settling): ReceiptResult[] {
  const lost = s.results.filter((r) => r.code === "LEASE_LOST").length;
  if (lost > 0) logEvent("lease_lost", { queue, count: lost, of: s.receipts.length });
  return s.results;
}

/** Sends each partition its leases in one call, all partitions at once, and records the outcomes. */
export async function askEach(
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

