/**
 * SendMessage and SendMessageBatch: an SQS message becomes an edgeq message.
 *
 * - The body (SQS's text) is stored as a JSON string, so the v1 API reads it
 *   as that string.
 * - MessageAttributes go into the attributes (message-attributes.ts).
 * - On a FIFO queue (`.fifo`), MessageGroupId is the groupId and
 *   MessageDeduplicationId (or, with ContentBasedDeduplication, the SHA-256
 *   of the body) the dedupId, kept at least SQS's five minutes. On a
 *   standard queue a MessageGroupId only routes (edgeq's `key`, as SQS's fair
 *   queues use it: no ordering).
 * - DelaySeconds (up to 900), or the queue's DelaySeconds, is the delay.
 */
import type { SendMessage } from "../../client/protocol";
import type { QueueRecord } from "../../durable-objects/contract";
import { sendMessages } from "../produce";
import { allow, targetQueue, type ActionContext } from "./context";
import { invalidParameter, missingParameter, SqsError, toSqsError } from "./errors";
import { batchEntries, entryFailure, integer, structMap, text, type BatchFailure, type Input } from "./input";
import {
  attributeBytes,
  forDigest,
  isSqsText,
  readMessageAttributes,
  readSystemAttributes,
  toEdgeqAttributes,
} from "./message-attributes";
import { md5Hex, md5OfAttributes } from "./md5";
import { isFifo } from "./queue-url";
import { sqsQueue } from "./queues";

/** SQS's window for deduplication ids on FIFO queues. */
export const FIFO_DEDUP_WINDOW_MS = 5 * 60_000;
/** The longest DelaySeconds. */
export const MAX_DELAY_SECONDS = 900;
/** The most bytes of all the messages of one batch, as SQS allows. */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** MessageGroupId and MessageDeduplicationId: 1 to 128 letters, digits and punctuation. */
const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

const encoder = new TextEncoder();

const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** SQS's SequenceNumber for an edgeq seq: it grows within a message group, as SQS's does. */
export const sequenceNumber = (seq: number): string => String(seq).padStart(20, "0");

/** One message to send, checked, with the checksums its answer carries. */
interface Outgoing {
  message: SendMessage;
  bytes: number;
  md5OfBody: string;
  md5OfAttributes?: string;
  md5OfSystemAttributes?: string;
}

async function outgoing(record: QueueRecord, entry: Input): Promise<Outgoing> {
  const fifo = isFifo(record.name);
  const body = text(entry, "MessageBody", true);
  if (body.length === 0) throw missingParameter("MessageBody");
  if (!isSqsText(body)) {
    throw new SqsError("InvalidMessageContents", "Invalid binary character in the message body: only #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF are allowed.");
  }
  const delaySeconds = integer(entry, "DelaySeconds", 0, MAX_DELAY_SECONDS);
  if (fifo && delaySeconds !== undefined) throw invalidParameter("DelaySeconds", "FIFO queues take a delay only from the queue's DelaySeconds");
  const attributes = readMessageAttributes(structMap(entry, "MessageAttributes"));
  const system = readSystemAttributes(structMap(entry, "MessageSystemAttributes"));
  const bytes = encoder.encode(body).length + attributeBytes(attributes);
  if (bytes > record.config.maxMessageBytes) {
    throw new SqsError("InvalidParameterValue", `One or more parameters are invalid. Reason: Message must be shorter than ${record.config.maxMessageBytes} bytes.`);
  }

  const message: SendMessage = { body };
  const delay = delaySeconds ?? Number(record.sqsAttributes.DelaySeconds ?? 0);
  if (delay > 0) message.delayMs = delay * 1000;
  const edgeqAttributes = toEdgeqAttributes(attributes, system);
  if (edgeqAttributes) message.attributes = edgeqAttributes;
  const groupId = text(entry, "MessageGroupId");
  const dedupId = text(entry, "MessageDeduplicationId");
  if (groupId !== undefined && !FIFO_ID.test(groupId)) throw invalidParameter("MessageGroupId", "must be 1 to 128 letters, digits or punctuation");
  if (dedupId !== undefined && !FIFO_ID.test(dedupId)) throw invalidParameter("MessageDeduplicationId", "must be 1 to 128 letters, digits or punctuation");
  if (fifo) {
    if (groupId === undefined) throw missingParameter("MessageGroupId");
    message.groupId = groupId;
    if (dedupId !== undefined) message.dedupId = dedupId;
    else if (record.sqsAttributes.ContentBasedDeduplication === "true") message.dedupId = await sha256Hex(body);
    else {
      throw new SqsError("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly");
    }
  } else {
    if (dedupId !== undefined) throw invalidParameter("MessageDeduplicationId", "The request include parameter that is not valid for this queue type");
    if (groupId !== undefined) message.key = groupId;
  }
  return {
    message,
    bytes,
    md5OfBody: await md5Hex(body),
    md5OfAttributes: await md5OfAttributes(forDigest(attributes)),
    md5OfSystemAttributes: await md5OfAttributes(forDigest(system)),
  };
}

/** Stores checked messages; FIFO dedup ids are kept at least SQS's window. */
function store(ctx: ActionContext, record: QueueRecord, messages: Outgoing[]) {
  const windowMs = isFifo(record.name) ? FIFO_DEDUP_WINDOW_MS : undefined;
  return sendMessages(ctx.env, record.name, messages.map((m) => m.message), { minDedupWindowMs: windowMs, sizeChecked: true });
}

/** The answer for one stored message. */
function sent(record: QueueRecord, m: Outgoing, stored: { id: string; seq: number }) {
  return {
    MessageId: stored.id,
    MD5OfMessageBody: m.md5OfBody,
    ...(m.md5OfAttributes === undefined ? {} : { MD5OfMessageAttributes: m.md5OfAttributes }),
    ...(m.md5OfSystemAttributes === undefined ? {} : { MD5OfMessageSystemAttributes: m.md5OfSystemAttributes }),
    ...(isFifo(record.name) ? { SequenceNumber: sequenceNumber(stored.seq) } : {}),
  };
}

export async function sendMessage(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "publish", queue);
  const record = await sqsQueue(ctx.env, queue);
  const m = await outgoing(record, ctx.input);
  const [stored] = await store(ctx, record, [m]);
  return sent(record, m, stored);
}

/**
 * Each entry is checked on its own (a bad one fails alone, in `Failed`);
 * the good ones are stored together, in the order given, or the request
 * fails as a whole (a queue that is full or cannot be reached).
 */
export async function sendMessageBatch(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "publish", queue);
  const entries = batchEntries(ctx.input);
  const record = await sqsQueue(ctx.env, queue);
  const good: { id: string; m: Outgoing }[] = [];
  const Failed: BatchFailure[] = [];
  for (const { id, entry } of entries) {
    try {
      good.push({ id, m: await outgoing(record, entry) });
    } catch (err) {
      Failed.push(entryFailure(id, toSqsError(err)));
    }
  }
  const total = good.reduce((n, g) => n + g.m.bytes, 0);
  if (total > MAX_BATCH_BYTES) {
    throw new SqsError("BatchRequestTooLong", `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes. You have sent ${total} bytes.`);
  }
  const stored = good.length === 0 ? [] : await store(ctx, record, good.map((g) => g.m));
  const Successful = good.map((g, i) => ({ Id: g.id, ...sent(record, g.m, stored[i]) }));
  return { Successful, Failed };
}
