/**
 * Consume streams: consumers that hold a WebSocket to the partition
 * (`GET /v1/queues/:queue/consume`, forwarded by the Worker once it has
 * authenticated them; docs/consume-protocol.md).
 *
 * The socket is hibernatable (`ctx.acceptWebSocket`): what the partition
 * knows of a stream lives in the socket's attachment, which the runtime
 * keeps across hibernation, so an idle stream costs no duration and no
 * timer. The partition pushes leased messages as they become deliverable,
 * up to the stream's credit: its prefetch minus the messages it holds
 * leased, counted by the owner id in their lease tokens (lease-token.ts).
 * The consumer settles them with frames on the same socket, answered once
 * their commit has run (the output gate holds the answer until it is
 * durable).
 *
 * A stream that closes gives back at once the messages it holds, each as a
 * failed attempt (reclaim.ts): ready again now, or a dead letter after the
 * last attempt, so a message that kills its consumer still ends in the dead
 * letters.
 */
import { LIMITS } from "../../client/protocol";
import { STREAMS_PATH, type LeasedMessage } from "../contract";
import { isLeaseOwner, newLeaseOwner } from "./lease-token";
import type { Leases } from "./leases";
import { messagesFrames } from "./stream-frames";
import type { Taker } from "./takers";

/** What the partition knows of a stream, kept in its socket's attachment (survives hibernation, max 2 KiB). */
export interface StreamState {
  /** The owner id in the stream's lease tokens. */
  stream: string;
  /** This partition's index, as the stream's receipts name it. */
  partition: number;
  /** Messages the stream may hold leased at once (0: push nothing). */
  prefetch: number;
  /** The lease length of pushed messages. */
  visibilityTimeoutMs: number;
  /** When it was last served, or opened: the longest waiting is served first. */
  since: number;
  /** When the consumer's token expires (ms since the epoch); null: never (the admin token). */
  expiresAt: number | null;
  /** Closed or closing: never served again. */
  closed: boolean;
}

/** Every stream's socket has this tag, so that streams are listed apart from long-poll waiters. */
export const STREAM_TAG = "stream";

/** A whole number within [min, max], or null. */
function intParam(url: URL, name: string, min: number, max: number): number | null {
  const raw = url.searchParams.get(name);
  if (raw === null || !/^\d{1,15}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= min && n <= max ? n : null;
}

/** A stream's upgrade: accepted (the answer still to be made from `client`), or refused with `response`. */
export type StreamUpgrade = { client: WebSocket; server: WebSocket; state: StreamState } | { response: Response };

/**
 * Accepts a stream's WebSocket upgrade (`GET /streams?partition=&prefetch=
 * [&visibilityTimeoutMs=][&expiresAt=]`, see contract.ts) as a hibernatable
 * socket. Answers null when the request is not one, 400 when a parameter is
 * out of bounds (nothing accepted then). Without `visibilityTimeoutMs` the
 * stream takes `defaultVisibilityTimeoutMs` (the queue's, now).
 */
export function acceptStream(
  state: DurableObjectState,
  request: Request,
  now: number,
  defaultVisibilityTimeoutMs: number,
): StreamUpgrade | null {
  const url = new URL(request.url);
  if (url.pathname !== STREAMS_PATH || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return null;
  const partition = intParam(url, "partition", 0, 63);
  const prefetch = intParam(url, "prefetch", 0, LIMITS.maxPrefetch);
  const given = url.searchParams.has("visibilityTimeoutMs");
  const visibilityTimeoutMs = given
    ? intParam(url, "visibilityTimeoutMs", LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs)
    : defaultVisibilityTimeoutMs;
  const expiresAt = url.searchParams.has("expiresAt") ? intParam(url, "expiresAt", 0, Number.MAX_SAFE_INTEGER) : null;
  if (partition === null || prefetch === null || visibilityTimeoutMs === null || (url.searchParams.has("expiresAt") && expiresAt === null)) {
    return { response: new Response("bad stream", { status: 400 }) };
  }
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair);
  const s: StreamState = { stream: newLeaseOwner(), partition, prefetch, visibilityTimeoutMs, since: now, expiresAt, closed: false };
  state.acceptWebSocket(server, [STREAM_TAG]);
  server.serializeAttachment(s);
  return { client, server, state: s };
}

/** The stream state of a socket; null for any other socket (a long-poll waiter). */
export function streamStateOf(ws: WebSocket): StreamState | null {
  try {
    const s = ws.deserializeAttachment() as StreamState | null;
    return isLeaseOwner(s?.stream) ? s : null;
  } catch {
    return null;
  }
}

/** The open streams. */
export function openStreams(state: DurableObjectState): { ws: WebSocket; s: StreamState }[] {
  const open: { ws: WebSocket; s: StreamState }[] = [];
  for (const ws of state.getWebSockets(STREAM_TAG)) {
    const s = streamStateOf(ws);
    if (s && !s.closed) open.push({ ws, s });
  }
  return open;
}

/** Changes a stream's prefetch; answers whether it grew (it may be served more now). */
export function setPrefetch(ws: WebSocket, prefetch: number): boolean {
  const s = streamStateOf(ws);
  if (!s) return false;
  ws.serializeAttachment({ ...s, prefetch } satisfies StreamState);
  return prefetch > s.prefetch;
}

/**
 * Marks a stream closed (never served again) and closes its socket if it is
 * not closed yet; answers its owner id, whose leases the caller gives back,
 * or null when it was not an open stream.
 */
export function closeStream(ws: WebSocket, code = 1000, reason = "closed"): string | null {
  const s = streamStateOf(ws);
  if (!s || s.closed) return null;
  ws.serializeAttachment({ ...s, closed: true } satisfies StreamState);
  try {
    ws.close(code, reason);
  } catch {
    /* already closed */
  }
  return s.stream;
}

/** Sends a frame; a socket that closed meanwhile is left to its close handler. */
export function sendFrame(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    /* closed under us: its close handler gives its leases back */
  }
}

/**
 * The open streams that have credit, as takers (takers.ts): each wants its
 * prefetch minus what it holds, for its lease length, under its owner id.
 * Served, a stream goes to the back of the line (its `since` is now); its
 * push, once the transaction has run, is `messages` frames of at most
 * `MAX_PUSH_CHARS` each.
 */
export function streamTakers(state: DurableObjectState, leases: Leases, now: number): Taker[] {
  const takers: Taker[] = [];
  for (const { ws, s } of openStreams(state)) {
    if (s.expiresAt !== null && s.expiresAt <= now) continue; // the next frame or push ends it (see expiredStreams)
    const credit = s.prefetch - leases.heldBy(s.stream);
    if (credit <= 0) continue;
    takers.push({
      since: s.since,
      want: credit,
      visibilityTimeoutMs: s.visibilityTimeoutMs,
      owner: s.stream,
      served(messages: LeasedMessage[]) {
        ws.serializeAttachment({ ...s, since: now } satisfies StreamState);
        const frames = messagesFrames(s.partition, messages);
        return () => frames.forEach((text) => sendFrame(ws, text));
      },
    });
  }
  return takers;
}

/** The open streams whose consumer's token has expired. */
export function expiredStreams(state: DurableObjectState, now: number): WebSocket[] {
  return openStreams(state)
    .filter(({ s }) => s.expiresAt !== null && s.expiresAt <= now)
    .map(({ ws }) => ws);
}
