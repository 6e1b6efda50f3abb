/** Sends one push batch to its target, whichever kind, and answers how it went; never rejects. */
import { logEventThrottled } from "../log";
import type { PushOutcome } from "../partition/push-settle";
import { retryAll, type PushBatch } from "./batch";
import { postBatch } from "./http";
import { callWorker } from "./worker";

/**
 * POSTs the batch to its endpoint or hands it to its Worker. A failure is
 * logged (at most one line per queue every 10 s), never thrown: the batch
 * is then retried as any failed delivery.
 */
export async function sendBatch(env: object, batch: PushBatch): Promise<PushOutcome> {
  let outcome: PushOutcome;
  try {
    outcome = batch.push.url !== undefined ? await postBatch(batch) : await callWorker(env, batch);
  } catch (err) {
    const retry = retryAll(batch.messages);
    outcome = { latencyMs: 0, retry, error: `push failed: ${String(err).slice(0, 200)}`, failure: "handler", pausedUntil: null };
  }
  if (outcome.failure !== null) {
    logEventThrottled(`push_failed:${batch.queue}`, "push_failed", { queue: batch.queue, failure: outcome.failure, error: outcome.error });
  }
  return outcome;
}
