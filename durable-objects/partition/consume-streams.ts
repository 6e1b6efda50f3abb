/**
 * The partition's side of consume streams, as one object the partition
 * holds: opening a stream, its frames, and ending it. The sockets and what
 * the partition knows of each are in streams.ts, the frames in
 * stream-frames.ts, what a stream gives back in reclaim.ts; everything that
 * touches storage runs through the partition's group commit (`host.run`),
 * and pushes are made by the partition's delivery pass (streamTakers).
 */
import { LIMITS } from "../../client/protocol";
import type { LeaseOutcome } from "../contract";
import { logEvent } from "../log";
import { ack } from "./ack";
import { extend } from "./extend";
import { nack } from "./nack";
import { giveBack, reclaim } from "./reclaim";
import { release } from "./release";
import { errorFrame, parseFrame, resultsFrame, serverFrame, type SettleFrame } from "./stream-frames";
import { closeStream, expiredStreams, openStreams, sendFrame, setPrefetch, type StreamState } from "./streams";
import type { OpContext } from "./types";

/** The close codes of a stream that the partition ends itself (docs/consume-protocol.md). */
export const STREAM_CLOSE = { tokenExpired: 4401, queueDeleted: 4404, queuePushes: 4409 } as const;

/** What consume streams need of their partition. */
export interface StreamsHost {
  readonly state: DurableObjectState;
  /** Runs an operation in the partition's next group commit. */
  run<T>(operation: (ctx: OpContext) => T): Promise<T>;
  /** The queue's name and partition count, for a stream's welcome. */
  place(): { queue: string; partitions: number };
}

/** A settle frame's operation: the same as over HTTP, fenced by the receipts' lease tokens. */
function settle(ctx: OpContext, frame: SettleFrame): LeaseOutcome[] {
  switch (frame.type) {
    case "ack":
      return ack(ctx, frame.refs);
    case "nack":
      return nack(ctx, frame.refs, frame.delayMs, frame.error);
    case "extend":
      return extend(ctx, frame.refs, frame.visibilityTimeoutMs);
    case "release":
      return release(ctx, frame.refs);
  }
}

export class ConsumeStreams {
  /** Settle frames of each stream (by owner id) still awaiting their results; bounded by maxPendingFrames. In memory: a pending frame keeps the object awake. */
  private readonly pendingFrames = new Map<string, number>();

  constructor(private readonly host: StreamsHost) {}

  /** A stream just accepted: its welcome, then what is ready now, pushed at the end of its first group. */
  async open(client: WebSocket, server: WebSocket, s: StreamState): Promise<Response> {
    const { queue, partitions } = this.host.place();
    const { partition, prefetch, visibilityTimeoutMs } = s;
    sendFrame(server, serverFrame({ type: "welcome", version: 1, queue, partition, partitions, prefetch, visibilityTimeoutMs }));
    try {
      await this.host.run((ctx) => ctx.effects.mayDeliver());
    } catch (err) {
      closeStream(server, 1011, "unavailable"); // nobody will hear this socket: never serve it
      throw err;
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * One frame of a stream, refused whole with an error frame when it is not
   * valid. A prefetch frame applies at once; a settle frame runs in the
   * group commit, and its results are sent once that has run (the output
   * gate holds them until the commit is durable). A stream whose token has
   * expired is ended instead.
   */
  async frame(ws: WebSocket, s: StreamState, data: string | ArrayBuffer): Promise<void> {
    if (s.closed) return;
    if (s.expiresAt !== null && s.expiresAt <= Date.now()) return this.end(ws, false, STREAM_CLOSE.tokenExpired, "token expired");
    const parsed = parseFrame(data, s.partition);
    if (!parsed.ok) return sendFrame(ws, errorFrame(parsed));
    const frame = parsed.frame;
    if (frame.type === "prefetch") {
      if (setPrefetch(ws, frame.prefetch)) await this.host.run((ctx) => ctx.effects.mayDeliver());
      return;
    }
    const pending = this.pendingFrames.get(s.stream) ?? 0;
    if (pending >= LIMITS.maxPendingFrames) {
      const message = `at most ${LIMITS.maxPendingFrames} frames awaiting their results; wait for one`;
      return sendFrame(ws, errorFrame({ id: frame.id, code: "RATE_LIMITED", message }));
    }
    this.pendingFrames.set(s.stream, pending + 1);
    try {
      const outcomes = await this.host.run((ctx) => settle(ctx, frame));
      sendFrame(ws, resultsFrame(frame, outcomes));
    } catch (err) {
      logEvent("internal_error", { during: `a stream's ${frame.type}`, error: String(err) });
      sendFrame(ws, errorFrame({ id: frame.id, code: "UNAVAILABLE", message: `the ${frame.type} was not applied; send it again` }));
    } finally {
      const left = (this.pendingFrames.get(s.stream) ?? 1) - 1;
      if (left > 0) this.pendingFrames.set(s.stream, left);
      else this.pendingFrames.delete(s.stream);
    }
  }

  /**
   * Closes a stream (if it is one and still open) and gives back what it
   * holds, in a group of its own: each a failed attempt when the consumer
   * went away (`counted`), untouched when the partition ends the stream.
   */
  async end(ws: WebSocket, counted: boolean, code?: number, reason?: string): Promise<void> {
    const owner = closeStream(ws, code, reason);
    if (owner !== null) await this.host.run((ctx) => (counted ? reclaim(ctx, [owner]) : giveBack(ctx, [owner])));
  }

  /** Closes every open stream with `code`; answers their owner ids (their leases are the caller's to give back or drop). */
  closeAll(code: number, reason: string): string[] {
    return openStreams(this.host.state)
      .map(({ ws }) => closeStream(ws, code, reason))
      .filter((o): o is string => o !== null);
  }

  /** Closes the streams whose token has expired and gives back their leases untouched, in the caller's transaction. */
  endExpired(ctx: OpContext): void {
    const owners = expiredStreams(this.host.state, ctx.now).map((ws) => closeStream(ws, STREAM_CLOSE.tokenExpired, "token expired"));
    giveBack(ctx, owners.filter((o): o is string => o !== null));
  }

  /** Tells every open stream how many partitions the queue has now, so that their consumers open the new ones. */
  tellPartitions(partitions: number): void {
    const text = serverFrame({ type: "partitions", partitions });
    for (const { ws } of openStreams(this.host.state)) sendFrame(ws, text);
  }

  /** The owner ids of the open streams. */
  live(): Set<string> {
    return new Set(openStreams(this.host.state).map(({ s }) => s.stream));
  }
}
