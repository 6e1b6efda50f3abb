/**
 * DeleteMessage(Batch) and ChangeMessageVisibility(Batch): edgeq's ack, and
 * its extend (or, for a visibility timeout of 0, its nack without delay:
 * visible again at once, the receive counted). A ReceiptHandle is an edgeq
 * receipt, fenced: one from a receive whose lease has ended is refused.
 * Deleting a message that is already gone succeeds, as in SQS.
 */
import type { ReceiptResult } from "../../client/protocol";
import { parseReceipt } from "../receipts";
import { ackMessages, extendLeases, nackMessages } from "../settle";
import { allow, targetQueue, type ActionContext } from "./context";
import { SqsError, toSqsError } from "./errors";
import { batchEntries, entryFailure, integer, text, type BatchFailure, type Input } from "./input";
import { leaseMsOf, MAX_VISIBILITY_SECONDS } from "./receive";

function receiptOf(entry: Input): string {
  const receipt = text(entry, "ReceiptHandle", true);
  if (!parseReceipt(receipt)) throw new SqsError("ReceiptHandleIsInvalid", `The input receipt handle "${receipt.slice(0, 200)}" is not a valid receipt handle.`);
  return receipt;
}

const expired = (receipt: string) =>
  new SqsError("InvalidParameterValue", `Value ${receipt.slice(0, 200)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);

/** What a delete's outcome means: gone (acked now, or before) is success. */
function deleted(r: ReceiptResult): SqsError | null {
  return r.ok || r.code === "NOT_FOUND" ? null : expired(r.receipt);
}

/** What a visibility change's outcome means: the message must be leased under that receipt. */
function changed(r: ReceiptResult): SqsError | null {
  if (r.ok) return null;
  return new SqsError("MessageNotInflight", `The message of receipt handle ${r.receipt.slice(0, 200)} is not in flight under it.`);
}

/** Sets the visibility of the leases of `receipts` (seconds): 0 gives them back at once. */
function changeVisibility(ctx: ActionContext, queue: string, receipts: string[], seconds: number): Promise<ReceiptResult[]> {
  if (seconds === 0) return nackMessages(ctx.env, queue, receipts, { delayMs: 0 });
  return extendLeases(ctx.env, queue, receipts, leaseMsOf(seconds));
}

export async function deleteMessage(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "consume", queue);
  const [result] = await ackMessages(ctx.env, queue, [receiptOf(ctx.input)]);
  const refused = deleted(result);
  if (refused) throw refused;
  return null;
}

export async function changeMessageVisibility(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "consume", queue);
  const receipt = receiptOf(ctx.input);
  const seconds = integer(ctx.input, "VisibilityTimeout", 0, MAX_VISIBILITY_SECONDS);
  if (seconds === undefined) throw new SqsError("MissingParameter", "The request must contain the parameter VisibilityTimeout.");
  const [result] = await changeVisibility(ctx, queue, [receipt], seconds);
  const refused = changed(result);
  if (refused) throw refused;
  return null;
}

/** A settling batch: entries checked one by one, the good ones settled in one call per visibility (or one ack). */
async function settleBatch(
  ctx: ActionContext,
  read: (entry: Input) => { receipt: string; seconds: number },
  settle: (receipts: string[], seconds: number) => Promise<ReceiptResult[]>,
  judge: (r: ReceiptResult) => SqsError | null,
) {
  const entries = batchEntries(ctx.input);
  const Failed: BatchFailure[] = [];
  const good = new Map<number, { id: string; receipt: string }[]>();
  for (const { id, entry } of entries) {
    try {
      const { receipt, seconds } = read(entry);
      good.set(seconds, [...(good.get(seconds) ?? []), { id, receipt }]);
    } catch (err) {
      Failed.push(entryFailure(id, toSqsError(err)));
    }
  }
  const Successful: { Id: string }[] = [];
  for (const [seconds, list] of good) {
    const results = await settle(list.map((g) => g.receipt), seconds);
    results.forEach((r, i) => {
      const refused = judge(r);
      if (refused) Failed.push(entryFailure(list[i].id, refused));
      else Successful.push({ Id: list[i].id });
    });
  }
  return { Successful, Failed };
}

export async function deleteMessageBatch(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "consume", queue);
  return settleBatch(ctx, (entry) => ({ receipt: receiptOf(entry), seconds: 0 }), (receipts) => ackMessages(ctx.env, queue, receipts), deleted);
}

export async function changeMessageVisibilityBatch(ctx: ActionContext) {
  const queue = targetQueue(ctx);
  allow(ctx, "consume", queue);
  const read = (entry: Input) => {
    const receipt = receiptOf(entry);
    const seconds = integer(entry, "VisibilityTimeout", 0, MAX_VISIBILITY_SECONDS);
    if (seconds === undefined) throw new SqsError("MissingParameter", "The request must contain the parameter VisibilityTimeout.");
    return { receipt, seconds };
  };
  return settleBatch(ctx, read, (receipts, seconds) => changeVisibility(ctx, queue, receipts, seconds), changed);
}
