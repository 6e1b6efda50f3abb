/**
 * The leases against a model: random receives, acks, nacks, releases, lease
 * ends, deletions, new messages, groups and evictions on one partition's SQL,
 * and after every step the partition's answers checked against what the
 * rows and the lease table say by brute force. The leased prefix and its
 * holes (Leases.scanStart) are a cache; this is what keeps them honest.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Tally } from "../durable-objects/partition/counters";
import { Effects } from "../durable-objects/partition/effects";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { ack } from "../durable-objects/partition/ack";
import { Leases, READ_PAST, WALK_FROM } from "../durable-objects/partition/leases";
import { nack } from "../durable-objects/partition/nack";
import { countReady, receive, unleased } from "../durable-objects/partition/receive";
import { release } from "../durable-objects/partition/release";
import { sweepExpiredLeases } from "../durable-objects/partition/sweep";
import type { OpContext } from "../durable-objects/partition/types";
import { partition, uniqueQueue } from "./helpers";

/** A small deterministic generator (mulberry32), so that a failure can be replayed from its seed. */
function random(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** What the rows say, without the partition's memory. */
function truth(sql: SqlStorage, now: number) {
  const leased = new Map<number, { token: string; endsAt: number }>();
  for (const row of sql.exec<{ token: string; items: string }>("SELECT token, items FROM leases")) {
    for (const [seq, endsAt] of JSON.parse(row.items) as [number, number][]) {
      expect(leased.has(seq), `seq ${seq} is in two lease rows`).toBe(false);
      leased.set(seq, { token: row.token, endsAt });
    }
  }
  const rows = sql
    .exec<{ seq: number; visible_at: number; group_id: string | null }>("SELECT seq, visible_at, group_id FROM messages ORDER BY seq")
    .toArray();
  const stored = new Set(rows.map((r) => r.seq));
  for (const seq of leased.keys()) expect(stored.has(seq), `leased seq ${seq} is not stored`).toBe(true);
  const seenGroups = new Set<string>();
  const ready: number[] = [];
  for (const r of rows) {
    const first = r.group_id === null || !seenGroups.has(r.group_id);
    if (r.group_id !== null) seenGroups.add(r.group_id);
    if (first && !leased.has(r.seq) && r.visible_at <= now) ready.push(r.seq);
  }
  return { leased, ready };
}

describe("leases against a model", () => {
  // walkFrom 0 walks the prefix at every scan, WALK_FROM as the partition does (rarely, with this few in flight);
  // readPast 0 also walks after any scan that read past a row it did not return (a delayed message, a leased one).
  const variants = [
    { walkFrom: 0, readPast: READ_PAST },
    { walkFrom: 4, readPast: READ_PAST },
    { walkFrom: WALK_FROM, readPast: READ_PAST },
    { walkFrom: WALK_FROM, readPast: 0 },
  ];
  for (const [seed, options] of [1, 2, 3, 4].flatMap((seed) => variants.map((v) => [seed, v] as const))) {
    it(`seed ${seed}, walkFrom ${options.walkFrom}, readPast ${options.readPast}: receives lease exactly the ready messages in order, and nothing is leased twice`, async () => {
      await runInDurableObject(partition(uniqueQueue("model")), (_instance, state) => {
        const sql = state.storage.sql;
        const r = random(seed);
        let now = 1_000_000;
        let leases = new Leases(sql, options);
        const config = { ...DEFAULT_QUEUE_CONFIG, maxAttempts: 1_000, backoffBaseMs: 5, backoffMaxMs: 50 };
        const ctx = (): OpContext => ({ sql, config, now, leases, counts: new Tally(sql), effects: new Effects() });
        const held = () => [...truth(sql, now).leased].map(([seq, l]) => ({ seq, token: l.token }));
        const some = <T>(xs: T[]) => xs.filter(() => r.next() < 0.4);
        let enqueued = 0;

        for (let step = 0; step < 400; step++) {
          const op = r.int(0, 9);
          if (op <= 1) {
            const n = r.int(1, 6);
            for (let i = 0; i < n; i++, enqueued++) {
              const delay = r.next() < 0.2 ? r.int(1, 40) : 0;
              const group = r.next() < 0.2 ? `g${r.int(1, 3)}` : null;
              sql.exec(
                "INSERT INTO messages (id, body, group_id, visible_at, enqueued_at) VALUES (?, '1', ?, ?, ?)",
                `m${enqueued}`,
                group,
                now + delay,
                now,
              );
            }
          } else if (op <= 4) {
            const max = r.int(1, 8);
            // Group heads only, so at most one per group.
            const expected = truth(sql, now).ready;
            const got = receive(ctx(), max, r.int(5, 60)).map((m) => m.seq);
            expect(got).toEqual(expected.slice(0, max));
          } else if (op === 5) {
            ack(ctx(), some(held()));
          } else if (op === 6) {
            nack(ctx(), some(held()), r.next() < 0.5 ? r.int(1, 40) : null, null);
          } else if (op === 7) {
            release(ctx(), some(held()));
          } else if (op === 8) {
            now += r.int(0, 30);
            sweepExpiredLeases(ctx());
          } else if (r.next() < 0.5) {
            leases = new Leases(sql, options); // an eviction: memory read again from the rows
          } else {
            // A message that goes while unleased (purged, expired by retention).
            const { leased } = truth(sql, now);
            const unleased = sql.exec<{ seq: number }>("SELECT seq FROM messages").toArray().filter((m) => !leased.has(m.seq));
            if (unleased.length > 0) sql.exec("DELETE FROM messages WHERE seq = ?", unleased[r.int(0, unleased.length - 1)].seq);
          }
          const t = truth(sql, now);
          expect(leases.inFlight).toBe(t.leased.size);
          expect(countReady(ctx(), 10_000)).toBe(t.ready.length);
          // The sweep's scan: every stored message that no lease holds, due or not.
          expect(unleased<{ seq: number }>(ctx(), "SELECT m.seq", "?3 IS NULL", null, -1).map((m) => m.seq)).toEqual(
            sql
              .exec<{ seq: number }>("SELECT seq FROM messages ORDER BY seq")
              .toArray()
              .map((m) => m.seq)
              .filter((seq) => !t.leased.has(seq)),
          );
        }
      });
    });
  }
});
