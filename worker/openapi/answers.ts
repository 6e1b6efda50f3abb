/**
 * The answers of the HTTP API as zod schemas, for the OpenAPI document
 * (worker/openapi/document.ts). The wire types are TypeScript interfaces in
 * client/protocol.ts (the client imports nothing else); each schema here is
 * checked against its interface at compile time (`Same` below), and
 * test/openapi.test.ts parses real answers with them. Objects are strict:
 * a field the worker adds without documenting it fails that test.
 */
import { z } from "zod";
import {
  DEFAULT_PUSH,
  DEFAULT_QUEUE_CONFIG,
  ERROR_STATUS,
  PUSH_FAILURE_CLASSES,
  PUSH_RANGES,
  QUEUE_CONFIG_RANGES,
  QUEUE_NAME_PATTERN,
  RECEIPT_PATTERN,
  SCOPES,
  TOPIC_LIMITS,
  type CounterTotals,
  type DeadLetterPage,
  type PublishResponse,
  type ErrorBody,
  type ErrorCode,
  type Json,
  type PeekPage,
  type QueueConfig,
  type QueueInfo,
  type QueueList,
  type QueueStats,
  type ReceiptResponse,
  type ReceiveResponse,
  type SendResponse,
  type TokenResponse,
  type TopicInfo,
  type TopicList,
  type TopicStats,
} from "../../client/protocol";

const count = z.number().int().min(0);
const ms = z.number().int().meta({ description: "Milliseconds since the epoch" });

/** Any JSON value (a message body, as it was enqueued). */
const json = z.custom<Json>().meta({ description: "Any JSON value, as it was enqueued" });
const attributes = z.record(z.string(), z.string()).meta({ description: "Flat string-to-string metadata" });
const receipt = z
  .string()
  .regex(RECEIPT_PATTERN)
  .meta({ description: "Names the partition, the message and the lease: pass it to ack, nack or extend" });
const cursor = z.string().nullable().meta({ description: "Pass back to get the next page; null at the end" });

/** What each error code means, for the reference (a code added to ERROR_STATUS must be described here). */
export const errorMeanings: Record<ErrorCode, string> = {
  INVALID_JSON: "The request body is not valid JSON.",
  INVALID_REQUEST: "The request does not match the schema; the message names the field.",
  UNAUTHORIZED: "The token is missing, malformed, forged or expired.",
  FORBIDDEN: "The token is valid but lacks the scope, the queue or the topic.",
  NOT_FOUND: "No such route, message or dead letter.",
  QUEUE_NOT_FOUND: "No such queue (queues are created on first use only where auto-create is on).",
  TOPIC_NOT_FOUND: "No such topic (topics are never created on first use).",
  METHOD_NOT_ALLOWED: "The route exists but not with this method.",
  CONFLICT: "The request conflicts with the queue's state (for example shrinking partitions).",
  LEASE_LOST: "The receipt's lease ended or the message was leased again.",
  PAYLOAD_TOO_LARGE: "The request body or one message is larger than allowed.",
  UNSUPPORTED_MEDIA_TYPE: "The request body is not JSON.",
  INVALID_VALUE: "The shape is right but a value is not (for example a delay out of range).",
  QUEUE_FULL: "The queue is at its maxDepth; retry after the Retry-After header.",
  RATE_LIMITED: "Too many requests; retry after the Retry-After header.",
  INTERNAL: "An unexpected failure inside edgeq; nothing about it is exposed.",
  AUTH_NOT_CONFIGURED: "No admin token or signing secret is configured: every request is refused.",
  UNAVAILABLE: "A partition could not be reached; safe to retry (see Retry-After).",
};

export const errorCode = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]).meta({
  id: "ErrorCode",
  description: "The closed set of error codes; each has one HTTP status (client/protocol.ts ERROR_STATUS)",
});

/** `{error: {code, message}}`: every error answer. */
export const errorBody = z
  .strictObject({ error: z.strictObject({ code: errorCode, message: z.string() }) })
  .meta({ id: "ErrorBody", description: "Every error answer" });

const sentMessage = z.strictObject({
  id: z.string(),
  seq: count,
  duplicate: z.boolean().optional().meta({ description: "True when the dedup id had been seen and nothing was stored" }),
});

export const sendResponse = z
  .strictObject({ messages: z.array(sentMessage) })
  .meta({ id: "SendResponse", description: "One entry per message, in the order sent" });

const receivedMessage = z.strictObject({
  id: z.string(),
  seq: count,
  body: json,
  attributes,
  attempts: z.number().int().min(1).meta({ description: "Deliveries so far, this one included" }),
  enqueuedAt: ms,
  receipt,
  leaseExpiresAt: ms,
  groupId: z.string().optional(),
});

const receiptResult = z
  .strictObject({
    receipt: z.string(),
    ok: z.boolean(),
    code: z.enum(["LEASE_LOST", "NOT_FOUND"]).optional().meta({ description: "Why it was not applied" }),
    leaseExpiresAt: ms.optional().meta({ description: "For extend: when the lease now ends" }),
  })
  .meta({ id: "ReceiptResult", description: "The outcome for one receipt" });

export const receiveResponse = z
  .strictObject({
    messages: z.array(receivedMessage),
    ackResults: z
      .array(receiptResult)
      .optional()
      .meta({ description: "When the request had `ack`: one result per receipt, in the order given" }),
  })
  .meta({ id: "ReceiveResponse", description: "The leased messages (none when nothing was ready within waitMs)" });

export const receiptResponse = z
  .strictObject({ results: z.array(receiptResult) })
  .meta({ id: "ReceiptResponse", description: "One result per receipt, in the order given" });

const peekedMessage = z.strictObject({
  id: z.string(),
  seq: count,
  partition: count,
  state: z.enum(["ready", "delayed", "inFlight"]),
  body: json,
  attributes,
  attempts: count,
  enqueuedAt: ms,
  visibleAt: ms.meta({ description: "Delayed: when it becomes ready; in flight: when its lease ends" }),
  groupId: z.string().optional(),
  lastError: z.string().optional(),
});

export const peekPage = z
  .strictObject({ messages: z.array(peekedMessage), cursor })
  .meta({ id: "PeekPage", description: "Stored messages in delivery order, nothing leased" });

const deadLetter = z.strictObject({
  id: z.string(),
  body: json,
  attributes,
  attempts: count,
  reason: z.enum(["max_attempts", "expired", "rejected"]),
  lastError: z.string().nullable(),
  enqueuedAt: ms,
  deadLetteredAt: ms,
  groupId: z.string().optional(),
});

export const deadLetterPage = z
  .strictObject({ deadLetters: z.array(deadLetter), cursor })
  .meta({ id: "DeadLetterPage", description: "One page of dead letters" });

export const redriveResponse = z
  .strictObject({
    redriven: count,
    remaining: count.meta({ description: "Dead letters asked for that did not fit under the queue's maxDepth" }),
  })
  .meta({ id: "RedriveResponse", description: "How many dead letters went back to the queue" });

export const deletedCount = z
  .strictObject({ deleted: count })
  .meta({ id: "DeletedCount", description: "How many were deleted" });

export const purgedCount = z
  .strictObject({ purged: count })
  .meta({ id: "PurgedCount", description: "How many ready and delayed messages were deleted" });

const setting = (field: keyof typeof QUEUE_CONFIG_RANGES, description: string, whole = true) => {
  const { min, max } = QUEUE_CONFIG_RANGES[field];
  const base = whole ? z.number().int() : z.number();
  return base.min(min).max(max).meta({ description: `${description} Default ${DEFAULT_QUEUE_CONFIG[field]}.` });
};

const pushSetting = (field: keyof typeof PUSH_RANGES, description: string) => {
  const { min, max } = PUSH_RANGES[field];
  return z.number().int().min(min).max(max).meta({ description: `${description} Default ${DEFAULT_PUSH[field]}.` });
};

const pushConfig = z
  .strictObject({
    url: z.string().optional().meta({ description: "The endpoint batches are POSTed to; absent for a Worker" }),
    service: z.string().optional().meta({ description: "edgeq's service binding to the Worker that consumes; absent for an endpoint" }),
    headerNames: z.array(z.string()).optional().meta({ description: "Extra headers sent to the endpoint; their values are never shown" }),
    batchSize: pushSetting("batchSize", "Messages per delivery."),
    batchWaitMs: pushSetting("batchWaitMs", "How long a delivery may wait for a fuller batch."),
    timeoutMs: pushSetting("timeoutMs", "How long a delivery may take before it fails as `timeout`."),
  })
  .meta({ id: "PushConfig", description: "Push delivery to an endpoint or a Worker (docs/push.md); secrets are never shown" });

export const queueConfig = z
  .strictObject({
    partitions: setting("partitions", "Partition objects the queue is spread over; it can grow, never shrink."),
    visibilityTimeoutMs: setting("visibilityTimeoutMs", "Lease of a receive that names none."),
    maxAttempts: setting("maxAttempts", "Deliveries before a message becomes a dead letter."),
    backoffBaseMs: setting("backoffBaseMs", "First retry delay; doubles per attempt."),
    backoffMaxMs: setting("backoffMaxMs", "Longest retry delay; at least backoffBaseMs."),
    retentionMs: setting("retentionMs", "Age after which an unconsumed message becomes a dead letter."),
    dedupWindowMs: setting("dedupWindowMs", "How long a dedup id is remembered."),
    maxMessageBytes: setting("maxMessageBytes", "Largest message (JSON body plus attributes)."),
    maxDepth: setting("maxDepth", "Most messages stored; null for no limit.").nullable(),
    maxInFlight: setting("maxInFlight", "Most messages leased at once; null for no limit.").nullable(),
    deliveryRatePerSec: setting("deliveryRatePerSec", "Most messages leased per second; null for no limit.", false).nullable(),
    paused: z.boolean().meta({ description: "A paused queue accepts enqueues but delivers nothing. Default false." }),
    deadLetterQueue: z
      .string()
      .regex(QUEUE_NAME_PATTERN)
      .nullable()
      .meta({ description: "The queue its dead letters are forwarded to (they leave this one); null keeps them here. Default null." }),
    push: pushConfig.nullable().meta({ description: "Push delivery; null: consumers pull. Default null." }),
  })
  .meta({ id: "QueueConfig", description: "A queue's configuration; every partition applies it" });

const totalsShape = {
  enqueued: count,
  delivered: count,
  acked: count,
  retried: count.meta({ description: "Nacks and expired leases that will be delivered again" }),
  deadLettered: count,
  purged: count,
};

const latencyPercentiles = z.strictObject({
  count,
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});

const status = z.enum(["ok", "growing", "failing"]);
const reason = z.string().nullable().meta({ description: "Why the status is not `ok`; null when it is" });

const statsSummaryShape = {
  ready: count,
  delayed: count,
  inFlight: count,
  deadLetters: count,
  depth: count.meta({ description: "Messages stored: ready + delayed + in flight" }),
  oldestReadyAgeMs: z.number().min(0),
  status,
  reason,
};

export const queueStatsSummary = z
  .strictObject(statsSummaryShape)
  .meta({ id: "QueueStatsSummary", description: "A queue's stats in brief" });

const pushStats = z
  .strictObject({
    deliveries: count.meta({ description: "Deliveries (batches sent) since the queue was created" }),
    failures: z
      .strictObject(Object.fromEntries(PUSH_FAILURE_CLASSES.map((c) => [c, count])) as Record<(typeof PUSH_FAILURE_CLASSES)[number], typeof count>)
      .meta({ description: "Failed deliveries by class since the queue was created" }),
    latency: latencyPercentiles.meta({ description: "How long the endpoint or Worker took to answer" }),
    pausedUntil: ms.nullable().meta({ description: "While a Retry-After holds pushes back: until when" }),
  })
  .meta({ id: "PushStats", description: "How push delivery fares" });

export const queueStats = z
  .strictObject({
    ...statsSummaryShape,
    push: pushStats.optional(),
    minutes: z
      .array(z.strictObject({ minute: ms, depth: count, ...totalsShape }))
      .meta({ description: "The last 60 minutes, oldest first; the last entry is the current minute" }),
    totals: z.strictObject(totalsShape).meta({ description: "Counts since the queue was created" }),
    latency: z.strictObject({
      windowMs: z.number(),
      enqueueToAck: latencyPercentiles,
      deliveryToAck: latencyPercentiles,
    }),
    trend: z.strictObject({
      windowMinutes: z.number(),
      inPerMinute: z.number(),
      outPerMinute: z.number(),
      netPerMinute: z.number(),
      drainEstimateMs: z.number().nullable(),
    }),
  })
  .meta({ id: "QueueStats", description: "A queue's depth, rates, latency and health" });

export const queueInfo = z
  .strictObject({
    name: z.string(),
    config: queueConfig,
    createdAt: ms,
    stats: z.union([queueStats, queueStatsSummary]).optional(),
    push: z
      .strictObject({
        signingSecret: z.string().meta({ description: "`whsec_…`: the endpoint verifies signatures with it; never shown again" }),
        previousExpiresAt: ms.nullable().meta({ description: "After a rotation: until when the previous secret still signs too" }),
      })
      .optional()
      .meta({ description: "Only when push was first pointed at an endpoint, or its secret rotated" }),
  })
  .meta({ id: "QueueInfo", description: "A queue: its configuration, and its stats where the route reads them" });

export const queueList = z
  .strictObject({ queues: z.array(queueInfo), cursor })
  .meta({ id: "QueueList", description: "Queues in name order, one page" });

export const queueDeleted = z
  .strictObject({ name: z.string(), deleted: z.literal(true) })
  .meta({ id: "QueueDeleted", description: "The queue and everything in it are gone" });

export const tokenResponse = z
  .strictObject({
    token: z.string().meta({ description: "A JWT (HS256): send it as `Authorization: Bearer <token>`" }),
    expiresAt: ms,
  })
  .meta({ id: "TokenResponse", description: `A scoped token (scopes: ${SCOPES.join(", ")})` });

export const publishResponse = z
  .strictObject({
    messages: z.array(
      z.strictObject({
        id: z.string(),
        duplicate: z
          .boolean()
          .optional()
          .meta({ description: "True when the dedup id had been seen within the topic's window and nothing was stored" }),
      }),
    ),
  })
  .meta({ id: "PublishResponse", description: "One entry per message, in the order published" });

const subscription = z.strictObject({
  queue: z.string(),
  filter: z
    .record(z.string(), z.array(z.string()))
    .optional()
    .meta({ description: "Attribute name -> accepted values: a message must match every name, any one value per name" }),
});

const topicConfig = z
  .strictObject({
    subscriptions: z
      .array(subscription)
      .max(TOPIC_LIMITS.maxSubscriptions)
      .meta({ description: "The queues that receive a copy of each message their filter takes, in order" }),
    dedupWindowMs: z.number().int().min(0).meta({ description: "How long a publish's dedupId is remembered. Default 300000." }),
  })
  .meta({ id: "TopicConfig", description: "A topic's subscriptions and settings" });

export const topicStats = z
  .strictObject({
    published: count,
    duplicates: count.meta({ description: "Publishes whose dedupId had been seen: nothing was stored" }),
    filtered: count.meta({ description: "Messages that no subscription's filter took (not an error)" }),
    pending: count.meta({ description: "Messages not yet in every queue that takes them: the outbox" }),
    oldestPendingAgeMs: z.number().min(0).meta({ description: "Age of the oldest pending message: the fan-out's lag" }),
    subscriptions: z.array(
      z.strictObject({
        queue: z.string(),
        delivered: count,
        filtered: count,
        pending: count,
        oldestPendingAgeMs: z.number().min(0),
        failures: count.meta({ description: "Deliveries to the queue that failed in a row; 0 when the last one worked" }),
        lastError: z.string().nullable().meta({ description: "The last failure, `CODE: message`" }),
        retryAt: ms.nullable().meta({ description: "When the next delivery is tried after a failure" }),
      }),
    ),
  })
  .meta({ id: "TopicStats", description: "A topic's fan-out: totals, the outbox and its lag, each subscription's figures" });

export const topicInfo = z
  .strictObject({ name: z.string(), config: topicConfig, createdAt: ms, stats: topicStats.optional() })
  .meta({ id: "TopicInfo", description: "A topic: its subscriptions and settings, and its stats where the route reads them" });

export const topicList = z
  .strictObject({ topics: z.array(topicInfo), cursor })
  .meta({ id: "TopicList", description: "Topics in name order, one page" });

export const topicDeleted = z
  .strictObject({ name: z.string(), deleted: z.literal(true) })
  .meta({ id: "TopicDeleted", description: "The topic, its subscriptions and its outbox are gone" });

export const apiIndex = z
  .strictObject({ name: z.literal("edgeq"), api: z.literal("/v1") })
  .meta({ id: "ApiIndex", description: "What this server is" });

/** Whether A and B are the same type; `Assert` makes tsc fail where an answer schema and its interface differ. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type AnswersMatchProtocol = [
  Assert<Same<z.output<typeof errorBody>, ErrorBody>>,
  Assert<Same<z.output<typeof sendResponse>, SendResponse>>,
  Assert<Same<z.output<typeof receiveResponse>, ReceiveResponse>>,
  Assert<Same<z.output<typeof receiptResponse>, ReceiptResponse>>,
  Assert<Same<z.output<typeof peekPage>, PeekPage>>,
  Assert<Same<z.output<typeof deadLetterPage>, DeadLetterPage>>,
  Assert<Same<z.output<typeof queueConfig>, QueueConfig>>,
  Assert<Same<z.output<typeof queueStats>, QueueStats>>,
  Assert<Same<z.output<typeof queueStats>["totals"], CounterTotals>>,
  Assert<Same<z.output<typeof queueInfo>, QueueInfo>>,
  Assert<Same<z.output<typeof queueList>, QueueList>>,
  Assert<Same<z.output<typeof tokenResponse>, TokenResponse>>,
  Assert<Same<z.output<typeof publishResponse>, PublishResponse>>,
  Assert<Same<z.output<typeof topicStats>, TopicStats>>,
  Assert<Same<z.output<typeof topicInfo>, TopicInfo>>,
  Assert<Same<z.output<typeof topicList>, TopicList>>,
];
