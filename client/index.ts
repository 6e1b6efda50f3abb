/**
 * The edgeq client: a thin layer over `fetch`, with no dependencies. Runs in
 * browsers, Workers, Deno and Node >= 18.
 */
import type {
  ErrorCode,
  PublishedMessage,
  QueueStats,
  ReceiptResult,
  ReceivedMessage,
  ReceiveRequest,
  SendMessage,
  SentMessage,
  TopicStats,
} from "./protocol.js";

export type * from "./protocol.js";

/** How to reach edgeq. */
export interface ClientOptions {
  /** Where edgeq runs, e.g. `https://edgeq.example.workers.dev`. */
  url: string;
  /** Bearer token (admin or scoped), or a function that returns one for each request. Default none. */
  token?: string | (() => string | Promise<string>);
  /** The fetch to use. Default the platform's `fetch`. */
  fetch?: typeof fetch;
}

/** An error answer from edgeq, with the server's code and HTTP status. */
export class QueueError extends Error {
  /** One of the closed set in `ERROR_STATUS`. */
  readonly code: ErrorCode;
  /** The HTTP status; for an error a long-poll sent after its 200 (docs/long-poll.md), the status of its code. */
  readonly status: number;
  /** From the Retry-After header, in ms; undefined when absent. */
  readonly retryAfterMs?: number;
  constructor(code: ErrorCode, message: string, status: number, retryAfterMs?: number) {
    super(message);
    this.name = "QueueError";
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Options of one send besides the body. */
export type SendOptions = Omit<SendMessage, "body">;

/** What `consume` does with each message: resolve to ack it, throw to nack it with the error's message. */
export type Handler = (message: ReceivedMessage) => unknown;

/** Options of `consume`. */
export interface ConsumeOptions {
  /** Handlers running at once. Default 1. */
  concurrency?: number;
  /** Long-poll wait of each receive, in ms (0..20000). Default 20000. */
  waitMs?: number;
  /** Lease of each message, renewed every half lease while its handler runs. Default 30000. */
  visibilityTimeoutMs?: number;
  /** Aborting stops receiving; running handlers finish and their messages are acked or nacked. Default none. */
  signal?: AbortSignal;
  /** Told of errors that consume survives (a failed ack, a retried receive). Default none. */
  onError?: (error: unknown) => void;
}

/** One queue's operations. */
export interface QueueClient {
  /** Enqueues one message. */
  send(body: SendMessage["body"], options?: SendOptions): Promise<SentMessage>;
  /** Enqueues up to 100 messages in one request (one transaction per partition). */
  sendBatch(messages: SendMessage[]): Promise<SentMessage[]>;
  /** Leases up to `max` messages (default 1) for `visibilityTimeoutMs` (default the queue's, 30 s unless configured), waiting up to `waitMs` (default 0) for one. */
  receive(options?: Omit<ReceiveRequest, "ack"> & { signal?: AbortSignal }): Promise<ReceivedMessage[]>;
  /**
   * Acks `receipts`, then receives as `receive` does, in one request: a
   * consumer acks its last messages with its next receive. `ackResults` has
   * one result per receipt, as `ack` answers them.
   */
  ackAndReceive(
    receipts: string | string[],
    options?: Omit<ReceiveRequest, "ack"> & { signal?: AbortSignal },
  ): Promise<{ messages: ReceivedMessage[]; ackResults: ReceiptResult[] }>;
  /** Acknowledges: the messages are done and deleted. */
  ack(receipts: string | string[]): Promise<ReceiptResult[]>;
  /** Gives messages back for a retry after `delayMs` (default the queue's backoff), recording `error`. */
  nack(receipts: string | string[], options?: { delayMs?: number; error?: string }): Promise<ReceiptResult[]>;
  /** Extends leases to end `visibilityTimeoutMs` from now. */
  extend(receipts: string | string[], visibilityTimeoutMs: number): Promise<ReceiptResult[]>;
  /** Depth, in flight, dead letters and the oldest ready age. */
  stats(): Promise<QueueStats>;
  /**
   * Receives and handles messages until `signal` aborts, then resolves once
   * running handlers are settled. Rejects on an error that retrying cannot
   * fix (a bad token, a bad queue name); backs off with jitter on 429 (at
   * least Retry-After), 5xx and network errors.
   */
  consume(handler: Handler, options?: ConsumeOptions): Promise<void>;
}

/** `send` options, as Cloudflare Queues' producer has them. */
export interface ProducerSendOptions {
  /** Seconds before the message can be delivered, 0..43200. Default 0. */
  delaySeconds?: number;
  /** `json` (default) stores the body as JSON; `text` takes a string. edgeq stores JSON, so `bytes` and `v8` are refused. */
  contentType?: "json" | "text" | "bytes" | "v8";
}

/** A message for `sendBatch`, as Cloudflare Queues' producer has it. */
export interface ProducerMessage extends ProducerSendOptions {
  body: unknown;
}

/**
 * A producer shaped like Cloudflare Queues' `Queue` binding: code written
 * for `env.QUEUE.send(...)` works against edgeq with this in its place.
 * Each call resolves once every message is stored, and throws a
 * `QueueError` otherwise.
 */
export interface QueueProducer {
  send(body: unknown, options?: ProducerSendOptions): Promise<void>;
  /** Up to 100 messages; a message's own `delaySeconds` beats the batch's. */
  sendBatch(messages: Iterable<ProducerMessage>, options?: { delaySeconds?: number }): Promise<void>;
}

/** One topic's operations: publishing copies each message to every subscribed queue whose filter takes it. */
export interface TopicClient {
  /** Publishes one message; resolves once it is stored in the topic's outbox. */
  publish(body: SendMessage["body"], options?: SendOptions): Promise<PublishedMessage>;
  /** Publishes up to 100 messages in one request (one transaction). */
  publishBatch(messages: SendMessage[]): Promise<PublishedMessage[]>;
  /** Published, filtered, the outbox and its lag, and each subscription's figures. */
  stats(): Promise<TopicStats>;
}

/** The edgeq client. */
export interface Client {
  /** The operations of one queue. */
  queue(name: string): QueueClient;
  /** A producer for one queue in the shape of Cloudflare Queues' `Queue` binding. */
  producer(name: string): QueueProducer;
  /** The operations of one topic (created beforehand with `PUT /v1/topics/:topic`). */
  topic(name: string): TopicClient;
}

const list = (r: string | string[]) => (Array.isArray(r) ? r : [r]);

/** A sleep that ends early when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });

/** Retry-After as ms: seconds or an HTTP date. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return;
  const ms = /^\d+$/.test(header) ? +header * 1000 : Date.parse(header) - Date.now();
  return ms >= 0 ? ms : 0;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  413: "PAYLOAD_TOO_LARGE",
  429: "RATE_LIMITED",
};

/** The codes a long-poll can answer after its 200 went out (docs/long-poll.md), with the status they have otherwise; INTERNAL is 500. */
const STREAMED_STATUS: Record<string, number> = { QUEUE_NOT_FOUND: 404, UNAVAILABLE: 503 };

/** Creates a client. `fetch` defaults to the platform's; `token` to none. */
export function createClient(options: ClientOptions): Client {
  const base = options.url.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {};
    const token = typeof options.token === "function" ? await options.token() : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await doFetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {}
    const error = json?.error;
    if (res.ok && !error) return json;
    throw new QueueError(
      // Not from edgeq (a proxy, a gateway): a code from the status.
      error?.code ?? STATUS_CODES[res.status] ?? (res.status >= 500 ? "UNAVAILABLE" : "INVALID_REQUEST"),
      error?.message ?? `HTTP ${res.status}`,
      // A long-poll that failed after its 200 went out (docs/long-poll.md): the status its code has otherwise.
      res.ok ? (STREAMED_STATUS[error.code] ?? 500) : res.status,
      retryAfter(res.headers.get("retry-after")),
    );
  }

  /** A Cloudflare Queues message as an edgeq one. */
  function fromProducer(m: ProducerMessage, delaySeconds?: number): SendMessage {
    const type = m.contentType ?? "json";
    if ((type !== "json" && type !== "text") || (type === "text" && typeof m.body !== "string")) {
      throw new QueueError("INVALID_VALUE", `contentType ${type}: edgeq stores JSON (json, or text with a string body)`, 422);
    }
    const delay = m.delaySeconds ?? delaySeconds;
    return { body: m.body as SendMessage["body"], ...(delay ? { delayMs: Math.round(delay * 1000) } : {}) };
  }

  const client: Client = {
    producer(name) {
      const q = client.queue(name);
      return {
        send: async (body, opts) => void (await q.sendBatch([fromProducer({ ...opts, body })])),
        sendBatch: async (messages, opts) => void (await q.sendBatch([...messages].map((m) => fromProducer(m, opts?.delaySeconds)))),
      };
    },
    topic(name: string): TopicClient {
      const path = `/v1/topics/${encodeURIComponent(name)}`;
      const t: TopicClient = {
        publish: (body, opts) => t.publishBatch([{ ...opts, body }]).then((m) => m[0]),
        publishBatch: (messages) =>
          request<{ messages: PublishedMessage[] }>("POST", `${path}/messages`, { messages }).then((r) => r.messages),
        stats: () => request("GET", `${path}/stats`),
      };
      return t;
    },
    queue(name: string): QueueClient {
      const path = `/v1/queues/${encodeURIComponent(name)}`;
      const settle = (verb: string, body: object) =>
        request<{ results: ReceiptResult[] }>("POST", `${path}/messages/${verb}`, body).then((r) => r.results);

      const q: QueueClient = {
        send: (body, opts) => q.sendBatch([{ ...opts, body }]).then((m) => m[0]),
        sendBatch: (messages) =>
          request<{ messages: SentMessage[] }>("POST", `${path}/messages`, { messages }).then((r) => r.messages),
        receive: ({ signal, ...opts } = {}) =>
          request<{ messages: ReceivedMessage[] }>("POST", `${path}/messages/receive`, opts, signal).then(
            (r) => r.messages,
          ),
        ackAndReceive: (receipts, { signal, ...opts } = {}) =>
          request<{ messages: ReceivedMessage[]; ackResults: ReceiptResult[] }>(
            "POST",
            `${path}/messages/receive`,
            { ...opts, ack: list(receipts) },
            signal,
          ).then(({ messages, ackResults }) => ({ messages, ackResults })),
        ack: (receipts) => settle("ack", { receipts: list(receipts) }),
        nack: (receipts, opts) => settle("nack", { receipts: list(receipts), ...opts }),
        extend: (receipts, visibilityTimeoutMs) => settle("extend", { receipts: list(receipts), visibilityTimeoutMs }),
        stats: () => request("GET", `${path}/stats`),

        async consume(handler, opts = {}) {
          const { concurrency = 1, waitMs = 20_000, visibilityTimeoutMs = 30_000, signal, onError = () => {} } = opts;
          const running = new Set<Promise<void>>();
          let failures = 0;
          // Handled messages whose ack rides on the next receive: only while the loop waits for a free
          // handler, so that the receive their handler's end lets it send carries them at once.
          let waitingForRoom = false;
          let handled: ReceivedMessage[] = [];
          const report = (m: ReceivedMessage, verb: string, result: ReceiptResult) => {
            if (!result.ok) onError(new QueueError(result.code!, `${verb} of ${m.id}: ${result.code}`, 409));
          };
          /** Acks on their own what a failed receive carried; NOT_FOUND then means that receive had acked them. */
          const ackAgain = async (messages: ReceivedMessage[]) => {
            if (messages.length === 0) return;
            try {
              const results = await q.ack(messages.map((m) => m.receipt));
              results.forEach((r, i) => r.code !== "NOT_FOUND" && report(messages[i], "ack", r));
            } catch (e) {
              onError(e);
            }
          };

          const run = async (m: ReceivedMessage) => {
            // Renew the lease at half its length for as long as the handler runs.
            const renew = setInterval(
              () =>
                q.extend(m.receipt, visibilityTimeoutMs).then((r) => {
                  if (!r[0].ok) clearInterval(renew);
                }, onError),
              visibilityTimeoutMs / 2,
            );
            let failed: unknown;
            let ok = true;
            try {
              await handler(m);
            } catch (e) {
              ok = false;
              failed = e;
            } finally {
              clearInterval(renew);
            }
            if (ok && waitingForRoom && !signal?.aborted) {
              handled.push(m);
              return;
            }
            try {
              const [result] = ok
                ? await q.ack(m.receipt)
                : await q.nack(m.receipt, {
                    error: String((failed as Error)?.message ?? failed).slice(0, 4096),
                  });
              report(m, ok ? "ack" : "nack", result);
            } catch (e) {
              onError(e);
            }
          };

          try {
            while (!signal?.aborted) {
              if (running.size >= concurrency) {
                waitingForRoom = true;
                await Promise.race(running).finally(() => (waitingForRoom = false));
                continue;
              }
              let messages: ReceivedMessage[];
              const started = Date.now();
              const acking = handled;
              handled = [];
              try {
                const opts = { max: Math.min(100, concurrency - running.size), waitMs, visibilityTimeoutMs, signal };
                if (acking.length === 0) messages = await q.receive(opts);
                else {
                  const answer = await q.ackAndReceive(acking.map((m) => m.receipt), opts);
                  messages = answer.messages;
                  answer.ackResults.forEach((r, i) => report(acking[i], "ack", r));
                }
                failures = 0;
                // Empty before the wait was over (a paused queue, a server without long-poll): pause, do not spin.
                if (!messages.length && (!waitMs || Date.now() - started < waitMs)) await sleep(250 + Math.random() * 750, signal);
              } catch (e) {
                await ackAgain(acking);
                if (signal?.aborted) break;
                const status = e instanceof QueueError ? e.status : 0;
                // 4xx other than 429 will not get better by retrying.
                if (status >= 400 && status < 500 && status !== 429) throw e;
                onError(e);
                const backoff = Math.min(30_000, 250 * 2 ** failures++) * (0.5 + Math.random() / 2);
                // On 429 wait at least Retry-After, plus the jitter so that consumers do not return in step.
                await sleep((status === 429 ? ((e as QueueError).retryAfterMs ?? 0) : 0) + backoff, signal);
                continue;
              }
              for (const m of messages) {
                const p = run(m).finally(() => running.delete(p));
                running.add(p);
              }
            }
          } finally {
            await Promise.all(running);
            await ackAgain(handled);
          }
        },
      };
      return q;
    },
  };
  return client;
}
