/** Direct calls on a partition object, unwrapped for tests that work inside the storage side. */
import type { EnqueueItem } from "../durable-objects/partition/types";
import type { partition } from "./helpers";

type Stub = ReturnType<typeof partition>;

/** A message as the worker hands it to a partition. */
export const item = (body: unknown, extra: Partial<EnqueueItem> = {}): EnqueueItem => ({
  body: JSON.stringify(body),
  attributes: null,
  delayMs: 0,
  groupId: null,
  dedupId: null,
  ...extra,
});

/** Enqueues and answers the results; a refusal fails the test. */
export async function store(stub: Stub, items: EnqueueItem[]) {
  const outcome = await stub.enqueue(items);
  if (!outcome.ok) throw new Error(`enqueue refused: ${outcome.code}`);
  return outcome.results;
}

/** Leases and answers the messages. */
export async function lease(stub: Stub, max: number, visibilityTimeoutMs: number, waiter?: string) {
  return (await stub.receive(max, visibilityTimeoutMs, waiter)).messages;
}
