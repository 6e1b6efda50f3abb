/**
 * Push to a Worker through a service binding of edgeq: one RPC per batch
 * to the method the `edgeqConsumer` adapter adds (client/consumer.ts),
 * which runs the Worker's Cloudflare Queues handler and answers each
 * message's outcome.
 *
 * Why an adapter and not `Fetcher.queue()`: calling a Worker's `queue`
 * handler over a service binding needs workerd's
 * `service_binding_extra_handlers` flag, which is experimental and so not
 * accepted for a deployed Worker (it is what Miniflare's own queue broker
 * uses locally).
 */
import { PUSH_RPC_METHOD, type PushAnswer, type PushDelivery } from "../../client/protocol";
import type { PushOutcome } from "../partition/push-settle";
import { pushedMessage, retriesOf, retryAll, type PushBatch } from "./batch";

type Consumer = Record<typeof PUSH_RPC_METHOD, (delivery: PushDelivery) => Promise<PushAnswer>>;

/** Hands a batch to its Worker and answers how it went; a handler that threw retries what it did not ack. */
export async function callWorker(env: object, batch: PushBatch): Promise<PushOutcome> {
  const { push, messages } = batch;
  const started = Date.now();
  const all = retryAll(messages);
  const failed = (failure: PushOutcome["failure"], error: string): PushOutcome => ({
    latencyMs: Date.now() - started,
    retry: all,
    error,
    failure,
    pausedUntil: null,
  });
  const target = (env as Record<string, unknown>)[push.service!] as Consumer | undefined;
  if (target === undefined || target === null) return failed("handler", `no service binding ${push.service} in edgeq`);
  let timer: number | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), push.timeoutMs);
  });
  let answer: PushAnswer | "timeout";
  try {
    answer = await Promise.race([target[PUSH_RPC_METHOD]({ queue: batch.queue, messages: messages.map(pushedMessage) }), timeout]);
  } catch (err) {
    return failed("handler", `worker: ${String((err as Error)?.message ?? err).slice(0, 500)}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  if (answer === "timeout") return failed("timeout", "timeout");
  const retry = retriesOf(answer, messages);
  const error = typeof answer?.error === "string" ? answer.error.slice(0, 4096) : null;
  return {
    latencyMs: Date.now() - started,
    retry,
    error: error ?? (retry.size > 0 ? "retry asked by the handler" : null),
    failure: error === null ? null : "handler",
    pausedUntil: null,
  };
}
