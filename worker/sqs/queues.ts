/**
 * A queue as the SQS face reads it: its registry record (configuration and
 * SQS-only attributes), cached in this isolate as briefly as the v1 API
 * caches a configuration (worker/queues.ts), so sends and receives do not
 * each ask the one registry object. A queue that does not exist is
 * QueueDoesNotExist: SQS creates queues only with CreateQueue.
 */
import type { QueueRecord } from "../../durable-objects/contract";
import { CONFIG_CACHE_MS, registry } from "../queues";
import { SqsError } from "./errors";

const cache = new Map<string, { record: QueueRecord; until: number }>();

export const queueDoesNotExist = () => new SqsError("QueueDoesNotExist", "The specified queue does not exist.");

/** The queue's record, from this isolate's cache when fresh (unless `fresh`). */
export async function sqsQueue(env: Env, name: string, fresh = false): Promise<QueueRecord> {
  const hit = cache.get(name);
  if (!fresh && hit && hit.until > Date.now()) return hit.record;
  const record = await registry(env).get(name);
  if (!record) {
    cache.delete(name);
    throw queueDoesNotExist();
  }
  rememberSqsQueue(record);
  return record;
}

/** Caches a record this isolate just read or wrote. */
export const rememberSqsQueue = (record: QueueRecord) => cache.set(record.name, { record, until: Date.now() + CONFIG_CACHE_MS });

/** Forgets a queue this isolate deleted. */
export const forgetSqsQueue = (name: string) => cache.delete(name);
