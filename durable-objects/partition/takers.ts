import type { LeasedMessage } from "../contract";

/**
 * A consumer the partition pushes to: a waiting long-poll (waiters.ts) or a
 * consume stream (streams.ts). Both lease through the one delivery core;
 * this is only who asks, in what order, for how many.
 */
export interface Taker {
  /** Since when it has waited without being served: the longest waiting goes first. */
  since: number;
  /** Messages it takes now (a long-poll's `max`, a stream's free credit). */
  want: number;
  /** The lease length it asked for. */
  visibilityTimeoutMs: number;
  /** The consume stream whose leases these are (see lease-token.ts); null for a long-poll. */
  owner: string | null;
  /** Takes note that it was served, in the transaction; answers the send to make once that has run. */
  served(messages: LeasedMessage[]): () => void;
}

/** One lease for a taker, through the delivery core, in the caller's transaction. */
export type LeaseFor = (want: number, visibilityTimeoutMs: number, owner: string | null) => { messages: LeasedMessage[]; more: boolean };

/**
 * Leases to takers, the longest waiting first, each up to its `want` and
 * for its lease length, until `lease` finds nothing more (nothing ready, no
 * in-flight room, no rate token, paused) or says it took the last of what
 * was ready (`more: false`: the next taker is not asked, which saves a
 * search for every message that finds several takers). Runs inside the
 * caller's transaction; answers the sends to make once that transaction has
 * run (the output gate then holds them until it is committed).
 */
export function serveTakers(takers: Taker[], lease: LeaseFor): (() => void) | null {
  if (takers.length === 0) return null;
  takers.sort((a, b) => a.since - b.since);
  const sends: (() => void)[] = [];
  for (const taker of takers) {
    const { messages, more } = lease(taker.want, taker.visibilityTimeoutMs, taker.owner);
    if (messages.length > 0) sends.push(taker.served(messages));
    if (!more) break;
  }
  if (sends.length === 0) return null;
  return () => {
    for (const send of sends) send();
  };
}
