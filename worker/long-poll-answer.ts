/**
 * The HTTP answer of a receive that may wait (a long-poll): plain when it
 * answers soon, streamed with a heartbeat when it waits.
 *
 * Why it streams: a consumer that leaves while its long-poll waits must not
 * take the messages pushed to it. The Worker learns that a consumer left
 * through the request's signal, but a request whose response is still
 * pending never sees it abort in local workerd, however long it waits. Once
 * the response streams, a write to the dead connection makes it abort (and
 * the write after that fails). So a receive that waits longer than
 * `HEARTBEAT_MS` sends 200 and its headers with one space, one more space
 * every `HEARTBEAT_MS` while it waits, then its JSON answer: JSON allows
 * leading whitespace, so the body parses as before. A dead connection is
 * seen within about one heartbeat; the wait then ends (worker/long-poll.ts
 * gives back what crossed its end), and a lease whose answer could not be
 * written, or that arrived after the consumer left, is given back at once,
 * its attempt not counted (`releaseLeases`).
 *
 * A receive answered within `HEARTBEAT_MS` of starting to wait (what was
 * ready, a push soon after) answers as any request does, and so does every
 * error found before the wait (validation, QUEUE_NOT_FOUND, bad receipts):
 * with its status. After the headers the status cannot change: an error is
 * then the usual error body, `{"error":{"code","message"}}`, after the
 * whitespace (docs/long-poll.md).
 *
 * The streamed answer carries `content-encoding: identity`: an edge that
 * compresses JSON (Cloudflare's, and Miniflare's copy of it) would buffer
 * the one-byte writes, and a space that stays in a buffer tells nothing
 * about the connection.
 */
import { errorOf } from "./errors";
import type { Leased } from "./consume";

/** How often a waiting receive writes a space, ms; also how long it waits before it starts to stream. */
export const HEARTBEAT_MS = 250;

/** What a receive answers: its leases, and the JSON text of its answer. */
export interface ReceiveAnswer {
  leased: Leased[];
  json: string;
}

export interface LongPollAnswerOptions {
  /** The request's signal: aborts when the consumer disconnects (compatibility flag enable_request_signal). */
  signal: AbortSignal;
  /** ExecutionContext.waitUntil: keeps the streamed answer and its releases running after the handler returned. */
  waitUntil: (promise: Promise<unknown>) => void;
  /**
   * Runs the receive. `gone` aborts when the consumer left (the request's
   * signal, or a heartbeat that could not be written); `onWait` is called
   * when the receive starts to wait (ReceiveOptions.onWait).
   */
  receive: (gone: AbortSignal, onWait: () => void) => Promise<ReceiveAnswer>;
  /** Gives leases back, ready again at once, their attempt not counted. */
  release: (leased: Leased[]) => Promise<void>;
  /** The answer's media type (its body must allow leading spaces). Default JSON. */
  contentType?: string;
  /** More headers of the answer, plain or streamed. Default none. */
  headers?: Record<string, string>;
  /** The body of an error that comes after the headers went out. Default `{"error":{"code","message"}}`. */
  errorBody?: (err: unknown) => string;
}

const JSON_TYPE = "application/json; charset=utf-8";

/** The headers of a streamed answer: never compressed (see above), never cached. */
const STREAM_HEADERS = {
  "content-type": JSON_TYPE,
  "content-encoding": "identity",
  "cache-control": "no-store, no-transform",
};

/**
 * Answers a receive. One that settles before its wait has lasted
 * `HEARTBEAT_MS` answers plainly: its 200, or its error thrown to the app's
 * error handler (and so its status). One that waits longer answers 200 and
 * streams (see above).
 */
export async function answerLongPoll(opts: LongPollAnswerOptions): Promise<Response> {
  const gone = new AbortController();
  if (opts.signal.aborted) gone.abort();
  else opts.signal.addEventListener("abort", () => gone.abort(), { once: true });

  let timer: ReturnType<typeof setTimeout> | null = null;
  let startStreaming!: () => void;
  const streaming = new Promise<"stream">((resolve) => (startStreaming = () => resolve("stream")));
  const work = opts.receive(gone.signal, () => {
    timer ??= setTimeout(startStreaming, HEARTBEAT_MS);
  });
  let first: ReceiveAnswer | "stream";
  try {
    first = await Promise.race([work, streaming]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  if (first !== "stream") return new Response(first.json, { headers: { "content-type": opts.contentType ?? JSON_TYPE, ...opts.headers } });
  return streamed(work, gone, opts);
}

/** The streamed answer: a space now and every HEARTBEAT_MS, then the answer (or the error) once `work` settles. */
function streamed(work: Promise<ReceiveAnswer>, gone: AbortController, opts: LongPollAnswerOptions): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  // One space at a time: a consumer that reads slowly does not pile them up.
  let beating = false;
  const beat = () => {
    if (beating) return;
    beating = true;
    writer.write(encoder.encode(" ")).then(
      () => (beating = false),
      () => gone.abort(),
    );
  };
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);

  const finish = async () => {
    let leased: Leased[] = [];
    let body: string;
    try {
      const answer = await work;
      leased = answer.leased;
      body = answer.json;
    } catch (err) {
      if (opts.errorBody) body = opts.errorBody(err);
      else {
        const { code, message } = errorOf(err);
        body = JSON.stringify({ error: { code, message } });
      }
    } finally {
      clearInterval(heartbeat);
    }
    try {
      // A consumer that left after the push never gets the answer: its leases go back now.
      if (gone.signal.aborted) throw new Error("the consumer left");
      await writer.write(encoder.encode(body));
      await writer.close();
    } catch {
      writer.abort().catch(() => undefined);
      // A release that fails leaves the leases to end after their visibility timeout, as a crashed consumer's do.
      if (leased.length > 0) await opts.release(leased).catch(() => undefined);
    }
  };
  opts.waitUntil(finish());
  const headers = { ...STREAM_HEADERS, "content-type": opts.contentType ?? JSON_TYPE, ...opts.headers };
  return new Response(readable, { status: 200, headers });
}
