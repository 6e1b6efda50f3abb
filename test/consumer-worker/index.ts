/**
 * A second Worker that consumes edgeq queues by push, as a user's Worker
 * would: a Cloudflare Queues handler behind edgeq's one-line adapter
 * (client/consumer.ts), reached through edgeq's service binding CONSUMER.
 * Its `fetch` is also the HTTP endpoint of the in-workerd push tests: the
 * test Worker's outbound fetches land here (vitest.config.ts).
 *
 * What it does with a message is said by the message's body:
 *   {do: "ack"} (or anything else)   nothing: acked when the handler returns
 *   {do: "retry", delaySeconds?}     message.retry()
 *   {do: "ack-explicit"}             message.ack()
 *   {do: "throw"}                    the handler throws
 *   {do: "ackAll"} / {do: "retryAll", delaySeconds?}   on the batch
 * and every batch waits `waitMs` (body field, default 0) before it returns,
 * so that concurrent batches overlap.
 *
 * An endpoint's answer is said by its path: /ok, /status/<code>,
 * /status/<code>/retry-after/<seconds>, /fail-first/<n>/<code>[/retry-after/<s>]
 * (that answer for the queue's first n requests, then 204), /results
 * (retries the messages whose body says {do: "retry", delayMs?, error?}), /slow/<ms>.
 *
 * GET /__log?queue=<name>: what it received for that queue, in order.
 */
import { edgeqConsumer, type QueueBatch } from "../../client/consumer";

/** One batch as the consumer received it (test/push-helpers.ts reads these back). */
export interface Received {
  kind: "worker" | "http";
  at: number;
  /** Batches of this queue in flight when this one arrived (itself included). */
  concurrent: number;
  ids: string[];
  bodies: unknown[];
  attempts: number[];
  headers?: Record<string, string>;
  body?: string;
  path?: string;
}

const log = new Map<string, Received[]>();
const inFlight = new Map<string, number>();

/** Logs a batch as it arrives; answers its place in the queue's log (1: the first) and what to call once it is handled. */
const record = (queue: string, entry: Omit<Received, "concurrent" | "at">) => {
  const n = (inFlight.get(queue) ?? 0) + 1;
  inFlight.set(queue, n);
  const list = log.get(queue) ?? [];
  list.push({ ...entry, at: Date.now(), concurrent: n });
  log.set(queue, list);
  return { position: list.length, done: () => inFlight.set(queue, (inFlight.get(queue) ?? 1) - 1) };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Instruction = { do?: string; delaySeconds?: number; delayMs?: number; waitMs?: number; error?: string };
const instructionOf = (body: unknown): Instruction => (typeof body === "object" && body !== null ? (body as Instruction) : {});

async function handle(batch: QueueBatch) {
  const { done } = record(batch.queue, {
    kind: "worker",
    ids: batch.messages.map((m) => m.id),
    bodies: batch.messages.map((m) => m.body),
    attempts: batch.messages.map((m) => m.attempts),
  });
  try {
    await sleep(Math.max(0, ...batch.messages.map((m) => instructionOf(m.body).waitMs ?? 0)));
    let fail = false;
    for (const m of batch.messages) {
      const i = instructionOf(m.body);
      if (i.do === "retry") m.retry(i.delaySeconds === undefined ? undefined : { delaySeconds: i.delaySeconds });
      if (i.do === "ack-explicit") m.ack();
      if (i.do === "ackAll") batch.ackAll();
      if (i.do === "retryAll") batch.retryAll(i.delaySeconds === undefined ? undefined : { delaySeconds: i.delaySeconds });
      if (i.do === "throw") fail = true;
    }
    if (fail) throw new Error("handler failed on purpose");
  } finally {
    done();
  }
}

async function endpoint(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const text = await request.text();
  let delivery: { queue: string; messages: { id: string; body: unknown; attempts: number }[] } | null = null;
  try {
    delivery = JSON.parse(text);
  } catch {
    return new Response("not a delivery", { status: 400 });
  }
  const queue = delivery!.queue;
  const { position, done } = record(queue, {
    kind: "http",
    ids: delivery!.messages.map((m) => m.id),
    bodies: delivery!.messages.map((m) => m.body),
    attempts: delivery!.messages.map((m) => m.attempts),
    headers: Object.fromEntries(request.headers),
    body: text,
    path: url.pathname,
  });
  try {
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] === "slow") await sleep(Number(parts[1]));
    await sleep(Math.max(0, ...delivery!.messages.map((m) => instructionOf(m.body).waitMs ?? 0)));
    if (parts[0] === "fail-first" && position <= Number(parts[1])) parts.splice(0, 2, "status");
    if (parts[0] === "status") {
      const headers: Record<string, string> = parts[2] === "retry-after" ? { "retry-after": parts[3] } : {};
      return new Response(`status ${parts[1]}`, { status: Number(parts[1]), headers });
    }
    if (parts[0] === "results") {
      const results = delivery!.messages
        .filter((m) => instructionOf(m.body).do === "retry")
        .map((m) => {
          const { delayMs, error } = instructionOf(m.body);
          return { id: m.id, outcome: "retry", ...(delayMs === undefined ? {} : { delayMs }), ...(error === undefined ? {} : { error }) };
        });
      return Response.json({ results });
    }
    return new Response(null, { status: 204 });
  } finally {
    done();
  }
}

export default edgeqConsumer({
  queue: handle,
  async fetch(request: Request) {
    const url = new URL(request.url);
    if (url.pathname === "/__log") return Response.json(log.get(url.searchParams.get("queue") ?? "") ?? []);
    return endpoint(request);
  },
});
