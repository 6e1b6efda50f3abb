/**
 * The waiting half of a long-poll receive, in the stateless Worker.
 *
 * A receive that found nothing opens one WebSocket to each partition of the
 * queue. The partition accepts it as a hibernatable socket, so it can sleep
 * (and is not billed) while the consumer waits; the Worker is billed for
 * CPU, not for waiting. When messages become ready the partition sends
 * "ready" to as many waiters as they can satisfy, and the woken Worker
 * leases through the ordinary receive, naming its waiter. A woken waiter
 * that finds nothing (another consumer was faster) waits again; after
 * `waitMs` it answers empty.
 *
 * One socket per partition per waiting receive: the runtime's limit of six
 * simultaneous connections only counts connections waiting for response
 * headers, and an upgrade answers at once, so a queue of many partitions
 * opens its sockets six at a time, quickly. Each is one subrequest.
 *
 * A consumer that goes away takes no lease with it: the Worker checks the
 * request's signal before each lease, and gives back (`release`) a lease
 * that came back after the consumer left.
 */
import type { LeasedMessage } from "../durable-objects/partition/types";
import { ApiError } from "./errors";

/** The waiting side's view of one partition. */
export interface WaitTarget {
  partition: number;
  /** Opens the waiter's socket (a WebSocket upgrade to the partition). */
  connect: (path: string) => Promise<Response>;
  /** Leases as a woken waiter. */
  receive: (waiter: string) => Promise<LeasedMessage[]>;
}

export interface WaitOptions {
  /** Messages the receive asked for. */
  max: number;
  /** How long to wait, ms. */
  waitMs: number;
  /** Aborts when the consumer disconnects. */
  signal?: AbortSignal;
}

/** A socket that closes on its own while we wait is opened again, this often at most per wait. */
const MAX_RECONNECTS = 3;

/**
 * Waits until one partition's "ready" leads to a lease, `waitMs` passes, or
 * the signal aborts. Resolves with the partition and what it leased, or
 * null. A lease that lands after an abort is still returned: the caller
 * releases it.
 */
export function waitForMessages(
  targets: WaitTarget[],
  opts: WaitOptions,
): Promise<{ partition: number; messages: LeasedMessage[] } | null> {
  const waiter = crypto.randomUUID().replace(/-/g, "");
  const path = `/waiters?waiter=${waiter}&want=${opts.max}`;
  const sockets = new Map<number, WebSocket>();
  const woken: WaitTarget[] = [];
  let reconnects = 0;
  let busy = false;
  let done = false;

  return new Promise((resolve, reject) => {
    const finish = (result: { partition: number; messages: LeasedMessage[] } | null, error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      for (const ws of sockets.values()) closeQuietly(ws);
      sockets.clear();
      if (error !== undefined) reject(error);
      else resolve(result);
    };
    // While a lease is in flight, its answer decides; the timer and an abort only stop the waiting.
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      if (!busy) finish(null);
    }, opts.waitMs);
    const onAbort = () => {
      if (!busy) finish(null);
    };
    opts.signal?.addEventListener("abort", onAbort);

    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (!done && woken.length > 0) {
          if (opts.signal?.aborted || expired) return finish(null);
          const target = woken.shift()!;
          const messages = await target.receive(waiter);
          if (messages.length > 0) return finish({ partition: target.partition, messages });
        }
        if (opts.signal?.aborted || expired) finish(null);
      } catch (err) {
        finish(null, err);
      } finally {
        busy = false;
      }
    };

    const wake = (target: WaitTarget) => {
      if (done || woken.includes(target)) return;
      woken.push(target);
      void drain();
    };

    const open = async (target: WaitTarget): Promise<void> => {
      const res = await target.connect(path);
      const ws = res.webSocket;
      if (!ws) throw new ApiError("UNAVAILABLE", `partition ${target.partition} refused to wait (${res.status})`);
      ws.accept();
      if (done) return closeQuietly(ws);
      sockets.set(target.partition, ws);
      ws.addEventListener("message", () => wake(target));
      ws.addEventListener("close", () => {
        if (done || sockets.get(target.partition) !== ws) return;
        sockets.delete(target.partition);
        // The partition went away (a restart or a deploy): look once, then wait on a new socket.
        if (reconnects++ >= MAX_RECONNECTS) return finish(null);
        wake(target);
        open(target).catch((err) => finish(null, err));
      });
    };

    Promise.all(targets.map(open)).catch((err) => finish(null, err));
  });
}

function closeQuietly(ws: WebSocket): void {
  try {
    ws.close(1000, "done");
  } catch {
    /* already closed */
  }
}
