/**
 * Queue attributes in SQS's names and units (seconds, bytes, text) against
 * edgeq's queue: its configuration (milliseconds), its stats, and the
 * registry's SQS-only attributes (DelaySeconds,
 * ReceiveMessageWaitTimeSeconds, ContentBasedDeduplication).
 *
 * RedrivePolicy is edgeq's maxAttempts (maxReceiveCount) with a
 * deadLetterQueue (deadLetterTargetArn). A queue without one keeps edgeq's
 * maxAttempts but answers no RedrivePolicy; a queue made through SQS gets
 * SQS's behaviour: no limit on receives short of edgeq's highest
 * maxAttempts, and no backoff (a message is visible again as soon as its
 * visibility timeout ends).
 */
import { QUEUE_CONFIG_RANGES, type QueueConfig, type QueueStats } from "../../client/protocol";
import type { QueueRecord } from "../../durable-objects/contract";
import { SqsError } from "./errors";
import { isFifo, queueArn, queueOfArn } from "./queue-url";
import { leaseMsOf, MAX_VISIBILITY_SECONDS, MAX_WAIT_SECONDS } from "./receive";
import { MAX_DELAY_SECONDS } from "./send";

/** The settings a queue made through SQS starts from: SQS's behaviour where edgeq's defaults differ. */
export const SQS_QUEUE_DEFAULTS: Partial<Omit<QueueConfig, "push">> = {
  maxAttempts: QUEUE_CONFIG_RANGES.maxAttempts.max,
  backoffBaseMs: 0,
  backoffMaxMs: 0,
};

/** The attributes edgeq answers (in the order SQS lists them). */
const ANSWERED = [
  "QueueArn",
  "ApproximateNumberOfMessages",
  "ApproximateNumberOfMessagesNotVisible",
  "ApproximateNumberOfMessagesDelayed",
  "CreatedTimestamp",
  "LastModifiedTimestamp",
  "VisibilityTimeout",
  "MaximumMessageSize",
  "MessageRetentionPeriod",
  "DelaySeconds",
  "ReceiveMessageWaitTimeSeconds",
  "RedrivePolicy",
  "FifoQueue",
  "ContentBasedDeduplication",
] as const;

/** SQS queue attributes edgeq does not have: asked for, they are absent (as unset ones are in SQS); set, they are refused. */
export const UNSUPPORTED_ATTRIBUTES = [
  "Policy",
  "RedriveAllowPolicy",
  "KmsMasterKeyId",
  "KmsDataKeyReusePeriodSeconds",
  "SqsManagedSseEnabled",
  "DeduplicationScope",
  "FifoThroughputLimit",
] as const;

const STATS = new Set(["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]);
const READ_ONLY = new Set([...STATS, "QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"]);
const KNOWN = new Set<string>(["All", ...ANSWERED, ...UNSUPPORTED_ATTRIBUTES]);

/** The attribute names of a GetQueueAttributes, checked: `All`, or names SQS knows. */
export function checkAttributeNames(names: readonly string[]): Set<string> {
  for (const name of names) if (!KNOWN.has(name)) throw new SqsError("InvalidAttributeName", `Unknown Attribute ${name.slice(0, 100)}.`);
  return new Set(names.includes("All") ? ANSWERED : names);
}

/** Whether answering `names` needs the queue's stats (a call to each partition). */
export const needsStats = (names: Set<string>): boolean => [...names].some((n) => STATS.has(n));

const seconds = (ms: number) => String(Math.round(ms / 1000));

/** The queue's attributes, those of `names` that it has. */
export function queueAttributes(record: QueueRecord, region: string, names: Set<string>, stats?: QueueStats): Record<string, string> {
  const { config, sqsAttributes } = record;
  const fifo = isFifo(record.name);
  const all: Record<string, string | undefined> = {
    QueueArn: queueArn(region, record.name),
    ApproximateNumberOfMessages: stats && String(stats.ready),
    ApproximateNumberOfMessagesNotVisible: stats && String(stats.inFlight),
    ApproximateNumberOfMessagesDelayed: stats && String(stats.delayed),
    CreatedTimestamp: String(Math.floor(record.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(record.modifiedAt / 1000)),
    VisibilityTimeout: seconds(config.visibilityTimeoutMs),
    MaximumMessageSize: String(config.maxMessageBytes),
    MessageRetentionPeriod: seconds(config.retentionMs),
    DelaySeconds: sqsAttributes.DelaySeconds ?? "0",
    ReceiveMessageWaitTimeSeconds: sqsAttributes.ReceiveMessageWaitTimeSeconds ?? "0",
    RedrivePolicy: redrivePolicy(config, region),
    FifoQueue: fifo ? "true" : undefined,
    ContentBasedDeduplication: fifo ? (sqsAttributes.ContentBasedDeduplication ?? "false") : undefined,
  };
  const out: Record<string, string> = {};
  for (const name of ANSWERED) if (names.has(name) && all[name] !== undefined) out[name] = all[name]!;
  return out;
}

const redrivePolicy = (config: QueueConfig, region: string): string | undefined =>
  config.deadLetterQueue === null
    ? undefined
    : JSON.stringify({ deadLetterTargetArn: queueArn(region, config.deadLetterQueue), maxReceiveCount: config.maxAttempts });

/** What a CreateQueue or SetQueueAttributes changes. */
export interface QueueChange {
  /** SQS sets no push delivery. */
  patch: Partial<Omit<QueueConfig, "push">>;
  sqsAttributes: Record<string, string>;
  /** The queue a RedrivePolicy names (it must exist); undefined when none is set. */
  deadLetterTarget?: string;
}

const badValue = (name: string, why: string) => new SqsError("InvalidAttributeValue", `Invalid value for the parameter ${name}: ${why}`);

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw badValue(name, `must be an integer from ${min} to ${max}`);
  return n;
}

function boolean(name: string, value: string): "true" | "false" {
  if (value !== "true" && value !== "false") throw badValue(name, "must be true or false");
  return value;
}

function readRedrivePolicy(value: string): { deadLetterQueue: string; maxAttempts: number } | null {
  if (value === "") return null;
  let policy: unknown;
  try {
    policy = JSON.parse(value);
  } catch {
    throw badValue("RedrivePolicy", "must be JSON");
  }
  if (typeof policy !== "object" || policy === null || Array.isArray(policy)) throw badValue("RedrivePolicy", "must be a JSON object");
  const { deadLetterTargetArn: arn, maxReceiveCount: count } = policy as Record<string, unknown>;
  if (typeof arn !== "string") throw badValue("RedrivePolicy", "deadLetterTargetArn is required");
  const text = typeof count === "number" ? String(count) : typeof count === "string" ? count : "";
  const { max } = QUEUE_CONFIG_RANGES.maxAttempts;
  return { deadLetterQueue: queueOfArn(arn, "RedrivePolicy"), maxAttempts: wholeNumber("RedrivePolicy maxReceiveCount", text, 1, max) };
}

/** Reads the Attributes of a CreateQueue (`creating`) or SetQueueAttributes of `queue`. */
export function readQueueAttributes(queue: string, attributes: Map<string, string>, creating: boolean): QueueChange {
  const change: QueueChange = { patch: {}, sqsAttributes: {} };
  const fifo = isFifo(queue);
  for (const [name, value] of attributes) {
    switch (name) {
      case "VisibilityTimeout":
        change.patch.visibilityTimeoutMs = leaseMsOf(wholeNumber(name, value, 0, MAX_VISIBILITY_SECONDS));
        break;
      case "MessageRetentionPeriod": {
        const { min, max } = QUEUE_CONFIG_RANGES.retentionMs;
        change.patch.retentionMs = wholeNumber(name, value, min / 1000, max / 1000) * 1000;
        break;
      }
      case "MaximumMessageSize": {
        const { min, max } = QUEUE_CONFIG_RANGES.maxMessageBytes;
        change.patch.maxMessageBytes = wholeNumber(name, value, min, max);
        break;
      }
      case "DelaySeconds":
        change.sqsAttributes.DelaySeconds = String(wholeNumber(name, value, 0, MAX_DELAY_SECONDS));
        break;
      case "ReceiveMessageWaitTimeSeconds":
        change.sqsAttributes.ReceiveMessageWaitTimeSeconds = String(wholeNumber(name, value, 0, MAX_WAIT_SECONDS));
        break;
      case "RedrivePolicy": {
        const policy = readRedrivePolicy(value);
        if (policy === null) {
          change.patch.deadLetterQueue = null;
          change.patch.maxAttempts = SQS_QUEUE_DEFAULTS.maxAttempts;
        } else {
          if (policy.deadLetterQueue === queue) throw badValue(name, "a queue cannot be its own dead-letter queue");
          change.patch.deadLetterQueue = policy.deadLetterQueue;
          change.patch.maxAttempts = policy.maxAttempts;
          change.deadLetterTarget = policy.deadLetterQueue;
        }
        break;
      }
      case "FifoQueue":
        if (!creating) throw new SqsError("InvalidAttributeName", "FifoQueue can only be set when the queue is created.");
        if (boolean(name, value) !== String(fifo)) {
          throw badValue(name, fifo ? "a queue whose name ends in .fifo is a FIFO queue" : "the name of a FIFO queue must end with .fifo");
        }
        break;
      case "ContentBasedDeduplication":
        if (!fifo) throw new SqsError("InvalidAttributeName", "ContentBasedDeduplication is an attribute of FIFO queues only.");
        change.sqsAttributes.ContentBasedDeduplication = boolean(name, value);
        break;
      default:
        if (READ_ONLY.has(name)) throw new SqsError("InvalidAttributeName", `${name} cannot be set.`);
        if ((UNSUPPORTED_ATTRIBUTES as readonly string[]).includes(name)) {
          throw new SqsError("InvalidAttributeName", `edgeq does not support the queue attribute ${name}.`);
        }
        throw new SqsError("InvalidAttributeName", `Unknown Attribute ${name.slice(0, 100)}.`);
    }
  }
  return change;
}

/** The record as it would be with `change` applied: for CreateQueue's comparison with an existing queue. */
export const withChange = (record: QueueRecord, change: QueueChange): QueueRecord => ({
  ...record,
  config: { ...record.config, ...change.patch },
  sqsAttributes: { ...record.sqsAttributes, ...change.sqsAttributes },
});
