/**
 * A producer in the shape of Cloudflare Queues' `Queue` binding, handed out
 * by the service binding (`env.EDGEQ.producer("orders")`): `send` and
 * `sendBatch` with `delaySeconds` and `contentType`, so producer code
 * written for `env.QUEUE.send(...)` runs against edgeq unchanged.
 *
 * Unlike the other methods of the binding, these throw on failure, as a
 * `Queue` does: an `Error` whose message starts with edgeq's error code
 * (`QUEUE_FULL: ...`), since custom error properties do not survive RPC.
 */
import { RpcTarget } from "cloudflare:workers";
import type { Json, SendMessage } from "../client/protocol";
import { ApiError } from "./errors";
import { sendMessages } from "./produce";
import { enqueueRequest } from "./schemas";
import { validate } from "./validate";

/** `send` options, as Cloudflare Queues has them. */
export interface ProducerSendOptions {
  /** Seconds before the message can be delivered, 0..43200. Default 0. */
  delaySeconds?: number;
  /** `json` (default) or `text` (a string body); edgeq stores JSON, so `bytes` and `v8` are refused. */
  contentType?: string;
}

/** A message for `sendBatch`. */
export interface ProducerMessage extends ProducerSendOptions {
  body: unknown;
}

/** A Cloudflare Queues message as an edgeq one. */
function fromProducer(m: ProducerMessage, index: number, batchDelaySeconds: number | undefined): SendMessage {
  const type = m.contentType ?? "json";
  if (type !== "json" && type !== "text") {
    throw new ApiError("INVALID_VALUE", `messages[${index}].contentType: edgeq stores JSON; use json, or text with a string body`);
  }
  if (type === "text" && typeof m.body !== "string") throw new ApiError("INVALID_VALUE", `messages[${index}].body: contentType text needs a string`);
  const delay = m.delaySeconds ?? batchDelaySeconds;
  if (delay !== undefined && (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0)) {
    throw new ApiError("INVALID_VALUE", `messages[${index}].delaySeconds: a number of seconds from 0`);
  }
  return { body: m.body as Json, ...(delay ? { delayMs: Math.round(delay * 1000) } : {}) };
}

/** One queue's `Queue`-shaped producer. */
export class QueueProducer extends RpcTarget {
  constructor(
    private readonly env: Env,
    private readonly queue: string,
  ) {
    super();
  }

  private async store(messages: ProducerMessage[], delaySeconds?: number): Promise<void> {
    try {
      const list = validate(enqueueRequest, { messages: messages.map((m, i) => fromProducer(m, i, delaySeconds)) });
      await sendMessages(this.env, this.queue, list);
    } catch (err) {
      if (err instanceof ApiError) throw new Error(`${err.code}: ${err.message}`);
      console.error(JSON.stringify({ event: "internal_error", via: "producer", error: String(err) }));
      throw new Error("INTERNAL: internal error");
    }
  }

  /** Enqueues one message; resolves once it is stored. */
  async send(body: unknown, options: ProducerSendOptions = {}): Promise<void> {
    await this.store([{ ...options, body }]);
  }

  /** Enqueues up to 100 messages, all or nothing; a message's own `delaySeconds` beats `options.delaySeconds`. */
  async sendBatch(messages: Iterable<ProducerMessage>, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.store([...messages], options.delaySeconds);
  }
}
