/**
 * The service-binding face of edgeq: other Workers call these methods over
 * typed RPC, with no HTTP hop and no token (the binding is the trust). Each
 * method validates its arguments with the HTTP routes' schemas, calls the
 * same function as the route (produce, consume, settle, manage...), and answers what the HTTP route would,
 * or `{error: {code, message}}`: custom error properties do not survive RPC,
 * so errors are results, never exceptions.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { z } from "zod";
import type {
  DeadLetterPage,
  ErrorBody,
  PeekPage,
  PublishResponse,
  QueueConfigPatch,
  QueueInfo,
  QueueList,
  QueueStats,
  ReceiptResponse,
  ReceiveRequest,
  ReceiveResponse,
  RpcResult,
  SendMessage,
  SendResponse,
} from "../client/protocol";
import { ApiError } from "./errors";
import {
  ackRequest,
  configPatchOf,
  deadLetterQuery,
  enqueueRequest,
  extendRequest,
  forwardWindow,
  nackRequest,
  peekQuery,
  queueConfigPatch,
  queueListQuery,
  receiveRequest,
  redriveRequest,
} from "./schemas";
import { ackAndReceive, leasedJson, receiveMessages } from "./consume";
import { deleteDeadLetters, listDeadLetters, redriveDeadLetters } from "./dead-letters";
import { deleteQueue, getQueue, listQueues, peekMessages, purgeQueue, putQueue, rotatePushSecret, setPaused } from "./manage";
import { sendMessages } from "./produce";
import { QueueProducer } from "./producer";
import { queueStats } from "./queue-stats";
import { ackMessages, extendLeases, nackMessages } from "./settle";
import type { Secrets } from "./types";
import { publishMessages } from "./topics";
import { checkQueueName, checkTopicName, validate } from "./validate";

/** The HTTP API's validation: 400 INVALID_REQUEST for the shape, 422 INVALID_VALUE for values. */
const check = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> => validate(schema, value);

const queueOf = checkQueueName;

/** Runs one operation; an error becomes the error body the HTTP API would answer. */
async function answer<T>(operation: () => Promise<T>): Promise<RpcResult<T>> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof ApiError) return { error: { code: err.code, message: err.message } } satisfies ErrorBody;
    console.error(JSON.stringify({ event: "internal_error", via: "rpc", error: String(err) }));
    return { error: { code: "INTERNAL", message: "internal error" } };
  }
}

/**
 * Bind it from another Worker with
 * `services = [{ binding = "EDGEQ", service = "edgeq", entrypoint = "EdgeqService" }]`.
 */
export class EdgeqService extends WorkerEntrypoint<Env & Secrets> {
  /** Enqueues one message or a list (1..100); answers `{messages: [{id, seq}]}` in the order given. */
  send(queue: string, messages: SendMessage | SendMessage[]): Promise<RpcResult<SendResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      const list = check(enqueueRequest, Array.isArray(messages) ? { messages } : messages);
      return { messages: await sendMessages(this.env, name, list) };
    });
  }

  /**
   * `send` for edgeq's own forwarders (a topic's fan-out, dead letters sent
   * to another queue), called through `ctx.exports`: each message carries a
   * `dedupId` made from its source, kept at least `minDedupWindowMs`
   * (1..7 days), so that a retry after an unknown outcome stores nothing twice.
   */
  forward(queue: string, messages: SendMessage[], minDedupWindowMs: number): Promise<RpcResult<SendResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      const list = check(enqueueRequest, { messages });
      if (list.some((m) => m.dedupId === undefined)) throw new ApiError("INVALID_REQUEST", "forward: every message needs a dedupId");
      const windowMs = check(forwardWindow, minDedupWindowMs);
      return { messages: await sendMessages(this.env, name, list, { minDedupWindowMs: windowMs }) };
    });
  }

  /**
   * A producer for `queue` in the shape of Cloudflare Queues' `Queue`
   * binding (`send`, `sendBatch`), which throws on failure as a `Queue` does:
   * `const ORDERS = env.EDGEQ.producer("orders"); await ORDERS.send({...})`.
   */
  producer(queue: string): QueueProducer {
    try {
      return new QueueProducer(this.env, queueOf(queue));
    } catch (err) {
      throw err instanceof ApiError ? new Error(`${err.code}: ${err.message}`) : err;
    }
  }

  /**
   * Publishes one message or a list (1..100) to a topic: answers
   * `{messages: [{id}]}` once they are stored in its outbox; each subscribed
   * queue then receives a copy of those its filter takes.
   */
  publish(topic: string, messages: SendMessage | SendMessage[]): Promise<RpcResult<PublishResponse>> {
    return answer(async () => {
      const name = checkTopicName(topic);
      const list = check(enqueueRequest, Array.isArray(messages) ? { messages } : messages);
      return { messages: await publishMessages(this.env, name, list) };
    });
  }

  /** Leases up to `max` messages (default 1); with `ack`, acks those receipts first and answers `ackResults`. */
  receive(queue: string, options: ReceiveRequest = {}): Promise<RpcResult<ReceiveResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      const { ack, ...request } = check(receiveRequest, options);
      // waitUntil: a long-poll listens a little after its answer, to give back a push that crossed its end.
      const opts = { ...request, waitUntil: (p: Promise<unknown>) => this.ctx.waitUntil(p) };
      if (ack === undefined) {
        const leased = await receiveMessages(this.env, name, opts);
        return JSON.parse(`{"messages":[${leased.map(leasedJson).join(",")}]}`) as ReceiveResponse;
      }
      const { leased, ackResults } = await ackAndReceive(this.env, name, ack, opts);
      const messages = JSON.parse(`[${leased.map(leasedJson).join(",")}]`) as ReceiveResponse["messages"];
      return { messages, ackResults };
    });
  }

  /** Acknowledges; answers one result per receipt. */
  ack(queue: string, receipts: string[]): Promise<RpcResult<ReceiptResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      return { results: await ackMessages(this.env, name, check(ackRequest, { receipts }).receipts) };
    });
  }

  /** Gives messages back for a retry after `delayMs` (default the queue's backoff). */
  nack(queue: string, receipts: string[], options: { delayMs?: number; error?: string } = {}): Promise<RpcResult<ReceiptResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      const { receipts: valid, ...opts } = check(nackRequest, { ...options, receipts });
      return { results: await nackMessages(this.env, name, valid, opts) };
    });
  }

  /** Extends leases to end `visibilityTimeoutMs` from now. */
  extend(queue: string, receipts: string[], visibilityTimeoutMs: number): Promise<RpcResult<ReceiptResponse>> {
    return answer(async () => {
      const name = queueOf(queue);
      const valid = check(extendRequest, { receipts, visibilityTimeoutMs });
      return { results: await extendLeases(this.env, name, valid.receipts, valid.visibilityTimeoutMs) };
    });
  }

  stats(queue: string): Promise<RpcResult<QueueStats>> {
    return answer(async () => queueStats(this.env, queueOf(queue)));
  }

  /** One page of dead letters (default 100). */
  deadLetters(queue: string, options: { limit?: number; cursor?: string } = {}): Promise<RpcResult<DeadLetterPage>> {
    return answer(async () => {
      const name = queueOf(queue);
      const page = await listDeadLetters(this.env, name, check(deadLetterQuery, options));
      return {
        deadLetters: page.deadLetters.map((d) => ({
          ...d,
          body: JSON.parse(d.body),
          attributes: d.attributes === null ? {} : JSON.parse(d.attributes),
        })),
        cursor: page.cursor,
      };
    });
  }

  /** Makes dead letters ready again (all, or those with `ids`), as many as maxDepth has room for. */
  redrive(queue: string, ids?: string[]): Promise<RpcResult<{ redriven: number; remaining: number }>> {
    return answer(async () => {
      const name = queueOf(queue);
      const valid = check(redriveRequest, ids === undefined ? {} : { ids });
      return redriveDeadLetters(this.env, name, valid.ids ?? null);
    });
  }

  /** Deletes every dead letter of the queue. */
  deleteDeadLetters(queue: string): Promise<RpcResult<{ deleted: number }>> {
    return answer(async () => ({ deleted: await deleteDeadLetters(this.env, queueOf(queue), null) }));
  }

  /** Creates a queue or changes some of its settings; answers the whole configuration. */
  configureQueue(queue: string, settings: QueueConfigPatch = {}): Promise<RpcResult<QueueInfo>> {
    return answer(async () => (await putQueue(this.env, queueOf(queue), configPatchOf(check(queueConfigPatch, settings)))).queue);
  }

  /** A new signing secret for push to an endpoint (answered once, in `push`); the previous one signs too for 24 hours. */
  rotatePushSecret(queue: string): Promise<RpcResult<QueueInfo>> {
    return answer(async () => rotatePushSecret(this.env, queueOf(queue)));
  }

  /** The queue's configuration and stats. */
  getQueue(queue: string): Promise<RpcResult<QueueInfo>> {
    return answer(async () => getQueue(this.env, queueOf(queue)));
  }

  /** Queues by name, a page at a time (default 100), each with a stats summary unless `stats` is false. */
  listQueues(options: { limit?: number; cursor?: string; stats?: boolean } = {}): Promise<RpcResult<QueueList>> {
    return answer(async () => {
      const { stats, ...page } = options;
      const valid = check(queueListQuery, { ...page, ...(stats === undefined ? {} : { stats: String(stats) }) });
      return listQueues(this.env, { limit: valid.limit, cursor: valid.cursor, stats: valid.stats === "true" });
    });
  }

  /** Deletes the queue and every message in it. */
  deleteQueue(queue: string): Promise<RpcResult<{ name: string; deleted: true }>> {
    return answer(async () => {
      const name = queueOf(queue);
      await deleteQueue(this.env, name);
      return { name, deleted: true as const };
    });
  }

  /** Stops delivery; enqueues are still accepted. */
  pauseQueue(queue: string): Promise<RpcResult<QueueInfo>> {
    return answer(async () => setPaused(this.env, queueOf(queue), true));
  }

  resumeQueue(queue: string): Promise<RpcResult<QueueInfo>> {
    return answer(async () => setPaused(this.env, queueOf(queue), false));
  }

  /** Deletes ready and delayed messages; answers how many. */
  purgeQueue(queue: string): Promise<RpcResult<{ purged: number }>> {
    return answer(async () => ({ purged: await purgeQueue(this.env, queueOf(queue)) }));
  }

  /** One page of messages with their state, nothing leased (default 100). */
  peek(queue: string, options: { limit?: number; cursor?: string } = {}): Promise<RpcResult<PeekPage>> {
    return answer(async () => {
      const page = await peekMessages(this.env, queueOf(queue), check(peekQuery, options));
      return {
        messages: page.messages.map(({ body, attributes, groupId, lastError, ...m }) => ({
          ...m,
          body: JSON.parse(body),
          attributes: attributes === null ? {} : JSON.parse(attributes),
          ...(groupId === null ? {} : { groupId }),
          ...(lastError === null ? {} : { lastError }),
        })),
        cursor: page.cursor,
      };
    });
  }
}
