import type { Subscription, TopicConfig } from "../../client/protocol";
import { FANOUT_BATCH, prune } from "./fan-out";
import { readSubs, subOf, type Sub } from "./types";

/**
 * Replaces the topic's subscriptions, in the caller's transaction. A queue
 * that stays keeps its place in the outbox and its counters (a new filter
 * applies to what is published from now on); a new one starts after the
 * last message published, so it receives what is published from now on; a
 * removed one is deleted with its place, and the messages only it still
 * had to receive leave the outbox (its queue keeps what it already has).
 * Answers the subscriptions as they now are, in order.
 */
export function setSubscriptions(sql: SqlStorage, wanted: readonly Subscription[], now: number): Sub[] {
  const kept = new Map(readSubs(sql).map((r) => [r.queue, r]));
  const last = sql.exec<{ last: number | null }>("SELECT MAX(seq) AS last FROM messages").one().last ?? 0;
  const names = new Set(wanted.map((s) => s.queue));
  for (const queue of kept.keys()) if (!names.has(queue)) sql.exec("DELETE FROM subscriptions WHERE queue = ?", queue);
  wanted.forEach((s, position) => {
    const filter = s.filter === undefined || Object.keys(s.filter).length === 0 ? null : JSON.stringify(s.filter);
    if (kept.has(s.queue)) {
      sql.exec("UPDATE subscriptions SET filter = ?, position = ? WHERE queue = ?", filter, position, s.queue);
    } else {
      sql.exec(
        "INSERT INTO subscriptions (queue, filter, position, cursor, added_at, batch_limit) VALUES (?, ?, ?, ?, ?, ?)",
        s.queue,
        filter,
        position,
        last,
        now,
        FANOUT_BATCH,
      );
    }
  });
  const subs = readSubs(sql).map(subOf);
  prune(sql, subs);
  return subs;
}

/** The subscriptions as the API shows them. */
export const subscriptionsOf = (subs: readonly Sub[]): TopicConfig["subscriptions"] =>
  subs.map((s) => (s.filter === null ? { queue: s.queue } : { queue: s.queue, filter: s.filter }));
