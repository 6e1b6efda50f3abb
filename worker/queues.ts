import type { QueueConfig } from "../client/protocol";
import { ApiError } from "./errors";

/** How long a worker isolate trusts its copy of a queue's configuration. */
export const CONFIG_CACHE_MS = 5_000;

const cache = new Map<string, { config: QueueConfig; until: number }>();

export const registry = (env: Env) => env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry"));

/** The Durable Object of one partition of a queue. */
export const partitionStub = (env: Env, queue: string, partition: number) =>
  env.QUEUE_PARTITION.get(env.QUEUE_PARTITION.idFromName(`${queue}/${partition}`));

const autoCreate = (env: Env) => String(env.EDGEQ_AUTO_CREATE_QUEUES) !== "false";

/** Forgets the cached configuration (after this isolate changed it). */
export const forgetQueue = (name: string) => cache.delete(name);

/**
 * A queue's configuration, from this isolate's cache when fresh. A queue
 * that does not exist is created with the defaults when auto-create is on,
 * and answers QUEUE_NOT_FOUND when it is off (or `create` is false).
 */
export async function resolveQueue(env: Env, name: string, create = true): Promise<QueueConfig> {
  const now = Date.now();
  const hit = cache.get(name);
  if (hit && hit.until > now) return hit.config;
  let config: QueueConfig | null;
  if (create && autoCreate(env)) {
    const ensured = await registry(env).ensure(name);
    config = ensured.config;
    if (ensured.created) await Promise.all(partitionsOf(config).map((p) => partitionStub(env, name, p).configure(config!)));
  } else {
    config = await registry(env).get(name);
  }
  if (!config) throw new ApiError("QUEUE_NOT_FOUND", `queue ${name} does not exist`);
  cache.set(name, { config, until: now + CONFIG_CACHE_MS });
  return config;
}

export const partitionsOf = (config: QueueConfig): number[] => Array.from({ length: config.partitions }, (_, i) => i);
