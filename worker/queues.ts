import type { QueueConfig } from "../client/protocol";
import type { QueueRecord } from "../durable-objects/contract";
import { ApiError } from "./errors";

/**
 * How long a worker isolate trusts its copy of a queue's configuration.
 * Partitions apply a change at once (it is pushed to them); what this cache
 * delays, in other isolates only, is routing (a new partition count) and
 * whether a queue exists.
 */
export const CONFIG_CACHE_MS = 5_000;

const cache = new Map<string, { config: QueueConfig; until: number }>();

export const registry = (env: Env) => env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry"));

/** The Durable Object of one partition of a queue. */
export const partitionStub = (env: Env, queue: string, partition: number) =>
  env.QUEUE_PARTITION.get(env.QUEUE_PARTITION.idFromName(`${queue}/${partition}`));

/** Whether a queue that does not exist is created on first use. Default on. */
export const autoCreate = (env: Env) => String(env.EDGEQ_AUTO_CREATE_QUEUES) !== "false";

/** Forgets the cached configuration (after this isolate changed or deleted the queue). */
export const forgetQueue = (name: string) => cache.delete(name);

/** Caches a configuration this isolate just wrote. */
export const rememberQueue = (name: string, config: QueueConfig) =>
  cache.set(name, { config, until: Date.now() + CONFIG_CACHE_MS });

/** Forgets every cached configuration (tests share the worker's isolate). */
export const clearQueueCache = () => cache.clear();

/**
 * Pushes a configuration to every partition of the queue, each with its
 * index (which sets its share of the limits) and the registry version (so a
 * late, older push is ignored).
 */
export async function configurePartitions(env: Env, record: QueueRecord): Promise<void> {
  await Promise.all(
    partitionsOf(record.config).map((p) => partitionStub(env, record.name, p).configure(record.config, record.version, p, record.pushSecrets)),
  );
}

/**
 * A queue's configuration, from this isolate's cache when fresh (unless
 * `fresh`). A queue that does not exist is created with the defaults when
 * auto-create is on and `create` is true, and answers QUEUE_NOT_FOUND
 * otherwise.
 */
export async function resolveQueue(env: Env, name: string, create = true, fresh = false): Promise<QueueConfig> {
  const hit = cache.get(name);
  if (!fresh && hit && hit.until > Date.now()) return hit.config;
  return (await loadQueue(env, name, create)).config;
}

/** The queue's registry entry (created when allowed), cached. */
async function loadQueue(env: Env, name: string, create: boolean): Promise<QueueRecord> {
  let record: QueueRecord | null;
  if (create && autoCreate(env)) {
    const ensured = await registry(env).ensure(name);
    record = ensured.record;
    if (ensured.created) await configurePartitions(env, record);
  } else {
    record = await registry(env).get(name);
  }
  if (!record) {
    forgetQueue(name);
    throw new ApiError("QUEUE_NOT_FOUND", `queue ${name} does not exist`);
  }
  rememberQueue(name, record.config);
  return record;
}

/**
 * Called when partitions answered UNCONFIGURED (they were deleted, so this
 * isolate's view is stale): reads the queue afresh, re-creating it when
 * auto-create allows, and configures those partitions again when the queue
 * exists in the registry. A partition is only ever configured from the
 * registry, so no message is stored in a queue without its entry.
 */
export async function repairPartitions(env: Env, name: string, partitions: number[]): Promise<QueueConfig> {
  const record = await loadQueue(env, name, true);
  await Promise.all(
    partitions
      .filter((p) => p < record.config.partitions)
      .map((p) => partitionStub(env, name, p).configure(record.config, record.version, p, record.pushSecrets)),
  );
  return record.config;
}

export const partitionsOf = (config: QueueConfig): number[] => Array.from({ length: config.partitions }, (_, i) => i);
