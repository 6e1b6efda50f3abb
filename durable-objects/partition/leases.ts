import type { LeaseOutcome, LeaseRef } from "./types";

/**
 * Splits receipts into the ones whose lease is current (token matches and
 * the lease has not ended) and the rest, which get LEASE_LOST when the
 * message is still stored and NOT_FOUND when it is gone. This is the fence:
 * only the holder of the current lease may ack, nack or extend.
 */
export function checkLeases(
  sql: SqlStorage,
  refs: LeaseRef[],
  now: number,
): { current: Map<number, { attempts: number; token: string }>; outcomes: LeaseOutcome[] } {
  const seqs = JSON.stringify([...new Set(refs.map((r) => r.seq))]);
  const stored = new Map<number, { token: string | null; leaseEndsAt: number; attempts: number }>();
  for (const row of sql.exec<{ seq: number; lease_token: string | null; visible_at: number; attempts: number }>(
    "SELECT seq, lease_token, visible_at, attempts FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
    seqs,
  )) {
    stored.set(row.seq, { token: row.lease_token, leaseEndsAt: row.visible_at, attempts: row.attempts });
  }
  const current = new Map<number, { attempts: number; token: string }>();
  const outcomes = refs.map((ref): LeaseOutcome => {
    const m = stored.get(ref.seq);
    if (!m) return { ok: false, code: "NOT_FOUND" };
    if (m.token !== ref.token || m.leaseEndsAt <= now) return { ok: false, code: "LEASE_LOST" };
    current.set(ref.seq, { attempts: m.attempts, token: ref.token });
    return { ok: true };
  });
  return { current, outcomes };
}
