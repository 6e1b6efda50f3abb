import { z } from "zod";
import { GROUP_ID_PATTERN, LIMITS, QUEUE_CONFIG_RANGES, QUEUE_NAME_PATTERN, RECEIPT_PATTERN, TOPIC_LIMITS, type QueueConfigPatch } from "../client/protocol";

/** Deepest nesting of a JSON value, measured without recursion (a hostile body must not blow the stack). */
export function jsonDepth(value: unknown, limit: number = LIMITS.maxBodyDepth): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** What a queue name may be; said in every refusal of one. */
export const QUEUE_NAME_RULE = "queue names are 1 to 64 letters, digits, '_' or '-', optionally followed by '.fifo'";

export const queueName = z.string().regex(QUEUE_NAME_PATTERN, QUEUE_NAME_RULE);

/** The full check of a message body: any JSON value, at most maxBodyDepth deep. */
const strictBody = z
  .json()
  .refine((v) => v !== undefined, "required")
  .refine((v) => jsonDepth(v) <= LIMITS.maxBodyDepth, `nested deeper than ${LIMITS.maxBodyDepth} levels`);

/**
 * Whether `value` is what JSON.parse can return, in one pass without
 * recursion: strings, finite numbers, booleans, null, arrays and plain
 * objects of those.
 */
function isJsonValue(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v === "string" || typeof v === "boolean") continue;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return false;
      continue;
    }
    if (typeof v !== "object") return false;
    if (Array.isArray(v)) {
      for (const child of v) stack.push(child);
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const child of Object.values(v)) stack.push(child);
  }
  return true;
}

/**
 * A message body. z.json() walks every body again, recursively, after
 * JSON.parse already built it, which costs a large share of a batch
 * enqueue. A body that passes the one-pass check is accepted as it is; any
 * other runs the full check, so the errors are exactly those of z.json()
 * and the refinements.
 */
const body = z.custom<z.output<typeof strictBody>>().superRefine((value, ctx) => {
  if (value !== undefined && jsonDepth(value) <= LIMITS.maxBodyDepth && isJsonValue(value)) return;
  const result = strictBody.safeParse(value);
  if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ ...issue } as never);
});

export const message = z.strictObject({
  body,
  delayMs: int(0, LIMITS.maxDelayMs).optional(),
  attributes: z.record(z.string().max(256), z.string()).optional(),
  groupId: z.string().regex(GROUP_ID_PATTERN, "group ids are 1 to 128 letters, digits or ASCII punctuation").optional(),
  key: z.string().min(1).max(128).optional(),
  dedupId: z.string().min(1).max(128).optional(),
});

const batch = z.strictObject({ messages: z.array(message).min(1).max(LIMITS.maxBatch) });

/** One message or `{messages: [...]}`; always a list once validated. */
export const enqueueRequest = z.unknown().transform((value, ctx) => {
  const isBatch = typeof value === "object" && value !== null && !Array.isArray(value) && "messages" in value;
  const result = isBatch ? batch.safeParse(value) : message.safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never);
    return z.NEVER;
  }
  return "messages" in result.data ? result.data.messages : [result.data];
});

/** How long a forwarder's dedup ids are kept (EdgeqService.forward): 1 ms to 7 days. */
export const forwardWindow = int(1, 7 * 24 * 60 * 60_000);

/**
 * Request schemas that JSON Schema cannot state (a transform from unknown),
 * with the shape the OpenAPI document shows instead (worker/validate.ts).
 */
export const documentedAs = new WeakMap<z.ZodType, z.ZodType>([[enqueueRequest, z.union([message, batch])]]);

const visibilityTimeoutMs = int(LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs);

const receipts = z
  .array(z.string().regex(RECEIPT_PATTERN, "not a receipt"))
  .min(1)
  .max(LIMITS.maxBatch);

export const receiveRequest = z.strictObject({
  max: int(1, LIMITS.maxReceive).default(1),
  visibilityTimeoutMs: visibilityTimeoutMs.optional(),
  waitMs: int(0, LIMITS.maxWaitMs).default(0),
  /** Receipts to ack before receiving (the consumer's last messages). */
  ack: receipts.optional(),
});

export const ackRequest = z.strictObject({ receipts });
export const nackRequest = z.strictObject({
  receipts,
  delayMs: int(0, LIMITS.maxDelayMs).optional(),
  error: z.string().max(4096).optional(),
});
export const extendRequest = z.strictObject({ receipts, visibilityTimeoutMs });

export const deadLetterQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.maxPageSize),
  cursor: z.string().regex(/^\d{1,2}\.\d{1,15}$/, "not a cursor").optional(),
});

export const redriveRequest = z.strictObject({
  ids: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
});

/**
 * `PUT /v1/queues/:queue`: types only (a wrong type or an unknown field is
 * 400 INVALID_REQUEST); ranges and the rules between fields are values,
 * checked by the registry as 422 INVALID_VALUE (see `applyConfigPatch`).
 */
const setting = z.number();
const limit = z.number().nullable();

/**
 * `push`: an endpoint (`url`, with `headers`) or a Worker (`service`), one
 * of the two; values (the URL, header names, ranges) are checked by the
 * registry (durable-objects/push/settings.ts).
 */
export const pushSetting = z
  .strictObject({
    url: z.string().max(4096).optional(),
    headers: z.record(z.string().max(256), z.string().max(8192)).optional(),
    service: z.string().max(256).optional(),
    batchSize: setting.optional(),
    batchWaitMs: setting.optional(),
    timeoutMs: setting.optional(),
  })
  .superRefine((push, ctx) => {
    if ((push.url === undefined) === (push.service === undefined)) {
      ctx.addIssue({ code: "invalid_type", expected: "string", path: ["url"], message: "give url (an endpoint) or service (a Worker), one of the two" });
    } else if (push.service !== undefined && push.headers !== undefined) {
      ctx.addIssue({ code: "invalid_type", expected: "never", path: ["headers"], message: "headers go to an endpoint (url), not to a Worker" });
    }
  });

export const queueConfigPatch = z.strictObject({
  partitions: setting.optional(),
  visibilityTimeoutMs: setting.optional(),
  maxAttempts: setting.optional(),
  backoffBaseMs: setting.optional(),
  backoffMaxMs: setting.optional(),
  retentionMs: setting.optional(),
  dedupWindowMs: setting.optional(),
  maxMessageBytes: setting.optional(),
  maxDepth: limit.optional(),
  maxInFlight: limit.optional(),
  deliveryRatePerSec: limit.optional(),
  paused: z.boolean().optional(),
  deadLetterQueue: z.string().nullable().optional(),
  push: pushSetting.nullable().optional(),
});

/** The validated PUT body as the registry takes it (the refinement above makes `push` one of its two shapes). */
export const configPatchOf = (patch: z.output<typeof queueConfigPatch>): QueueConfigPatch => patch as QueueConfigPatch;

export const queueListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: queueName.optional(),
  stats: z.enum(["true", "false"]).default("true"),
});

export const peekQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.maxPageSize),
  cursor: z.string().regex(/^\d{1,2}\.\d{1,15}$/, "not a cursor").optional(),
});

/** The prefetch of a consume stream that names none. */
export const DEFAULT_PREFETCH = 10;

/** `GET /v1/queues/:queue/consume`: the WebSocket upgrade of a consume stream. */
export const consumeQuery = z.strictObject({
  partition: z.coerce.number().int().min(0).max(QUEUE_CONFIG_RANGES.partitions.max - 1).default(0),
  prefetch: z.coerce.number().int().min(0).max(LIMITS.maxPrefetch).default(DEFAULT_PREFETCH),
  visibilityTimeoutMs: z.coerce.number().int().min(LIMITS.minVisibilityTimeoutMs).max(LIMITS.maxVisibilityTimeoutMs).optional(),
});

export const deleteDeadLetterQuery = z.strictObject({ id: z.string().min(1).max(64).optional() });

// ---------------------------------------------------------------- topics

/** What a topic name may be (the queue name rules); said in every refusal of one. */
export const TOPIC_NAME_RULE = QUEUE_NAME_RULE.replace("queue names", "topic names");

export const topicName = z.string().regex(QUEUE_NAME_PATTERN, TOPIC_NAME_RULE);

const subscriptionFilter = z
  .record(z.string().max(256), z.array(z.string().max(256)).min(1).max(TOPIC_LIMITS.maxFilterValues))
  .refine((f) => Object.keys(f).length <= TOPIC_LIMITS.maxFilterNames, `at most ${TOPIC_LIMITS.maxFilterNames} attribute names`);

const subscription = z.strictObject({ queue: queueName, filter: subscriptionFilter.optional() });

/** `PUT /v1/topics/:topic`: the settings to change (the subscriptions are replaced whole). */
export const topicConfigPatch = z.strictObject({
  subscriptions: z
    .array(subscription)
    .max(TOPIC_LIMITS.maxSubscriptions)
    .refine((list) => new Set(list.map((s) => s.queue)).size === list.length, "a queue is subscribed twice")
    .optional(),
  dedupWindowMs: int(0, 24 * 60 * 60_000).optional(),
});

export const topicListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: topicName.optional(),
  stats: z.enum(["true", "false"]).default("true"),
});
