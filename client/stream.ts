/**
 * `consume` over consume streams (docs/consume-protocol.md): one WebSocket
 * per partition, each pushed up to its share of the prefetch; messages are
 * handled as they come, at most `concurrency` at once, and settled on the
 * socket they came on. Used wherever the platform has WebSockets; answers
 * false when this server or this token cannot stream, so that `consume`
 * long-polls instead.
 */
import { BEARER_PROTOCOL_PREFIX, ERROR_STATUS, STREAM_PROTOCOL } from "./protocol.js";
import type { ReceiptResult, ReceivedMessage, StreamServerFrame } from "./protocol.js";
import type { ConsumeOptions, Handler, QueueError as QueueErrorType } from "./index.js";

/** What the stream needs of the client. */
export interface StreamContext {
  /** The queue's URL, `<base>/v1/queues/<name>`. */
  url: string;
  token: () => Promise<string | undefined>;
  fetch: typeof fetch;
  /** The QueueError of an answer that is not the upgrade. */
  failure: (res: Response) => Promise<QueueErrorType>;
  /** The stream's route over plain HTTP, which says why an upgrade was refused: a browser's WebSocket sees no status. */
  probe: () => Promise<unknown>;
  QueueError: typeof QueueErrorType;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A socket of one partition. */
interface Sock {
  ws: WebSocket;
  /** Pushed and not yet acked or nacked, by receipt. */
  held: Map<string, ReceivedMessage>;
  /** Settle frames awaiting their results, by id. */
  waiting: Map<number, (results: ReceiptResult[]) => void>;
  /** Settle frames not sent yet: at most MAX_PENDING are out awaiting results. */
  outbox: string[];
  /** Handled messages whose ack goes in the next frame. */
  acks: string[];
  /** The timer that sends `acks` if nothing sends them sooner. */
  ackTimer?: ReturnType<typeof setTimeout>;
  /** When a frame last came. */
  heard: number;
}

/**
 * How long an ack may wait for others to go with it, while the stream has
 * credit to spare: one frame (one commit in the partition) for many
 * messages when they come one by one. Acks go at once when they make half
 * the stream's share, and when consume stops.
 */
const ACK_DELAY_MS = 20;

/** Settle frames one stream may have awaiting their results (LIMITS.maxPendingFrames; the object is left out of the bundle). */
const MAX_PENDING = 32;

/** Characters a subprotocol may have: a token that has others can only go in a header. */
const PROTOCOL_CHARS = /^[\w!#$%&'*+.^`|~-]+$/;

/** The platform's WebSocketPair: only Workers have it, and only there does a fetch answer an upgrade with a socket. */
const workersPair = () => (globalThis as { WebSocketPair?: unknown }).WebSocketPair;

/** Whether this platform can open a stream. */
export const canStream = () => typeof WebSocket !== "undefined" || workersPair() !== undefined;

/**
 * Consumes over streams until `signal` aborts (or an error that retrying
 * cannot fix, which it throws); answers false, having consumed nothing,
 * when streams cannot be used here.
 */
export async function consumeStream(ctx: StreamContext, handler: Handler, o: ConsumeOptions): Promise<boolean> {
  const { concurrency = 1, visibilityTimeoutMs: vt = 30_000, signal, onError = () => {} } = o;
  const prefetch = o.prefetch ?? concurrency;
  const socks = new Map<number, Sock>();
  const connecting = new Set<WebSocket>();
  const queue: [ReceivedMessage, Sock][] = [];
  const running = new Set<Promise<void>>();
  const answers = new Set<Promise<unknown>>();
  let partitions = 1;
  let nextId = 0;
  let welcomed = false;
  let unsupported = false;
  let stopping = false;
  let fatal: unknown;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stop = () => {
    stopping = true;
    stopped();
  };
  const isFatal = (e: unknown) => e instanceof ctx.QueueError && e.status >= 400 && e.status < 500 && e.status !== 429;
  const share = () => (stopping ? 0 : Math.max(1, Math.ceil(prefetch / partitions)));
  const send = (s: Sock, frame: unknown) => {
    try {
      s.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    } catch {}
  };
  const report = (verb: string, results: ReceiptResult[]) =>
    results.forEach((r) => r.ok || onError(new ctx.QueueError(r.code!, `${verb} of ${r.receipt}: ${r.code}`, 409)));

  /** Sends a settle frame (or queues it, past MAX_PENDING out); resolves its results ([] when refused or when the socket closed first). */
  const settle = (s: Sock, type: string, receipts: string[], extra = {}) => {
    const id = ++nextId;
    const answer = new Promise<ReceiptResult[]>((resolve) => {
      const text = JSON.stringify({ type, id, receipts, ...extra });
      if (s.waiting.size - s.outbox.length >= MAX_PENDING) s.outbox.push(text);
      else send(s, text);
      s.waiting.set(id, resolve);
    });
    answers.add(answer);
    answer.finally(() => answers.delete(answer));
    return answer;
  };
  const flush = (s: Sock) => {
    if (s.ackTimer) clearTimeout(s.ackTimer);
    s.ackTimer = undefined;
    for (let acks; (acks = s.acks.splice(0, 100)).length > 0; ) settle(s, "ack", acks).then((r) => report("ack", r));
  };

  const run = async (m: ReceivedMessage, s: Sock) => {
    let ok = true;
    let failed: unknown;
    try {
      await handler(m);
    } catch (e) {
      ok = false;
      failed = e;
    }
    // Gone with its socket: the partition gave it back when the socket closed.
    if (!s.held.delete(m.receipt)) return;
    if (!ok) {
      settle(s, "nack", [m.receipt], { error: String((failed as Error)?.message ?? failed).slice(0, 4096) }).then((r) => report("nack", r));
    } else if (s.acks.push(m.receipt) * 2 >= share()) queueMicrotask(() => flush(s));
    else s.ackTimer ??= setTimeout(() => flush(s), ACK_DELAY_MS);
  };
  const pump = () => {
    while (!stopping && running.size < concurrency && queue.length > 0) {
      const [m, s] = queue.shift()!;
      if (!s.held.has(m.receipt)) continue;
      const p = run(m, s).finally(() => {
        running.delete(p);
        pump();
      });
      running.add(p);
    }
  };

  /** The queue has (at least) `n` partitions: streams for the new ones, and each stream's share of the prefetch. */
  const grow = (n: number) => {
    if (n <= partitions) return;
    const from = partitions;
    partitions = n;
    for (const s of socks.values()) send(s, { type: "prefetch", prefetch: share() });
    for (let p = from; p < n; p++) keep(p);
  };

  /** Closes a socket's stream on this side: whatever it held went back to the partition. */
  const dropped = (p: number, s: Sock) => {
    for (const resolve of s.waiting.values()) resolve([]);
    s.waiting.clear();
    s.outbox.length = 0;
    if (s.ackTimer) clearTimeout(s.ackTimer);
    s.held.clear();
    s.acks.length = 0;
    if (socks.get(p) !== s) return;
    socks.delete(p);
    if (!stopping) keep(p);
  };

  /** Opens the stream of partition `p`; resolves once it is welcomed. */
  const connect = async (p: number) => {
    const token = await ctx.token();
    const path = `${ctx.url}/consume?partition=${p}&prefetch=${share()}&visibilityTimeoutMs=${vt}`;
    let ws: WebSocket;
    if (workersPair()) {
      const headers: Record<string, string> = { upgrade: "websocket", "sec-websocket-protocol": STREAM_PROTOCOL };
      if (token) headers.authorization = `Bearer ${token}`;
      // No signal: aborting the request would close the socket it upgraded, and a stop settles first.
      const res = await ctx.fetch(path, { headers });
      const socket = (res as Response & { webSocket?: WebSocket & { accept(): void } }).webSocket;
      if (res.status !== 101 || !socket) {
        // Answered, but not with a stream: a server (or something in front of it) that does not stream.
        if (res.status < 400) throw ((unsupported = true), new Error(`HTTP ${res.status} to an upgrade`));
        throw await ctx.failure(res);
      }
      socket.accept();
      ws = socket;
    } else {
      // A subprotocol carries the token: a browser's WebSocket can set no header.
      if (token && !PROTOCOL_CHARS.test(token)) throw ((unsupported = true), new Error("token cannot go in a subprotocol"));
      ws = new WebSocket(path.replace(/^http/, "ws"), token ? [STREAM_PROTOCOL, BEARER_PROTOCOL_PREFIX + token] : [STREAM_PROTOCOL]);
    }
    const s: Sock = { ws, held: new Map(), waiting: new Map(), outbox: [], acks: [], heard: Date.now() };
    connecting.add(ws);
    if (stopping) ws.close(1000);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("message", (event) => {
        s.heard = Date.now();
        let f: StreamServerFrame;
        try {
          f = JSON.parse(event.data as string);
        } catch {
          return; // "pong"
        }
        if (f.type === "welcome") {
          welcomed = true;
          connecting.delete(ws);
          socks.set(p, s);
          resolve();
          grow(f.partitions);
        } else if (f.type === "messages") {
          // Pushed as the stop was said (the prefetch of 0 crossed it): back untouched.
          if (stopping) settle(s, "release", f.messages.map((m) => m.receipt));
          else {
            for (const m of f.messages) {
              s.held.set(m.receipt, m);
              queue.push([m, s]);
            }
            pump();
          }
        } else if (f.type === "partitions") grow(f.partitions);
        else {
          if (f.type === "error") onError(new ctx.QueueError(f.code, f.message, ERROR_STATUS[f.code]));
          const id = f.id ?? -1;
          s.waiting.get(id)?.(f.type === "results" ? f.results : []);
          if (s.waiting.delete(id) && s.outbox.length > 0) send(s, s.outbox.shift()!);
        }
      });
      // A refused upgrade may say "error" and never "close" (Node's WebSocket).
      const closed = (event: Event) => {
        connecting.delete(ws);
        // The queue was deleted, or now pushes: as a receive would be refused, consume is.
        const code = (event as CloseEvent).code;
        if (code === 4404 || code === 4409) {
          fatal ??= new ctx.QueueError(code === 4404 ? "QUEUE_NOT_FOUND" : "CONFLICT", (event as CloseEvent).reason, code - 4000);
          stop();
        }
        reject(new Error(`stream of partition ${p} closed`));
        dropped(p, s);
      };
      ws.addEventListener("close", closed);
      ws.addEventListener("error", closed);
    });
  };

  /** Keeps partition `p` streaming: opens it, and again after it closes, with backoff. */
  const keep = async (p: number) => {
    for (let failures = 0; !stopping; ) {
      try {
        return await connect(p);
      } catch (e) {
        if (stopping) return;
        let error = e;
        if (!unsupported && !(e instanceof ctx.QueueError)) {
          // The upgrade failed without a word of why (a browser's WebSocket sees no status): the same route
          // over plain HTTP says it, or answers that it takes an upgrade (INVALID_REQUEST: all is well but
          // the upgrade, which a proxy may refuse) or that it does not exist (NOT_FOUND: a server without streams).
          error = await ctx.probe().catch((probed) => probed);
          const code = (error as QueueErrorType)?.code;
          // A stream that never opened will not: long-poll instead.
          if (code === "NOT_FOUND" || (code === "INVALID_REQUEST" && !welcomed)) unsupported = true;
        }
        if (unsupported || isFatal(error)) {
          if (!unsupported) fatal = error;
          return stop();
        }
        onError(error);
        await ctx.sleep(Math.min(30_000, 250 * 2 ** failures++) * (0.5 + Math.random() / 2), signal);
      }
    }
  };

  // Every tick: the leases of what is held are extended (a lease of `vt` never runs out between two ticks), an idle
  // socket is pinged (the runtime answers without waking the partition), and one silent for three ticks is dropped.
  const tick = Math.min(vt / 2, 30_000);
  const ticker = setInterval(() => {
    for (const [p, s] of socks) {
      if (Date.now() - s.heard > 3 * tick) {
        s.ws.close(4000, "silent");
        dropped(p, s);
        continue;
      }
      const held = [...s.held.keys()];
      if (held.length === 0) send(s, "ping");
      for (let i = 0; i < held.length; i += 100) {
        settle(s, "extend", held.slice(i, i + 100), { visibilityTimeoutMs: vt }).then((results) =>
          results.forEach((r) => r.ok || s.held.delete(r.receipt)),
        );
      }
    }
  }, tick);
  const onAbort = () => stop();
  signal?.addEventListener("abort", onAbort);
  if (signal?.aborted) stop();
  keep(0);
  await done;

  // Stopping: nothing more is pushed, what waits for a handler goes back untouched, running handlers
  // finish and are settled, every answer is heard, then the sockets close.
  signal?.removeEventListener("abort", onAbort);
  for (const ws of connecting) ws.close(1000);
  for (const s of socks.values()) {
    send(s, { type: "prefetch", prefetch: 0 });
    const waiting = queue.filter(([, from]) => from === s).map(([m]) => (s.held.delete(m.receipt), m.receipt));
    for (let i = 0; i < waiting.length; i += 100) settle(s, "release", waiting.slice(i, i + 100));
  }
  queue.length = 0;
  await Promise.all(running);
  for (const s of socks.values()) flush(s);
  while (answers.size > 0) await Promise.all(answers);
  clearInterval(ticker);
  for (const s of socks.values()) s.ws.close(1000, "done");
  if (fatal) throw fatal;
  return !unsupported;
}
