/**
 * The waiting half of a long-poll receive, in the stateless Worker.
 *
 * A receive that found nothing (or, on a queue of one partition, any receive
 * with `waitMs`: see receiveMessages) opens one WebSocket to each partition
 * of the queue. The partition accepts it as a hibernatable socket, so it can sleep
 * (and is not billed) while the consumer waits; the Worker is billed for
 * CPU, not for waiting. When messages become deliverable the partition
 * leases them to the waiters itself (for an enqueue, in the enqueue's own
 * commit, and for what is ready when the waiter arrives, at once) and
 * pushes the leased messages over the socket: the first push answers the
 * wait. After `waitMs` with no push it answers empty.
 *
 * One socket per partition per waiting receive: the runtime's limit of six
 * simultaneous connections only counts connections waiting for response
 * headers, and an upgrade answers at once, so a queue of many partitions
 * opens its sockets six at a time, quickly. Each is one subrequest.
 *
 * No lease is left with nobody: a push can cross the end of the wait (the
 * timer, the consumer leaving, another partition's push). So the Worker
 * ends a wait by sending "done" on each socket still open and listens on
 * until the partition closes it: the partition closes a socket after
 * anything it already pushed there, so every push that crossed the end
 * arrives first, and is handed to `release` (the leases go back, the
 * attempt not counted). That listening runs under `waitUntil`, bounded by
 * `LINGER_MS`.
 */
import { DONE_MESSAGE, QUEUE_DELETED_CLOSE, waiterUrl, type LeasedMessage, type PushMessage } from "../durable-objects/contract";
import { ApiError } from "./errors";

/** The waiting side's view of one partition. */
export interface WaitTarget {
  partition: number;
  /** Opens the waiter's socket (a WebSocket upgrade to the partition, at `url`: see waiterUrl). */
  connect: (url: string) => Promise<Response>;
}

export interface WaitOptions {
  /** Messages the receive asked for; each partition pushes at most this many. */
  max: number;
  /** Lease length of what a partition pushes, ms. */
  visibilityTimeoutMs: number;
  /** How long to wait, ms. */
  waitMs: number;
  /** Aborts when the consumer disconnects. Default none. */
  signal?: AbortSignal;
  /** Gives back leases that arrived after the wait ended. */
  release: (partition: number, messages: LeasedMessage[]) => Promise<void>;
  /** ExecutionContext.waitUntil: keeps listening for crossing pushes after the answer. Default none. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** A socket that closes on its own while we wait is opened again, this often at most per wait. */
const MAX_RECONNECTS = 3;

/**
 * How long after the end of a wait the Worker listens for pushes that
 * crossed it. The partition closes the socket as soon as it reads "done",
 * so this only bounds a partition that went away meanwhile.
 */
export const LINGER_MS = 5_000;

/** The wait's id as the partition knows it (its socket's tag). */
const newWaiterId = () => crypto.randomUUID().replace(/-/g, "");

/**
 * Waits until a partition pushes leased messages, `waitMs` passes, or the
 * signal aborts. Resolves with the partition and what it leased, or null.
 * A push that comes after the end is released through `opts.release`.
 */
export function waitForMessages(
  targets: WaitTarget[],
  opts: WaitOptions,
): Promise<{ partition: number; messages: LeasedMessage[] } | null> {
  const url = waiterUrl(newWaiterId(), opts.max, opts.visibilityTimeoutMs);
  const sockets = new Map<number, WebSocket>();
  const releases: Promise<void>[] = [];
  let opening = 0;
  let reconnects = 0;
  let done = false;
  let lingered: (() => void) | null = null;

  const giveBack = (partition: number, messages: LeasedMessage[]) => {
    releases.push(opts.release(partition, messages).catch(() => undefined));
  };

  /** After the end: once no socket is open or opening (or after LINGER_MS), and every release is done. */
  const linger = async () => {
    if (sockets.size > 0 || opening > 0) {
      await new Promise<void>((resolve) => {
        const bound = setTimeout(resolve, LINGER_MS);
        lingered = () => (clearTimeout(bound), resolve());
      });
      for (const ws of sockets.values()) closeQuietly(ws);
      sockets.clear();
    }
    await Promise.all(releases);
  };
  const settled = () => {
    if (done && sockets.size === 0 && opening === 0) lingered?.();
  };

  return new Promise((resolve, reject) => {
    const finish = (result: { partition: number; messages: LeasedMessage[] } | null, error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      for (const ws of sockets.values()) sendQuietly(ws, DONE_MESSAGE);
      opts.waitUntil?.(linger());
      if (error !== undefined) reject(error);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(null), opts.waitMs);
    const onAbort = () => finish(null);
    opts.signal?.addEventListener("abort", onAbort);

    const forget = (partition: number, ws: WebSocket) => {
      if (sockets.get(partition) !== ws) return false;
      sockets.delete(partition);
      settled();
      return true;
    };

    const open = async (target: WaitTarget): Promise<void> => {
      opening += 1;
      let ws: WebSocket | null;
      try {
        ws = (await target.connect(url)).webSocket;
      } finally {
        opening -= 1;
      }
      if (!ws) {
        settled();
        throw new ApiError("UNAVAILABLE", `partition ${target.partition} refused to wait`);
      }
      const socket = ws;
      socket.accept();
      sockets.set(target.partition, socket);
      socket.addEventListener("message", (event) => {
        const messages = pushed(event.data);
        if (messages.length === 0) return;
        if (done) return giveBack(target.partition, messages);
        // The partition closes this socket after its push and pushes nothing more on it.
        forget(target.partition, socket);
        finish({ partition: target.partition, messages });
      });
      socket.addEventListener("close", (event) => {
        if (!forget(target.partition, socket) || done) return;
        if (event.code === QUEUE_DELETED_CLOSE) {
          return finish(null, new ApiError("QUEUE_NOT_FOUND", "the queue was deleted while this receive waited"));
        }
        // The partition went away (a restart or a deploy): wait on a new socket; it is served as it connects.
        if (reconnects++ >= MAX_RECONNECTS) return finish(null);
        open(target).catch((err) => finish(null, err));
      });
      // Connected after the end: the partition may have served it as it connected, so it is heard out too.
      if (done) sendQuietly(socket, DONE_MESSAGE);
    };

    Promise.all(targets.map(open)).catch((err) => finish(null, err));
  });
}

/** The leased messages of a push; anything else (none is expected) counts as none. */
function pushed(data: unknown): LeasedMessage[] {
  if (typeof data !== "string") return [];
  try {
    const push = JSON.parse(data) as PushMessage;
    return push.type === "leased" && Array.isArray(push.messages) ? push.messages : [];
  } catch {
    return [];
  }
}

function sendQuietly(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    /* already closed */
  }
}

function closeQuietly(ws: WebSocket): void {
  try {
    ws.close(1000, "done");
  } catch {
    /* already closed */
  }
}
