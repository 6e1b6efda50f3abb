import type { LeaseRef } from "../contract";
import { release } from "./release";
import { retryOrDeadLetter } from "./retry";
import type { OpContext } from "./types";

/** The last error recorded on a message whose consume stream went away while it held it. */
export const STREAM_GONE_ERROR = "consumer disconnected";

/**
 * Gives back at once every lease the consume streams `owners` hold, whose
 * consumers went away (their sockets closed): each is a failed attempt,
 * ready again now (no backoff: the consumer went away, the message did not
 * fail on its own), or a dead letter after its last attempt, so a message
 * that kills every consumer it reaches still ends in the dead letters. In
 * the caller's transaction.
 */
export function reclaim(ctx: OpContext, owners: Iterable<string>): void {
  const failed = new Map<number, { token: string; deliveredAt: number | null }>();
  for (const owner of owners) for (const [seq, lease] of ctx.leases.ownedBy(owner)) failed.set(seq, lease);
  retryOrDeadLetter(ctx, failed, { lastError: STREAM_GONE_ERROR, delayMs: 0, cause: "consumer gone" });
}

/**
 * Gives back untouched every current lease the streams `owners` hold, the
 * attempt not counted: for streams the partition ended itself (an expired
 * token, a queue that now pushes) or lost with a restart of its own, where
 * the consumer did nothing wrong. Leases that have already ended are left
 * to the sweep, as a failed attempt like any other. In the caller's transaction.
 */
export function giveBack(ctx: OpContext, owners: Iterable<string>): void {
  const refs: LeaseRef[] = [];
  for (const owner of owners) for (const [seq, { token }] of ctx.leases.ownedBy(owner)) refs.push({ seq, token });
  if (refs.length > 0) release(ctx, refs);
}

/**
 * The consume streams that hold leases but have no open socket here: their
 * sockets went with a restart of the object (a deploy, a crash), which
 * calls no close handler. `live`: the owner ids of the open streams.
 */
export function orphanedOwners(ctx: OpContext, live: ReadonlySet<string>): string[] {
  return ctx.leases.owners.filter((owner) => !live.has(owner));
}
