/**
 * The one-line adapter that lets a Worker written for Cloudflare Queues
 * consume an edgeq queue by push, through a service binding of edgeq:
 *
 *     export default edgeqConsumer({ async queue(batch, env, ctx) { ... } });
 *
 * The handler runs unchanged: edgeq calls the method the adapter adds
 * (`PUSH_RPC_METHOD`) with a batch, and the adapter hands the handler a
 * `MessageBatch` of the same shape and answers each message's outcome.
 * The handler's `fetch` and `scheduled`, if any, are served as before, and
 * so is its `queue` when Cloudflare Queues delivers to the same Worker.
 *
 * For Workers only (it imports `cloudflare:workers`); a separate entry from
 * the client, which runs anywhere.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { LIMITS, PUSH_RPC_METHOD, type PushAnswer, type PushDelivery, type PushMessageResult } from "./protocol.js";

export type { PushAnswer, PushDelivery } from "./protocol.js";

/** `retry` options, as Cloudflare Queues has them. */
export interface RetryOptions {
  /** Wait this long before the message is delivered again, 0..43200 s. Default the queue's backoff. */
  delaySeconds?: number;
}

/** A message as a Cloudflare Queues handler sees it, with edgeq's attributes besides. */
export interface QueueMessage<Body = unknown> {
  readonly id: string;
  /** When it was enqueued. */
  readonly timestamp: Date;
  readonly body: Body;
  /** Deliveries so far, this one included. */
  readonly attempts: number;
  /** edgeq's flat string-to-string metadata of the message (absent when Cloudflare Queues delivers it). */
  readonly attributes?: Record<string, string>;
  /** Done: not delivered again. */
  ack(): void;
  /** Deliver again, after `delaySeconds` or the queue's backoff. */
  retry(options?: RetryOptions): void;
}

/** A batch as a Cloudflare Queues handler sees it. */
export interface QueueBatch<Body = unknown> {
  readonly queue: string;
  readonly messages: readonly QueueMessage<Body>[];
  ackAll(): void;
  retryAll(options?: RetryOptions): void;
}

/** What a Worker's execution context offers a handler. */
export interface HandlerContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/** A Worker's handlers: `queue` is the one edgeq calls. */
export interface ConsumerHandlers<Env = unknown, Body = unknown> {
  queue(batch: QueueBatch<Body>, env: Env, ctx: HandlerContext): void | Promise<void>;
  fetch?(request: Request, env: Env, ctx: HandlerContext): Response | Promise<Response>;
  scheduled?(controller: unknown, env: Env, ctx: HandlerContext): void | Promise<void>;
}

type Outcome = { outcome: "ack" } | { outcome: "retry"; delayMs?: number };

const retryOf = (options: RetryOptions | undefined): Outcome => {
  const seconds = options?.delaySeconds;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return { outcome: "retry" };
  return { outcome: "retry", delayMs: Math.min(Math.max(0, Math.round(seconds * 1000)), LIMITS.maxDelayMs) };
};

/**
 * Runs a Cloudflare Queues handler on one batch and answers each message's
 * outcome, by Cloudflare's rules: a message's own `ack()` or `retry()`
 * beats a call on the batch; between calls of one kind the first wins; a
 * message no call named is acked when the handler returns, and retried
 * when it throws (then `error` says why), unless `ackAll()` was called.
 */
export async function runQueueHandler<Env, Body>(
  handler: ConsumerHandlers<Env, Body>["queue"],
  delivery: PushDelivery,
  env: Env,
  ctx: HandlerContext,
): Promise<PushAnswer> {
  const own = new Map<string, Outcome>();
  let all: Outcome | null = null;
  const messages: QueueMessage<Body>[] = delivery.messages.map((m) => ({
    id: m.id,
    timestamp: new Date(m.enqueuedAt),
    body: m.body as Body,
    attempts: m.attempts,
    attributes: m.attributes,
    ack: () => void (own.has(m.id) || own.set(m.id, { outcome: "ack" })),
    retry: (options) => void (own.has(m.id) || own.set(m.id, retryOf(options))),
  }));
  const batch: QueueBatch<Body> = {
    queue: delivery.queue,
    messages,
    ackAll: () => void (all ??= { outcome: "ack" }),
    retryAll: (options) => void (all ??= retryOf(options)),
  };
  let error: string | undefined;
  try {
    await handler(batch, env, ctx);
  } catch (err) {
    error = String((err as Error)?.message ?? err).slice(0, 4096) || "the handler threw";
  }
  const results = messages.map((m): PushMessageResult => {
    const outcome = own.get(m.id) ?? all ?? (error === undefined ? { outcome: "ack" } : { outcome: "retry" });
    return { id: m.id, ...outcome };
  });
  return error === undefined ? { results } : { results, error };
}

/**
 * Wraps a Worker's handlers as the entrypoint edgeq pushes to: default-export
 * it, and bind edgeq to this Worker (`[[services]]` in edgeq's
 * wrangler.toml), then set the queue's `push` to `{ "service": "<binding>" }`.
 */
/** The entrypoint class `edgeqConsumer` makes: a WorkerEntrypoint with the method edgeq calls. */
export type EdgeqConsumerClass<Env> = new (
  ctx: never,
  env: Env,
) => WorkerEntrypoint<Env> & { [PUSH_RPC_METHOD](delivery: PushDelivery): Promise<PushAnswer> };

export function edgeqConsumer<Env = unknown, Body = unknown>(handlers: ConsumerHandlers<Env, Body>): EdgeqConsumerClass<Env> {
  class EdgeqConsumer extends WorkerEntrypoint<Env> {
    /** Called by edgeq's partitions, once per batch. */
    async [PUSH_RPC_METHOD](delivery: PushDelivery): Promise<PushAnswer> {
      return runQueueHandler(handlers.queue, delivery, this.env, this.ctx);
    }
  }
  const proto = EdgeqConsumer.prototype as unknown as Record<string, unknown>;
  // Cloudflare Queues' own deliveries, if this Worker also consumes one.
  proto.queue = function (this: EdgeqConsumer, batch: QueueBatch<Body>) {
    return handlers.queue(batch, this.env, this.ctx);
  };
  if (handlers.fetch) {
    proto.fetch = function (this: EdgeqConsumer, request: Request) {
      return handlers.fetch!(request, this.env, this.ctx);
    };
  }
  if (handlers.scheduled) {
    proto.scheduled = function (this: EdgeqConsumer, controller: unknown) {
      return handlers.scheduled!(controller, this.env, this.ctx);
    };
  }
  return EdgeqConsumer as unknown as EdgeqConsumerClass<Env>;
}
