import { Hono } from "hono";
import type { ReceiptResult, SentMessage } from "../../client/protocol";
import type { EnqueueItem, LeaseOutcome, LeaseRef, LeasedMessage } from "../../durable-objects/partition/types";
import { ApiError } from "../errors";
import { fairOrder, partitionFor } from "../partitions";
import { partitionStub, resolveQueue } from "../queues";
import { formatReceipt, parseReceipt } from "../receipts";
import { ackRequest, enqueueRequest, extendRequest, nackRequest, receiveRequest } from "../schemas";
import type { AppEnv } from "../types";
import { jsonBody } from "../validate";

const encoder = new TextEncoder();

export const messages = new Hono<AppEnv>();

messages.post("/", jsonBody(enqueueRequest), async (c) => {
  const queue = c.req.param("queue")!;
  const input = c.req.valid("json");
  const config = await resolveQueue(c.env, queue);

  const byPartition = new Map<number, { index: number; item: EnqueueItem }[]>();
  input.forEach((m, index) => {
    const body = JSON.stringify(m.body);
    const attributes = m.attributes === undefined ? null : JSON.stringify(m.attributes);
    const bytes = encoder.encode(body).length + (attributes === null ? 0 : encoder.encode(attributes).length);
    if (bytes > config.maxMessageBytes) {
      const at = input.length > 1 ? `messages[${index}]` : "message";
      throw new ApiError("PAYLOAD_TOO_LARGE", `${at} is ${bytes} bytes; maxMessageBytes is ${config.maxMessageBytes}`);
    }
    const partition = partitionFor(config, m.groupId);
    const list = byPartition.get(partition) ?? [];
    list.push({
      index,
      item: { body, attributes, delayMs: m.delayMs ?? 0, groupId: m.groupId ?? null, dedupId: m.dedupId ?? null },
    });
    byPartition.set(partition, list);
  });

  const sent: SentMessage[] = new Array(input.length);
  await Promise.all(
    [...byPartition].map(async ([partition, list]) => {
      const results = await partitionStub(c.env, queue, partition).enqueue(list.map((l) => l.item));
      results.forEach((r, i) => (sent[list[i].index] = r));
    }),
  );
  return c.json({ messages: sent }, 201);
});

/** A leased message as wire JSON; the body is spliced in as stored, never parsed. */
function leasedJson(partition: number, m: LeasedMessage): string {
  const head = JSON.stringify({ id: m.id, seq: m.seq }).slice(0, -1);
  const tail = JSON.stringify({
    attempts: m.attempts,
    enqueuedAt: m.enqueuedAt,
    receipt: formatReceipt(partition, m.seq, m.leaseToken),
    leaseExpiresAt: m.leaseExpiresAt,
    ...(m.groupId === null ? {} : { groupId: m.groupId }),
  }).slice(1);
  return `${head},"body":${m.body},"attributes":${m.attributes ?? "{}"},${tail}`;
}

messages.post("/receive", jsonBody(receiveRequest), async (c) => {
  const queue = c.req.param("queue")!;
  const { max, visibilityTimeoutMs } = c.req.valid("json");
  const config = await resolveQueue(c.env, queue);
  const leaseMs = visibilityTimeoutMs ?? config.visibilityTimeoutMs;
  const parts: string[] = [];
  let wanted = max;
  for (const partition of fairOrder(config)) {
    if (wanted <= 0) break;
    const leased = await partitionStub(c.env, queue, partition).receive(wanted, leaseMs);
    for (const m of leased) parts.push(leasedJson(partition, m));
    wanted -= leased.length;
  }
  return c.body(`{"messages":[${parts.join(",")}]}`, 200, { "content-type": "application/json; charset=utf-8" });
});

/** Sends each partition its receipts in one call and answers in the order given. */
async function settle(
  env: Env,
  queue: string,
  receipts: string[],
  call: (stub: ReturnType<typeof partitionStub>, refs: LeaseRef[]) => Promise<LeaseOutcome[]>,
): Promise<ReceiptResult[]> {
  const config = await resolveQueue(env, queue, false);
  const results: ReceiptResult[] = new Array(receipts.length);
  const byPartition = new Map<number, { index: number; ref: LeaseRef }[]>();
  receipts.forEach((receipt, index) => {
    const parsed = parseReceipt(receipt)!; // the schema checked the shape
    if (parsed.partition >= config.partitions) {
      results[index] = { receipt, ok: false, code: "NOT_FOUND" };
      return;
    }
    const list = byPartition.get(parsed.partition) ?? [];
    list.push({ index, ref: { seq: parsed.seq, token: parsed.token } });
    byPartition.set(parsed.partition, list);
  });
  await Promise.all(
    [...byPartition].map(async ([partition, list]) => {
      const outcomes = await call(partitionStub(env, queue, partition), list.map((l) => l.ref));
      outcomes.forEach((o, i) => (results[list[i].index] = { receipt: receipts[list[i].index], ...o }));
    }),
  );
  return results;
}

messages.post("/ack", jsonBody(ackRequest), async (c) => {
  const { receipts } = c.req.valid("json");
  const results = await settle(c.env, c.req.param("queue")!, receipts, (stub, refs) => stub.ack(refs));
  return c.json({ results });
});

messages.post("/nack", jsonBody(nackRequest), async (c) => {
  const { receipts, delayMs, error } = c.req.valid("json");
  const results = await settle(c.env, c.req.param("queue")!, receipts, (stub, refs) =>
    stub.nack(refs, delayMs ?? null, error ?? null),
  );
  return c.json({ results });
});

messages.post("/extend", jsonBody(extendRequest), async (c) => {
  const { receipts, visibilityTimeoutMs } = c.req.valid("json");
  const results = await settle(c.env, c.req.param("queue")!, receipts, (stub, refs) =>
    stub.extend(refs, visibilityTimeoutMs),
  );
  return c.json({ results });
});
