/**
 * The wire protocol of edgeq: request and answer shapes, the closed set of
 * error codes with their HTTP status, and the limits both sides agree on.
 * Shared by the worker and the client; imports nothing.
 */

/** Every error code edgeq answers, with its HTTP status. The set is closed. */
export const ERROR_STATUS = {
  /** The request body is not valid JSON. */
  INVALID_JSON: 400,
  /** The request does not match the schema; the message names the field. */
  INVALID_REQUEST: 400,
  /** The token is missing, malformed, forged or expired. */
  UNAUTHORIZED: 401,
  /** The token is valid but lacks the scope, the queue or the topic. */
  FORBIDDEN: 403,
  /** No such route, message or dead letter. */
  NOT_FOUND: 404,
  /** No such queue (and queues are not created on first use). */
  QUEUE_NOT_FOUND: 404,
  /** No such topic (topics are never created on first use). */
  TOPIC_NOT_FOUND: 404,
  /** The route exists but not with this method. */
  METHOD_NOT_ALLOWED: 405,
  /** The request conflicts with the queue's state (for example shrinking partitions). */
  CONFLICT: 409,
  /** The receipt's lease ended or the message was leased again. */
  LEASE_LOST: 409,
  /** The request body or one message is larger than allowed. */
  PAYLOAD_TOO_LARGE: 413,
  /** The request body is not JSON. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The shape is right but a value is not (for example a delay out of range). */
  INVALID_VALUE: 422,
  /** The queue is at its maxDepth; retry after the Retry-After header. */
  QUEUE_FULL: 429,
  /** Too many requests; retry after the Retry-After header. */
  RATE_LIMITED: 429,
  /** An unexpected failure inside edgeq; nothing about it is exposed. */
  INTERNAL: 500,
  /** No admin token or signing secret is configured: every request is refused. */
  AUTH_NOT_CONFIGURED: 503,
  /** A partition could not be reached; safe to retry. */
  UNAVAILABLE: 503,
} as const;

/** One of the closed set of error codes. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Limits that the worker enforces and a client can check ahead of time. */
export const LIMITS = {
  /** Messages in one enqueue batch, receipts in one ack/nack/extend. */
  maxBatch: 100,
  /** Messages one receive may lease. */
  maxReceive: 100,
  /** Bytes of one request body, checked before it is parsed. */
  maxRequestBytes: 1024 * 1024,
  /** Nesting depth of a message body. */
  maxBodyDepth: 64,
  /** Longest delay of a message or a nack. */
  maxDelayMs: 12 * 60 * 60 * 1000,
  /** Shortest and longest lease. */
  minVisibilityTimeoutMs: 1000,
  maxVisibilityTimeoutMs: 12 * 60 * 60 * 1000,
  /** Longest long-poll wait of one receive. */
  maxWaitMs: 20_000,
  /** Dead letters or peeked messages in one page. */
  maxPageSize: 100,
  /** Longest life of a scoped token, in seconds (30 days). */
  maxTokenTtlSeconds: 30 * 24 * 60 * 60,
  /** Queue names or patterns one scoped token may list (and topic names or patterns, apart). */
  maxTokenQueues: 100,
  /** Most messages one consume stream may hold unacked (its prefetch). */
  maxPrefetch: 1000,
  /** Bytes of one frame a consumer sends on a consume stream. */
  maxFrameBytes: 64 * 1024,
  /** Settle frames (ack, nack, extend, release) one consume stream may have awaiting their results. */
  maxPendingFrames: 32,
} as const;

/** Queue names: letters, digits, `_` and `-`, 1 to 64 characters, and `.fifo` after them for an SQS FIFO queue. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}(?:\.fifo)?$/;
/**
 * The attribute a dead letter forwarded to its queue's deadLetterQueue
 * carries: the name of the queue it died in.
 */
export const DEAD_LETTER_SOURCE_ATTRIBUTE = "edgeq:deadLetterSource";

/** Message group ids: 1 to 128 letters, digits and ASCII punctuation, as SQS's MessageGroupId. */
export const GROUP_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** The configuration of a queue; every partition applies it. */
export interface QueueConfig {
  /** Partition objects the queue is spread over. Default 1. */
  partitions: number;
  /** Lease of a receive that names none. Default 30 s. */
  visibilityTimeoutMs: number;
  /** Deliveries before a message becomes a dead letter. Default 5. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt. Default 1 s. */
  backoffBaseMs: number;
  /** Longest retry delay. Default 5 min. */
  backoffMaxMs: number;
  /** Age after which an unconsumed message becomes a dead letter (`expired`). Default 4 days. */
  retentionMs: number;
  /** How long a dedup id is remembered. Default 5 min. */
  dedupWindowMs: number;
  /** Largest message (JSON body plus attributes). Default 256 KiB. */
  maxMessageBytes: number;
  /** Most messages stored (ready, delayed, in flight); null for no limit. Default null. */
  maxDepth: number | null;
  /** Most messages leased at once; null for no limit. Default null. */
  maxInFlight: number | null;
  /** Most messages leased per second; null for no limit. Default null. */
  deliveryRatePerSec: number | null;
  /** A paused queue accepts enqueues but delivers nothing. Default false. */
  paused: boolean;
  /**
   * The queue its dead letters are forwarded to (and leave this one), as
   * SQS's RedrivePolicy has them; null keeps them as this queue's own dead
   * letters. Default null.
   */
  deadLetterQueue: string | null;
  /** Push delivery to an HTTP endpoint or a Worker; null: consumers pull. Default null. */
  push: PushConfig | null;
}

/**
 * Push delivery as a queue's configuration shows it: where the partitions
 * deliver, and how. Exactly one of `url` and `service` is set. Secrets
 * (the signing secret, header values) are kept apart and never shown.
 */
export interface PushConfig {
  /** The endpoint batches are POSTed to (http or https); absent for a Worker. */
  url?: string;
  /** The service binding of edgeq (wrangler.toml `[[services]]`) to the Worker that consumes; absent for an endpoint. */
  service?: string;
  /** Names of the extra headers sent to the endpoint, lower case; their values are never shown. Default none. */
  headerNames?: string[];
  /** Messages per delivery, 1..100. Default 10. */
  batchSize: number;
  /** How long a delivery may wait for a fuller batch, 0..60000 ms. Default 0. */
  batchWaitMs: number;
  /** How long a delivery may take before it fails as `timeout`, 1000..60000 ms. Default 15000. */
  timeoutMs: number;
}

/** The delivery settings of push, with their defaults. */
export const DEFAULT_PUSH = Object.freeze({ batchSize: 10, batchWaitMs: 0, timeoutMs: 15_000 });

/** The accepted range of each push setting, inclusive. */
export const PUSH_RANGES = {
  batchSize: { min: 1, max: 100 },
  batchWaitMs: { min: 0, max: 60_000 },
  timeoutMs: { min: 1_000, max: 60_000 },
} as const;

/** The delivery settings of `push` as PUT sets them; each defaults as in DEFAULT_PUSH. */
export interface PushDeliverySettings {
  batchSize?: number;
  batchWaitMs?: number;
  timeoutMs?: number;
}

/**
 * `push` as `PUT /v1/queues/:queue` sets it, whole: an endpoint (with
 * extra headers to send, such as an Authorization) or a Worker behind a
 * service binding; null removes push delivery.
 */
export type PushSetting =
  | ({ url: string; headers?: Record<string, string> } & PushDeliverySettings)
  | ({ service: string } & PushDeliverySettings);

/** The defaults of every queue setting, in one place. */
export const DEFAULT_QUEUE_CONFIG: Readonly<QueueConfig> = Object.freeze({
  partitions: 1,
  visibilityTimeoutMs: 30_000,
  maxAttempts: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 5 * 60_000,
  retentionMs: 4 * 24 * 60 * 60_000,
  dedupWindowMs: 5 * 60_000,
  maxMessageBytes: 256 * 1024,
  maxDepth: null,
  maxInFlight: null,
  deliveryRatePerSec: null,
  paused: false,
  deadLetterQueue: null,
  push: null,
});

/**
 * The accepted range of every numeric queue setting, inclusive. A limit may
 * also be null (no limit). `backoffMaxMs` must be at least `backoffBaseMs`;
 * `maxDepth` and `maxInFlight` at least `partitions` (each partition keeps
 * a share of at least one).
 */
export const QUEUE_CONFIG_RANGES = {
  partitions: { min: 1, max: 64 },
  visibilityTimeoutMs: { min: 1_000, max: 12 * 60 * 60_000 },
  maxAttempts: { min: 1, max: 1_000 },
  backoffBaseMs: { min: 0, max: 12 * 60 * 60_000 },
  backoffMaxMs: { min: 0, max: 12 * 60 * 60_000 },
  retentionMs: { min: 60_000, max: 14 * 24 * 60 * 60_000 },
  dedupWindowMs: { min: 0, max: 24 * 60 * 60_000 },
  maxMessageBytes: { min: 1_024, max: 1024 * 1024 },
  maxDepth: { min: 1, max: 1_000_000_000 },
  maxInFlight: { min: 1, max: 1_000_000 },
  deliveryRatePerSec: { min: 0.01, max: 100_000 },
} as const satisfies Record<Exclude<keyof QueueConfig, "paused" | "deadLetterQueue" | "push">, { min: number; max: number }>;

/** `PUT /v1/queues/:queue`: the settings to change; the others keep their value (or the default). */
export type QueueConfigPatch = Partial<Omit<QueueConfig, "push">> & { push?: PushSetting | null };

/** A queue's stats in brief, as `GET /v1/queues` lists them. */
export type QueueStatsSummary = Pick<
  QueueStats,
  "ready" | "delayed" | "inFlight" | "deadLetters" | "depth" | "oldestReadyAgeMs" | "status" | "reason"
>;

/** A queue as `PUT`, `GET /v1/queues/:queue` (with the full stats) and `GET /v1/queues` (a summary) answer it. */
export interface QueueInfo {
  name: string;
  config: QueueConfig;
  createdAt: number;
  stats?: QueueStatsSummary | QueueStats;
  /**
   * Only in the answer of the PUT that first points push at an endpoint, and
   * of a rotation: the secret the endpoint verifies signatures with. It is
   * never shown again.
   */
  push?: PushSecretAnswer;
}

/** A signing secret, answered once. */
export interface PushSecretAnswer {
  /** `whsec_` and base64 (Standard Webhooks). */
  signingSecret: string;
  /** After a rotation: until when the previous secret still signs too; null otherwise. */
  previousExpiresAt: number | null;
}

export interface QueueList {
  queues: QueueInfo[];
  /** Pass back to get the next page; null at the end. */
  cursor: string | null;
}

/** Where a message stands, as peek shows it. */
export type MessageState = "ready" | "delayed" | "inFlight";

/** A message as peek shows it: nothing is leased by looking. */
export interface PeekedMessage {
  id: string;
  seq: number;
  partition: number;
  state: MessageState;
  body: Json;
  attributes: Record<string, string>;
  attempts: number;
  enqueuedAt: number;
  /** Delayed: when it becomes ready; in flight: when its lease ends. */
  visibleAt: number;
  groupId?: string;
  lastError?: string;
}

export interface PeekPage {
  messages: PeekedMessage[];
  cursor: string | null;
}

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One message to enqueue. */
export interface SendMessage {
  body: Json;
  /** Milliseconds before the message can be received. Default 0. */
  delayMs?: number;
  /** Flat string-to-string metadata. */
  attributes?: Record<string, string>;
  /** Messages of one group are delivered strictly in order, one at a time. */
  groupId?: string;
  /** Partition key: messages with one key go to one partition (a groupId wins over it). No ordering promise. */
  key?: string;
  /** A second enqueue with the same id within the dedup window stores nothing. */
  dedupId?: string;
}

/** The answer for one enqueued message. */
export interface SentMessage {
  id: string;
  seq: number;
  /** True when the dedup id had been seen and nothing was stored. */
  duplicate?: boolean;
}

export interface SendResponse {
  messages: SentMessage[];
}

export interface ReceiveRequest {
  /** Messages to lease, 1..100. Default 1. */
  max?: number;
  /** Lease length. Default the queue's visibilityTimeoutMs. */
  visibilityTimeoutMs?: number;
  /** How long to wait for a message when none is ready, 0..20000. Default 0. */
  waitMs?: number;
  /**
   * Receipts (1..100) to ack before receiving: a consumer acks its last
   * messages with its next receive, one request instead of two. Their
   * results come back in `ackResults`. Default none.
   */
  ack?: string[];
}

/** A leased message. */
export interface ReceivedMessage {
  id: string;
  seq: number;
  body: Json;
  attributes: Record<string, string>;
  /** Deliveries so far, this one included. */
  attempts: number;
  enqueuedAt: number;
  /** Names the partition, the message and the lease: pass it to ack, nack or extend. */
  receipt: string;
  leaseExpiresAt: number;
  groupId?: string;
}

export interface ReceiveResponse {
  messages: ReceivedMessage[];
  /** When the request had `ack`: one result per receipt, in the order given, as `ack` answers them. */
  ackResults?: ReceiptResult[];
}

/** The outcome for one receipt of an ack, nack or extend. */
export interface ReceiptResult {
  receipt: string;
  ok: boolean;
  code?: "LEASE_LOST" | "NOT_FOUND";
  /** For extend: when the lease now ends. */
  leaseExpiresAt?: number;
}

export interface ReceiptResponse {
  results: ReceiptResult[];
}

/** Why a message became a dead letter. */
export type DeadLetterReason = "max_attempts" | "expired" | "rejected";

export interface DeadLetter {
  id: string;
  body: Json;
  attributes: Record<string, string>;
  attempts: number;
  reason: DeadLetterReason;
  lastError: string | null;
  enqueuedAt: number;
  deadLetteredAt: number;
  groupId?: string;
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[];
  /** Pass back to get the next page; null at the end. */
  cursor: string | null;
}

/** The health of a queue at a glance. */
export type QueueStatus = "ok" | "growing" | "failing";

/** Counts since the queue was created. */
export interface CounterTotals {
  enqueued: number;
  delivered: number;
  acked: number;
  /** Nacks and expired leases that will be delivered again. */
  retried: number;
  deadLettered: number;
  /** Deleted by a purge. */
  purged: number;
}

/** What happened to a queue's messages in one minute: the same counts, for that minute. */
export interface MinuteStats extends CounterTotals {
  /** Start of the minute, ms since the epoch. */
  minute: number;
  /** Messages stored (ready, delayed, in flight) at the end of the minute (now, for the current one). */
  depth: number;
}

/** Latency percentiles in ms, estimated from log-spaced histograms (within 19 %); null without acks. */
export interface LatencyPercentiles {
  /** Acks measured. */
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface QueueStats {
  ready: number;
  delayed: number;
  inFlight: number;
  deadLetters: number;
  /** Age of the oldest ready message; 0 when none is ready. */
  oldestReadyAgeMs: number;
  /** Messages stored: ready + delayed + in flight. */
  depth: number;
  /** The last 60 minutes, oldest first; the last entry is the current, unfinished minute. */
  minutes: MinuteStats[];
  totals: CounterTotals;
  /** Processing latency of the messages acked in the last `windowMs`. */
  latency: {
    windowMs: number;
    /** From enqueue (or redrive) to ack: time spent in the queue and in processing. */
    enqueueToAck: LatencyPercentiles;
    /** From the delivery that was acked to its ack: processing time. */
    deliveryToAck: LatencyPercentiles;
  };
  /** Rates over the last `windowMinutes` complete minutes. */
  trend: {
    windowMinutes: number;
    /** Enqueued (and redriven) per minute. */
    inPerMinute: number;
    /** Acked, dead-lettered and purged per minute. */
    outPerMinute: number;
    /** In minus out: how fast the depth grows (negative: drains). */
    netPerMinute: number;
    /** Time to empty at the current net rate; 0 when empty, null when not draining. */
    drainEstimateMs: number | null;
  };
  /** Push delivery's figures; absent when the queue does not push. */
  push?: PushStats;
  /** `failing`: dead letters or retries above the threshold; `growing`: depth grew minute after minute. */
  status: QueueStatus;
  /** Why the status is not `ok`; null when it is. */
  reason: string | null;
}

/** A message as push delivers it (in an endpoint's POST body, or to a Worker). */
export interface PushedMessage {
  id: string;
  seq: number;
  body: Json;
  attributes: Record<string, string>;
  /** Deliveries so far, this one included. */
  attempts: number;
  enqueuedAt: number;
  groupId?: string;
}

/** The body of a push to an endpoint, and the batch a Worker is handed. */
export interface PushDelivery {
  queue: string;
  messages: PushedMessage[];
}

/** One message's outcome, as an endpoint's answer or a Worker's adapter gives it. */
export interface PushMessageResult {
  id: string;
  outcome: "ack" | "retry";
  /** For `retry`: wait this long first, 0..43200000 ms. Default the queue's backoff. */
  delayMs?: number;
  /** For `retry`: why, kept as the message's last error (up to 4096 characters; a dead letter shows it). Default "retry asked by the endpoint". */
  error?: string;
}

/**
 * What an endpoint may answer with its 2xx, and what a Worker's adapter
 * answers: outcomes for some messages (the others are acked). `error`
 * (Workers): the handler threw; it is kept as the retried messages' last error.
 */
export interface PushAnswer {
  results?: PushMessageResult[];
  error?: string;
}

/** The method edgeq calls on a Worker that consumes by push; the `edgeqConsumer` adapter adds it. */
export const PUSH_RPC_METHOD = "edgeqDeliver";

/**
 * Why a push delivery failed: the endpoint answered 4xx or 5xx (any status
 * but 2xx counts: a 3xx as `4xx`), it took longer than timeoutMs, it could
 * not be reached, or a Worker's handler threw or could not be called.
 */
export type PushFailureClass = "4xx" | "5xx" | "timeout" | "network" | "handler";

/** Every push failure class, in one list. */
export const PUSH_FAILURE_CLASSES: readonly PushFailureClass[] = ["4xx", "5xx", "timeout", "network", "handler"];

/** How push delivery fares. */
export interface PushStats {
  /** Deliveries (batches sent) since the queue was created. */
  deliveries: number;
  /** Deliveries that failed, by class, since the queue was created. */
  failures: Record<PushFailureClass, number>;
  /** How long the endpoint or Worker took to answer, over the deliveries of the last `QueueStats.latency.windowMs`. */
  latency: LatencyPercentiles;
  /** While a 429 or 503 with Retry-After holds every push back: when pushing starts again. Null otherwise. */
  pausedUntil: number | null;
}

// ---------------------------------------------------------------- streaming consume (docs/consume-protocol.md)

/** The WebSocket subprotocol of version 1 of the streaming consume: a client offers it, the server answers it. */
export const STREAM_PROTOCOL = "edgeq.v1";
/** A subprotocol `bearer.<token>` carries the token where a client cannot set headers (a browser's WebSocket). */
export const BEARER_PROTOCOL_PREFIX = "bearer.";

/** Frames a consumer sends on a consume stream (JSON text). A settle frame's `id` comes back on its answer. */
export type StreamClientFrame =
  | { type: "ack"; id: number; receipts: string[] }
  | { type: "nack"; id: number; receipts: string[]; delayMs?: number; error?: string }
  | { type: "extend"; id: number; receipts: string[]; visibilityTimeoutMs: number }
  | { type: "release"; id: number; receipts: string[] }
  | { type: "prefetch"; prefetch: number };

/** Frames a partition sends on a consume stream (JSON text). */
export type StreamServerFrame =
  | {
      type: "welcome";
      version: 1;
      queue: string;
      partition: number;
      partitions: number;
      prefetch: number;
      visibilityTimeoutMs: number;
    }
  | { type: "messages"; messages: ReceivedMessage[] }
  | { type: "results"; id: number; results: ReceiptResult[] }
  | { type: "partitions"; partitions: number }
  | { type: "error"; id?: number; code: ErrorCode; message: string };

/** Receipts look like `<partition>.<seq>.<lease token>`. */
export const RECEIPT_PATTERN = /^(\d{1,2})\.(\d{1,15})\.([A-Za-z0-9_-]{16,64})$/;

/** What a scoped token may do: `publish` enqueues, `consume` receives and settles, `manage` configures. */
export type Scope = "publish" | "consume" | "manage";
/** Every scope, in one list. */
export const SCOPES: readonly Scope[] = ["publish", "consume", "manage"];

/** A queue a token covers: a queue name, or a prefix ending in `*` (`orders-*`; `*` alone is every queue). */
export const QUEUE_GRANT_PATTERN = /^(?:[A-Za-z0-9_-]{1,64}(?:\.fifo)?|[A-Za-z0-9_-]{0,63}\*)$/;

/** `POST /v1/tokens` (admin only). At least one of `queues` and `topics`. */
export interface TokenRequest {
  scopes: Scope[];
  /** Queue names or `prefix-*` patterns. Default none. */
  queues?: string[];
  /** Topic names or `prefix-*` patterns, as for queues. Default none. */
  topics?: string[];
  /** Lifetime, 1 s to 30 days. Default 3600. */
  expiresInSeconds?: number;
}

export interface TokenResponse {
  /** A JWT (HS256): send it as `Authorization: Bearer <token>`. */
  token: string;
  /** When it stops working, in ms since the epoch. */
  expiresAt: number;
}

/** The claims of a scoped token. `exp` and `iat` are in seconds, as JWT has them. */
export interface TokenClaims {
  scopes: Scope[];
  queues: string[];
  /** The topics it covers; absent in tokens that name none. */
  topics?: string[];
  exp: number;
  iat?: number;
}

/**
 * What a method of the service-binding entrypoint (`EdgeqService`) answers:
 * the same shape as the HTTP answer, or the same error body. Errors are
 * results, not exceptions, because custom error properties do not survive RPC.
 */
export type RpcResult<T> = T | ErrorBody;

// ---------------------------------------------------------------- topics

/** Limits of topics and their subscriptions. */
export const TOPIC_LIMITS = {
  /** Subscriptions of one topic. */
  maxSubscriptions: 32,
  /** Attribute names in one filter. */
  maxFilterNames: 10,
  /** Accepted values of one attribute name in a filter. */
  maxFilterValues: 100,
  /** Largest message published (JSON body plus attributes), as a queue's default maxMessageBytes. */
  maxMessageBytes: 256 * 1024,
} as const;

/**
 * Which messages a subscription takes: attribute name -> accepted values. A
 * message matches when, for every name, its attribute of that name is one of
 * the values. An empty filter (or none) takes every message.
 */
export type SubscriptionFilter = Record<string, string[]>;

/** A queue that receives a copy of each message published to the topic (that its filter takes). */
export interface Subscription {
  queue: string;
  /** Default none: every message. */
  filter?: SubscriptionFilter;
}

/** A topic's settings. */
export interface TopicConfig {
  /** At most 32, one per queue, in the order given. Default none (every message is `filtered`). */
  subscriptions: Subscription[];
  /** How long a publish's `dedupId` is remembered, 0 to 24 h. Default 5 min. */
  dedupWindowMs: number;
}

/** The defaults of a new topic. */
export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({ subscriptions: [], dedupWindowMs: 5 * 60_000 });

/** `PUT /v1/topics/:topic`: the settings to change; the others keep their value (or the default). */
export type TopicConfigPatch = Partial<TopicConfig>;

/** One subscription's fan-out figures. */
export interface SubscriptionStats {
  queue: string;
  /** Messages stored in the queue (once each) since the subscription was added. */
  delivered: number;
  /** Messages published since it was added that its filter did not take. */
  filtered: number;
  /** Messages it takes that are not in its queue yet. */
  pending: number;
  /** Age of the oldest of those; 0 when none. */
  oldestPendingAgeMs: number;
  /** Deliveries to the queue that failed in a row (a full queue, a queue that does not exist...); 0 when the last one worked. */
  failures: number;
  /** The last failure, `CODE: message`; null when the last delivery worked. */
  lastError: string | null;
  /** When the next delivery is tried after a failure; null when not waiting. */
  retryAt: number | null;
}

export interface TopicStats {
  /** Messages accepted since the topic was created (duplicates not counted). */
  published: number;
  /** Publishes whose dedupId had been seen within the window: nothing was stored. */
  duplicates: number;
  /** Messages that no subscription's filter took (not an error). */
  filtered: number;
  /** Messages not yet in every queue that takes them: the outbox. */
  pending: number;
  /** Age of the oldest of those: the fan-out's lag; 0 when none. */
  oldestPendingAgeMs: number;
  subscriptions: SubscriptionStats[];
}

/** A topic as `PUT`, `GET /v1/topics/:topic` (with its stats) and `GET /v1/topics` answer it. */
export interface TopicInfo {
  name: string;
  config: TopicConfig;
  createdAt: number;
  stats?: TopicStats;
}

export interface TopicList {
  topics: TopicInfo[];
  /** Pass back to get the next page; null at the end. */
  cursor: string | null;
}

/** The answer for one published message. */
export interface PublishedMessage {
  id: string;
  /** True when the dedup id had been seen within the topic's window and nothing was stored. */
  duplicate?: boolean;
}

export interface PublishResponse {
  messages: PublishedMessage[];
}
