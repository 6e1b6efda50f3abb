/**
 * Long-poll waiters: consumers that found nothing ready and wait for a
 * message. They wait in the stateless Worker, not in this object.
 *
 * Why: a Durable Object that holds an open request cannot hibernate and is
 * billed for its wall-clock time, so a request that waits 20 s inside the
 * partition would cost 20 s of duration per empty poll. Instead the Worker
 * opens one hibernatable WebSocket per partition (`ctx.acceptWebSocket`),
 * the partition remembers what the waiter wants in the socket's attachment
 * (memory the runtime keeps across hibernation; nothing is written to
 * SQLite), and goes back to sleep.
 *
 * When messages become deliverable, the partition leases them to the
 * waiters itself, oldest waiter first, each up to its `max` and for its
 * visibility timeout, and pushes the leased messages over the socket: for
 * an enqueue in the enqueue's own transaction, so one commit covers the
 * insert and the lease. Nothing is delivered that is not committed: the
 * runtime's output gate holds a WebSocket send made after a write until
 * that write is durable (workerd: `WebSocket::send` queues each message
 * with `waitForOutputLocksIfNecessary()`, and a SQLite write takes the
 * output lock until its commit). Leasing here rather than telling the
 * waiter to receive saves a second commit in series and an RPC round trip.
 *
 * A socket that got its messages is closed by the partition right after
 * them. A Worker that stops waiting (timeout, consumer gone, another
 * partition was first) sends "done" and the partition closes the socket;
 * the close follows any push already sent on the same socket, so the Worker
 * sees every lease that reached it and gives back (`releaseLeases`) those it
 * can no longer answer with.
 *
 * A waiter may bring acks (`ACK_HEADER`: the consumer's previous messages,
 * acked through its next receive, which saves it one request per batch).
 * They are acked in the group commit that then serves the waiter, so an ack
 * that makes room (in-flight limit, a group's next message) serves it at
 * once, and their outcomes go back on the upgrade's answer (`ACKED_HEADER`).
 *
 * A partition without waiters pays one `getWebSockets()` (in memory) per
 * group commit that made a message deliverable, and nothing else.
 */
import { LIMITS } from "../../client/protocol";
import { ACK_HEADER, QUEUE_DELETED_CLOSE, WAITERS_PATH, type LeaseRef, type LeasedMessage, type PushMessage } from "../contract";

/** What a waiting socket wants, kept in its attachment (survives hibernation, max 2 KiB). */
export interface WaiterState {
  /** The Worker's id for this wait; also the socket's tag. */
  waiter: string;
  /** Messages the waiting receive asked for (its `max`). */
  want: number;
  /** The lease length the waiting receive asked for. */
  visibilityTimeoutMs: number;
  /** When it started waiting: older waiters are served first. */
  since: number;
  /** It got its messages or stopped waiting: never served again. */
  done: boolean;
}

const TAG_PREFIX = "waiter:";

const LEASE_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * The leases a waiter's upgrade asks to ack: none (no header), or null when
 * the header is not a list of 1 to maxBatch `[seq, token]` pairs.
 */
export function acksOf(request: Request): LeaseRef[] | null {
  const raw = request.headers.get(ACK_HEADER);
  if (raw === null) return [];
  let pairs: unknown;
  try {
    pairs = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!Array.isArray(pairs) || pairs.length === 0 || pairs.length > LIMITS.maxBatch) return null;
  const refs: LeaseRef[] = [];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) return null;
    const [seq, token] = pair as unknown[];
    if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof token !== "string" || !LEASE_TOKEN.test(token)) return null;
    refs.push({ seq: seq as number, token });
  }
  return refs;
}

const stateOf = (ws: WebSocket): WaiterState | null => {
  try {
    return ws.deserializeAttachment() as WaiterState | null;
  } catch {
    return null;
  }
};

/** A whole number within [min, max], or null. */
function intParam(url: URL, name: string, min: number, max: number): number | null {
  const raw = url.searchParams.get(name);
  if (raw === null || !/^\d{1,9}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= min && n <= max ? n : null;
}

/** A waiter's upgrade: accepted (the answer still to be made from `client`), or refused with `response`. */
export type WaiterUpgrade = { client: WebSocket; server: WebSocket; acks: LeaseRef[] } | { response: Response };

/**
 * Accepts a waiter's WebSocket upgrade
 * (`GET /waiters?waiter=<id>&want=<n>&visibilityTimeoutMs=<ms>`, with
 * `ACK_HEADER` when it brings acks) as a hibernatable socket. Answers null
 * when the request is not one, 400 when its parameters are out of the
 * receive's bounds or its acks are malformed (nothing accepted then).
 */
export function acceptWaiter(state: DurableObjectState, request: Request, now: number): WaiterUpgrade | null {
  const url = new URL(request.url);
  if (url.pathname !== WAITERS_PATH || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return null;
  const waiter = url.searchParams.get("waiter") ?? "";
  const want = intParam(url, "want", 1, LIMITS.maxReceive);
  const visibilityTimeoutMs = intParam(url, "visibilityTimeoutMs", LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs);
  const acks = acksOf(request);
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(waiter) || want === null || visibilityTimeoutMs === null || acks === null) {
    return { response: new Response("bad waiter", { status: 400 }) };
  }
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair);
  state.acceptWebSocket(server, [TAG_PREFIX + waiter]);
  server.serializeAttachment({ waiter, want, visibilityTimeoutMs, since: now, done: false } satisfies WaiterState);
  return { client, server, acks };
}

/** Whether any waiter still waits (in memory: one `getWebSockets()`). */
export function hasWaiters(state: DurableObjectState): boolean {
  return state.getWebSockets().length > 0;
}

/**
 * Leases to waiting sockets, oldest first, each up to its `want` and for
 * its visibility timeout, until `lease` finds nothing more (nothing ready,
 * no in-flight room, no rate token, paused) or says it took the last of
 * what was ready (`more: false`: the next waiter is not asked, which saves
 * a search for every message that finds several waiters). Runs inside the caller's
 * transaction; answers the sends to make once that transaction has run (the
 * output gate then holds them until it is committed). A served waiter is
 * marked done at once, so a later pass never serves it twice.
 */
export function leaseToWaiters(
  state: DurableObjectState,
  lease: (want: number, visibilityTimeoutMs: number) => { messages: LeasedMessage[]; more: boolean },
): (() => void) | null {
  const waiting: { ws: WebSocket; s: WaiterState }[] = [];
  for (const ws of state.getWebSockets()) {
    const s = stateOf(ws);
    if (s && !s.done) waiting.push({ ws, s });
  }
  if (waiting.length === 0) return null;
  waiting.sort((a, b) => a.s.since - b.s.since);
  const pushes: { ws: WebSocket; text: string }[] = [];
  for (const { ws, s } of waiting) {
    const { messages, more } = lease(s.want, s.visibilityTimeoutMs);
    if (messages.length > 0) {
      ws.serializeAttachment({ ...s, done: true } satisfies WaiterState);
      pushes.push({ ws, text: JSON.stringify({ type: "leased", messages } satisfies PushMessage) });
    }
    if (!more) break;
  }
  if (pushes.length === 0) return null;
  return () => {
    for (const { ws, text } of pushes) {
      try {
        ws.send(text);
        ws.close(1000, "delivered");
      } catch {
        // The socket closed under us: the Worker is gone, and its leases end after their timeout like any consumer's.
      }
    }
  };
}

/** A Worker that stops waiting: never served again, and the socket is closed after anything already pushed on it. */
export function endWait(ws: WebSocket): void {
  const s = stateOf(ws);
  if (s) ws.serializeAttachment({ ...s, done: true } satisfies WaiterState);
  try {
    ws.close(1000, "done");
  } catch {
    /* already closing */
  }
}

/**
 * The queue was deleted: every waiter is never served again, and its socket
 * is closed with QUEUE_DELETED_CLOSE (after anything already pushed on it),
 * so that its receive ends with QUEUE_NOT_FOUND instead of waiting on.
 */
export function endWaitsOfDeletedQueue(state: DurableObjectState): void {
  for (const ws of state.getWebSockets()) {
    const s = stateOf(ws);
    if (!s || typeof s.waiter !== "string") continue;
    ws.serializeAttachment({ ...s, done: true } satisfies WaiterState);
    try {
      ws.close(QUEUE_DELETED_CLOSE, "queue deleted");
    } catch {
      /* already closing */
    }
  }
}
