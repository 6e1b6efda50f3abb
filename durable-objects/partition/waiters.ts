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
 * group commit that made a message deliverable, and nothing else. Consume
 * streams (streams.ts) are sockets of the partition too; a waiter is told
 * from them by its tag.
 */
import { LIMITS } from "../../client/protocol";
import { ACK_HEADER, QUEUE_DELETED_CLOSE, WAITERS_PATH, type LeaseRef, type PushMessage } from "../contract";
import type { Taker } from "./takers";

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
/** Every waiter's socket has this tag too, so that waiters are listed apart from consume streams. */
const WAITER_TAG = "waiter";

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
    const s = ws.deserializeAttachment() as WaiterState | null;
    return typeof s?.waiter === "string" ? s : null;
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
  state.acceptWebSocket(server, [TAG_PREFIX + waiter, WAITER_TAG]);
  server.serializeAttachment({ waiter, want, visibilityTimeoutMs, since: now, done: false } satisfies WaiterState);
  return { client, server, acks };
}

/** Whether any consumer (a waiter or a consume stream) has a socket open (in memory: one `getWebSockets()`). */
export function hasWaiters(state: DurableObjectState): boolean {
  return state.getWebSockets().length > 0;
}

/**
 * The waiters still waiting, as takers (takers.ts): each wants its `max`
 * for its visibility timeout, the oldest first. A served waiter is marked
 * done at once (in the transaction that leased to it), so a later pass
 * never serves it twice; its push, once the transaction has run, is the
 * leased messages and then the close of its socket.
 */
export function waiterTakers(state: DurableObjectState): Taker[] {
  const takers: Taker[] = [];
  for (const ws of state.getWebSockets(WAITER_TAG)) {
    const s = stateOf(ws);
    if (!s || s.done) continue;
    takers.push({
      since: s.since,
      want: s.want,
      visibilityTimeoutMs: s.visibilityTimeoutMs,
      owner: null,
      served(messages) {
        ws.serializeAttachment({ ...s, done: true } satisfies WaiterState);
        const text = JSON.stringify({ type: "leased", messages } satisfies PushMessage);
        return () => {
          try {
            ws.send(text);
            ws.close(1000, "delivered");
          } catch {
            // The socket closed under us: the Worker is gone, and its leases end after their timeout like any consumer's.
          }
        };
      },
    });
  }
  return takers;
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
