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
 * SQLite), and goes back to sleep. When messages become ready, the
 * operation that made them ready sends "ready" to as many waiters as the
 * new messages can satisfy; each woken Worker then leases through the
 * ordinary `receive`, naming its waiter so the partition can settle the claim.
 *
 * A partition without waiters pays one `getWebSockets()` (in memory) per
 * operation that can make a message ready, and nothing else.
 */
/** What a waiting socket wants, kept in its attachment (survives hibernation, max 2 KiB). */
export interface WaiterState {
  /** The Worker's id for this wait; also the socket's tag. */
  waiter: string;
  /** Messages the waiting receive asked for (its `max`). */
  want: number;
  /** When it started waiting: older waiters are woken first. */
  since: number;
  /** Messages promised by the last "ready" and not yet taken; 0 while waiting. */
  claim: number;
  /** When the claim was made. */
  claimedAt: number;
  /** It leased what it came for and is about to close: never woken again. */
  done: boolean;
}

/**
 * A claim not followed by a receive within this long no longer holds back
 * other waiters. A live Worker follows a "ready" within milliseconds and a
 * dead one closes its socket; this only bounds a slow one.
 */
export const CLAIM_TTL_MS = 5_000;

const TAG_PREFIX = "waiter:";
export const WAITERS_PATH = "/waiters";

/** The message a woken waiter gets. */
export const READY_MESSAGE = '{"type":"ready"}';

const stateOf = (ws: WebSocket): WaiterState | null => {
  try {
    return ws.deserializeAttachment() as WaiterState | null;
  } catch {
    return null;
  }
};

/**
 * Accepts a waiter's WebSocket upgrade (`GET /waiters?waiter=<id>&want=<n>`)
 * as a hibernatable socket. Answers null when the request is not one.
 */
export function acceptWaiter(state: DurableObjectState, request: Request, now: number): Response | null {
  const url = new URL(request.url);
  if (url.pathname !== WAITERS_PATH || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return null;
  const waiter = url.searchParams.get("waiter") ?? "";
  const want = Number(url.searchParams.get("want"));
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(waiter) || !Number.isInteger(want) || want < 1 || want > 1000) {
    return new Response("bad waiter", { status: 400 });
  }
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair);
  state.acceptWebSocket(server, [TAG_PREFIX + waiter]);
  const initial: WaiterState = { waiter, want, since: now, claim: 0, claimedAt: 0, done: false };
  server.serializeAttachment(initial);
  return new Response(null, { status: 101, webSocket: client });
}

/**
 * Wakes as many waiting sockets as the ready messages can satisfy, oldest
 * first: the ready count, less what earlier "ready"s already promised and
 * was not yet taken, is handed out in claims of up to each waiter's `want`.
 * One new message wakes one waiter; the others keep sleeping.
 *
 * `ready(limit)` counts deliverable messages (the same rule as receive,
 * group heads only), stopping at `limit`. A limit that holds delivery back
 * (paused, a delivery rate) should make it count fewer and set the alarm
 * for when it lifts: the alarm serves waiters again.
 */
export function serveWaiters(
  state: DurableObjectState,
  ready: (limit: number) => number,
  now: number,
): number {
  const sockets = state.getWebSockets();
  if (sockets.length === 0) return 0;
  let claimed = 0;
  const waiting: { ws: WebSocket; s: WaiterState }[] = [];
  for (const ws of sockets) {
    const s = stateOf(ws);
    if (!s || s.done) continue;
    if (s.claim > 0 && now - s.claimedAt < CLAIM_TTL_MS) claimed += s.claim;
    else waiting.push({ ws, s });
  }
  if (waiting.length === 0) return 0;
  const wanted = waiting.reduce((sum, w) => sum + w.s.want, 0);
  let budget = ready(claimed + wanted) - claimed;
  if (budget <= 0) return 0;
  waiting.sort((a, b) => a.s.since - b.s.since);
  let woken = 0;
  for (const { ws, s } of waiting) {
    if (budget <= 0) break;
    const claim = Math.min(s.want, budget);
    budget -= claim;
    try {
      ws.serializeAttachment({ ...s, claim, claimedAt: now } satisfies WaiterState);
      ws.send(READY_MESSAGE);
      woken += 1;
    } catch {
      // The socket is closing; its close handler serves the others.
    }
  }
  return woken;
}

/**
 * A woken waiter came back to receive: its claim is settled. With messages
 * it is done (the Worker closes the socket); with none (another consumer was
 * faster) it waits again.
 */
export function settleWaiter(state: DurableObjectState, waiter: string, leased: number): void {
  for (const ws of state.getWebSockets(TAG_PREFIX + waiter)) {
    const s = stateOf(ws);
    if (s) ws.serializeAttachment({ ...s, claim: 0, claimedAt: 0, done: leased > 0 } satisfies WaiterState);
  }
}

/** Whether a closing socket held a claim that other waiters should now get. */
export function heldClaim(ws: WebSocket): boolean {
  const s = stateOf(ws);
  return s !== null && !s.done && s.claim > 0;
}

