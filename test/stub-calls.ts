/** Direct calls on a partition object, unwrapped for tests that work inside the storage side. */
import { packBatch, type EnqueueItem } from "../durable-objects/contract";
import { env } from "cloudflare:test";
import type { partition } from "./helpers";

type Stub = ReturnType<typeof partition>;

/** A message as the worker hands it to a partition; `store` gives it an id when it has none. */
export type StubItem = Omit<EnqueueItem, "id"> & { id?: string };

/** A message as the worker hands it to a partition. */
export const item = (body: unknown, extra: Partial<EnqueueItem> = {}): StubItem => ({
  body: JSON.stringify(body),
  attributes: null,
  delayMs: 0,
  groupId: null,
  dedupId: null,
  ...extra,
});

/** The batch the worker would send for `items`. */
export const batchOf = (items: StubItem[]) => packBatch(items.map((m) => ({ id: crypto.randomUUID(), ...m })));

/** Enqueues and answers the results; a refusal fails the test. */
export async function store(stub: Stub, items: StubItem[]) {
  const outcome = await stub.enqueue(batchOf(items));
  if (!outcome.ok) throw new Error(`enqueue refused: ${outcome.code}`);
  return outcome.results;
}

/** Leases and answers the messages. */
export async function lease(stub: Stub, max: number, visibilityTimeoutMs: number) {
  return (await stub.receive(max, visibilityTimeoutMs)).messages;
}

/**
 * An Env whose partition stubs run `replace(original)` in place of their
 * method `key`, every other call unchanged: for tests that act at the
 * moment a Worker calls a partition (a consumer leaving mid-call). `base`
 * (default the test's env) lets two of them wrap one another.
 */
export function envWithPartitionMethod(
  key: "fetch" | "receive" | "ack" | "enqueue",
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  replace: (original: (...args: any[]) => Promise<any>) => (...args: any[]) => Promise<any>,
  base: Env = env,
): Env {
  const ns = base.QUEUE_PARTITION;
  return {
    ...base,
    QUEUE_PARTITION: {
      idFromName: (name: string) => ns.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = ns.get(id);
        return new Proxy(stub, {
          get(target, name) {
            // RPC stub methods are called by name: a stub method has no `apply` of its own.
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            const call = (...args: unknown[]) => (target as any)[name](...args);
            return name === key ? replace(call) : call;
          },
        });
      },
    },
  } as unknown as Env;
}
