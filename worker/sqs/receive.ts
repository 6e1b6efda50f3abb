/**
 * ReceiveMessage: edgeq's receive (a lease, fenced by its receipt, which is
 * the ReceiptHandle), with a long-poll of up to 20 s and SQS's view of each
 * message: its body as text, its message attributes and the system
 * attributes asked for, and their checksums.
 */
import { receiveMessages, releaseLeases, type Leased } from "../consume";
import { answerLongPoll } from "../long-poll-answer";
import { formatReceipt } from "../receipts";
import { allow, targetQueue, type ActionContext } from "./context";
import { SqsError, toSqsError } from "./errors";
import { JSON_MEDIA_TYPE, jsonErrorBody } from "./json-protocol";
import { XML_MEDIA_TYPE, xmlBody, xmlErrorBody } from "./query-protocol";
import { integer, textList } from "./input";
import { forDigest, fromEdgeqAttributes, selectAttributes, type SqsAttribute } from "./message-attributes";
import { md5Hex, md5OfAttributes } from "./md5";
import { isFifo, queueArn } from "./queue-url";
import { sqsQueue } from "./queues";
import { sequenceNumber } from "./send";

/** The most messages one ReceiveMessage may ask for. */
export const MAX_RECEIVE = 10;
/** The longest visibility timeout, in seconds (12 hours), and the longest wait. */
export const MAX_VISIBILITY_SECONDS = 43_200;
export const MAX_WAIT_SECONDS = 20;

/** The system attributes a receive may ask for (SenderId is accepted and never answered: edgeq keeps no sender). */
export const SYSTEM_ATTRIBUTE_NAMES = new Set([
  "All",
  "SenderId",
  "SentTimestamp",
  "ApproximateReceiveCount",
  "ApproximateFirstReceiveTimestamp",
  "SequenceNumber",
  "MessageDeduplicationId",
  "MessageGroupId",
  "AWSTraceHeader",
  "DeadLetterQueueSourceArn",
]);

/**
 * A visibility timeout in SQS's seconds as edgeq's lease: edgeq leases for
 * at least a second, so 0 (visible again at once) leases for one second.
 */
export const leaseMsOf = (seconds: number): number => Math.max(1, seconds) * 1000;

/** A stored body (JSON text) as SQS text: a JSON string is its text; any other JSON value (sent through the v1 API) its JSON. */
export const bodyText = (json: string): string => (json.startsWith('"') ? (JSON.parse(json) as string) : json);

async function sqsMessage(ctx: ActionContext, queue: string, leased: Leased, systemNames: Set<string>, attributeNames: string[] | undefined) {
  const { partition, message: m } = leased;
  const body = bodyText(m.body);
  const view = fromEdgeqAttributes(m.attributes);
  const wants = (name: string) => systemNames.has("All") || systemNames.has(name);
  const system: Record<string, string> = {};
  if (wants("SentTimestamp")) system.SentTimestamp = String(m.enqueuedAt);
  if (wants("ApproximateReceiveCount")) system.ApproximateReceiveCount = String(m.attempts);
  if (wants("ApproximateFirstReceiveTimestamp")) system.ApproximateFirstReceiveTimestamp = String(m.firstDeliveredAt);
  if (wants("MessageGroupId") && m.groupId !== null) system.MessageGroupId = m.groupId;
  if (wants("MessageDeduplicationId") && m.dedupId !== null) system.MessageDeduplicationId = m.dedupId;
  if (wants("SequenceNumber") && isFifo(queue)) system.SequenceNumber = sequenceNumber(m.seq);
  if (wants("AWSTraceHeader") && view.traceHeader !== undefined) system.AWSTraceHeader = view.traceHeader;
  if (wants("DeadLetterQueueSourceArn") && view.deadLetterSource !== undefined) {
    system.DeadLetterQueueSourceArn = queueArn(ctx.region, view.deadLetterSource);
  }
  const attributes: Map<string, SqsAttribute> = selectAttributes(view.attributes, attributeNames);
  const attributesMd5 = await md5OfAttributes(forDigest(attributes));
  return {
    MessageId: m.id,
    ReceiptHandle: formatReceipt(partition, m.seq, m.leaseToken),
    MD5OfBody: await md5Hex(body),
    Body: body,
    ...(Object.keys(system).length > 0 ? { Attributes: system } : {}),
    ...(attributesMd5 === undefined ? {} : { MD5OfMessageAttributes: attributesMd5, MessageAttributes: Object.fromEntries(attributes) }),
  };
}

/**
 * A receive, answered as the v1 API's are (worker/long-poll-answer.ts): at
 * once when it does not wait long, else streamed, spaces first, so that a
 * consumer that leaves during the wait takes no lease. An error after the
 * spaces answers 200 with the error's body.
 */
export async function receiveMessage(ctx: ActionContext): Promise<Response> {
  const queue = targetQueue(ctx);
  allow(ctx, "consume", queue);
  const { input } = ctx;
  const max = integer(input, "MaxNumberOfMessages", 1, MAX_RECEIVE) ?? 1;
  const visibility = integer(input, "VisibilityTimeout", 0, MAX_VISIBILITY_SECONDS);
  const waitSeconds = integer(input, "WaitTimeSeconds", 0, MAX_WAIT_SECONDS);
  const systemNames = new Set([...(textList(input, "AttributeNames") ?? []), ...(textList(input, "MessageSystemAttributeNames") ?? [])]);
  for (const name of systemNames) {
    if (!SYSTEM_ATTRIBUTE_NAMES.has(name)) throw new SqsError("InvalidAttributeName", `Unknown Attribute ${name.slice(0, 100)}.`);
  }
  const attributeNames = textList(input, "MessageAttributeNames");
  const record = await sqsQueue(ctx.env, queue);
  const wait = waitSeconds ?? Number(record.sqsAttributes.ReceiveMessageWaitTimeSeconds ?? 0);
  const json = ctx.protocol === "json";
  return answerLongPoll({
    signal: ctx.signal,
    waitUntil: ctx.waitUntil,
    release: (leased) => releaseLeases(ctx.env, queue, leased),
    contentType: json ? JSON_MEDIA_TYPE : XML_MEDIA_TYPE,
    headers: { "x-amzn-requestid": ctx.requestId },
    errorBody: (err) => (json ? jsonErrorBody(toSqsError(err)) : xmlErrorBody(toSqsError(err), ctx.requestId, false)),
    receive: async (signal, onWait) => {
      const leased = await receiveMessages(ctx.env, queue, {
        max,
        visibilityTimeoutMs: visibility === undefined ? undefined : leaseMsOf(visibility),
        waitMs: wait * 1000,
        signal,
        waitUntil: ctx.waitUntil,
        onWait,
      });
      const result = leased.length === 0 ? {} : { Messages: await Promise.all(leased.map((l) => sqsMessage(ctx, queue, l, systemNames, attributeNames))) };
      return { leased, json: json ? JSON.stringify(result) : xmlBody("ReceiveMessage", result, ctx.requestId, false) };
    },
  });
}
