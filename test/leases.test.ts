import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Tally } from "../durable-objects/partition/counters";
import { Effects } from "../durable-objects/partition/effects";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { checkLeases, Leases, READ_PAST, WALK_FROM } from "../durable-objects/partition/leases";
import { ready, unleased } from "../durable-objects/partition/receive";
import { partition, uniqueQueue } from "./helpers";

/** Runs `fn` on a fresh partition's SQL (schema migrated), with three stored messages (seqs 1, 2, 3). */
function withMessages(fn: (sql: SqlStorage) => void): Promise<void> {
  return runInDurableObject(partition(uniqueQueue("leases")), (_instance, state) => {
    const sql = state.storage.sql;
    sql.exec(
      `INSERT INTO messages (seq, id, body, visible_at, enqueued_at) VALUES
         (1, 'm1', '"x"', 0, 0), (2, 'm2', '"x"', 0, 0), (3, 'm3', '"x"', 0, 0)`,
    );
    fn(sql);
  });
}

/** Stores messages with these seqs, enqueued at 0 and due at `visibleAt`. */
function storeSeqs(sql: SqlStorage, seqs: number[], visibleAt = 0): void {
  sql.exec(
    `INSERT INTO messages (seq, id, body, visible_at, enqueued_at) SELECT value, 'm' || value, '"x"', ?, 0 FROM json_each(?)`,
    visibleAt,
    JSON.stringify(seqs),
  );
}

/** What the table holds, as [token, [[seq, end], ...]] in token order. */
const table = (sql: SqlStorage) =>
  sql
    .exec<{ token: string; items: string }>("SELECT token, items FROM leases ORDER BY token")
    .toArray()
    .map((r) => [r.token, JSON.parse(r.items)]);

describe("leases", () => {
  it("keeps one row per receive, and memory read back from the rows says the same as memory kept", async () => {
    await withMessages((sql) => {
      const leases = new Leases(sql);
      leases.take("a", [1, 2], 100, 1_000);
      leases.take("b", [3], 150, 500);
      leases.extend([{ seq: 2, token: "a" }], 2_000);
      leases.end([{ seq: 1, token: "a" }], false);
      expect(table(sql)).toEqual([
        ["a", [[2, 2_000]]],
        ["b", [[3, 500]]],
      ]);
      const reread = new Leases(sql);
      for (const l of [leases, reread]) {
        expect(l.inFlight).toBe(2);
        expect(l.held(2, "a")).toEqual({ endsAt: 2_000, deliveredAt: 100 });
        expect(l.held(1, "a")).toBeNull();
        expect(l.held(3, "a")).toBeNull(); // another receive's lease
        expect(l.endOf(3)).toBe(500);
        expect(JSON.parse(l.seqsJson).sort()).toEqual([2, 3]);
      }
      leases.end([{ seq: 2, token: "a" }, { seq: 3, token: "b" }], false);
      expect(table(sql)).toEqual([]);
      expect(leases.inFlight).toBe(0);
      expect(leases.nextEnd).toBeNull();
    });
  });

  it("reports ended leases on time, never late: an end moved earlier or later, and seqs ended meanwhile", async () => {
    await withMessages((sql) => {
      const leases = new Leases(sql);
      leases.take("a", [1, 2, 3], 0, 1_000);
      leases.extend([{ seq: 1, token: "a" }], 3_000);
      leases.extend([{ seq: 2, token: "a" }], 400);
      expect(leases.nextEnd).toBe(400);
      expect(leases.ended(399)).toEqual([]);
      expect(leases.ended(400)).toEqual([{ seq: 2, token: "a", endedAt: 400, deliveredAt: 0 }]);
      // Reported until the caller ends it (its operation may yet roll back).
      expect(leases.ended(500).map((l) => l.seq)).toEqual([2]);
      leases.end([{ seq: 2, token: "a" }], false);
      expect(leases.ended(999)).toEqual([]);
      expect(leases.nextEnd).toBe(1_000);
      expect(leases.ended(1_000).map((l) => l.seq)).toEqual([3]);
      leases.end([{ seq: 3, token: "a" }], false);
      expect(leases.ended(2_999)).toEqual([]);
      expect(leases.ended(3_000).map((l) => l.seq)).toEqual([1]);
    });
  });

  it("ends nothing for a stale token, and forgets memory on reset to read the table again", async () => {
    await withMessages((sql) => {
      const leases = new Leases(sql);
      leases.take("a", [1], 0, 1_000);
      leases.end([{ seq: 1, token: "old" }], false);
      leases.extend([{ seq: 1, token: "old" }], 9_000);
      expect(table(sql)).toEqual([["a", [[1, 1_000]]]]);
      // A rolled-back operation: the table lost its row, memory still has it until reset.
      sql.exec("DELETE FROM leases");
      expect(leases.inFlight).toBe(1);
      leases.reset();
      expect(leases.inFlight).toBe(0);
      expect(leases.held(1, "a")).toBeNull();
    });
  });

  it("starts scans after the leased prefix of the queue, with the unleased messages inside it as holes", async () => {
    await withMessages((sql) => {
      sql.exec(`INSERT INTO messages (seq, id, body, visible_at, enqueued_at) VALUES (5, 'm5', '"x"', 0, 0)`); // 4 was acked
      const leases = new Leases(sql, { walkFrom: 0 }); // walks at every scan
      // Nothing leased: no prefix, however many messages wait.
      expect(leases.scanStart(0)).toEqual({ holes: "[]", after: 0, rest: "[]" });
      // 1 and 3 leased, 2 between them: a hole; 5 is unleased with nothing leased after it: the prefix ends before it.
      leases.take("a", [1, 3], 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[2]", after: 4, rest: "[]" });
      // 2 and 5 leased: no hole, the prefix passes the gap where 4 was.
      leases.take("b", [2, 5], 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[]", after: 5, rest: "[]" });
      // A nack (its message stays): a hole again.
      leases.end([{ seq: 2, token: "b" }], true);
      expect(leases.scanStart(0)).toEqual({ holes: "[2]", after: 5, rest: "[]" });
      // An ack (its message goes): nothing unleased appears.
      sql.exec("DELETE FROM messages WHERE seq = 1");
      leases.end([{ seq: 1, token: "a" }], false);
      expect(leases.scanStart(0)).toEqual({ holes: "[2]", after: 5, rest: "[]" });
      // Two unleased in a row end the prefix; leased seqs past it are excluded one by one.
      sql.exec(`INSERT INTO messages (seq, id, body, visible_at, enqueued_at) VALUES
                  (6, 'm6', '"x"', 0, 0), (7, 'm7', '"x"', 0, 0), (8, 'm8', '"x"', 0, 0), (9, 'm9', '"x"', 0, 0)`);
      leases.take("c", [8], 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[2]", after: 5, rest: "[8]" });
      // One unleased between leased ones is a hole.
      leases.take("d", [6], 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[2,7]", after: 8, rest: "[]" });
      // Forgetting memory forgets the prefix too: found again from the rows.
      leases.reset();
      expect(leases.scanStart(0)).toEqual({ holes: "[2,7]", after: 8, rest: "[]" });
    });
  });

  it(`walks the prefix only once ${WALK_FROM} leased seqs lie above it; fewer are excluded one by one, with no seek`, async () => {
    await runInDurableObject(partition(uniqueQueue("leases")), (_instance, state) => {
      const sql = state.storage.sql;
      const seqs = Array.from({ length: WALK_FROM + 2 }, (_, i) => i + 1);
      storeSeqs(sql, seqs);
      const leases = new Leases(sql);
      const ctx = { sql, config: DEFAULT_QUEUE_CONFIG, now: 0, leases, counts: new Tally(sql), effects: new Effects() };
      const unleasedSeqs = () => ready<{ seq: number }>(ctx, "SELECT m.seq", -1).map((r) => r.seq);
      const few = seqs.slice(0, WALK_FROM - 1);
      leases.take("a", few, 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[]", after: 0, rest: JSON.stringify(few) });
      expect(unleasedSeqs()).toEqual(seqs.slice(WALK_FROM - 1));
      // One more leased: the walk takes the prefix past all of them.
      leases.take("b", [WALK_FROM], 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[]", after: WALK_FROM, rest: "[]" });
      expect(unleasedSeqs()).toEqual(seqs.slice(WALK_FROM));
    });
  });

  it("walks past messages not due yet once a scan read past many, and finds them again when they are due", async () => {
    await runInDurableObject(partition(uniqueQueue("leases")), (_instance, state) => {
      const sql = state.storage.sql;
      const delayed = Array.from({ length: READ_PAST + 36 }, (_, i) => i + 1);
      storeSeqs(sql, delayed, 5_000);
      const last = delayed.length;
      sql.exec(
        `INSERT INTO messages (seq, id, body, visible_at, enqueued_at) VALUES (?, 'r1', '"x"', 0, 0), (?, 'r2', '"x"', 0, 0)`,
        last + 1,
        last + 2,
      );
      const leases = new Leases(sql);
      let now = 0;
      const ctx = () => ({ sql, config: DEFAULT_QUEUE_CONFIG, now, leases, counts: new Tally(sql), effects: new Effects() });
      const readySeqs = () => ready<{ seq: number }>(ctx(), "SELECT m.seq", -1).map((r) => r.seq);
      // The first scan reads past every delayed message; the next one starts after them.
      expect(readySeqs()).toEqual([last + 1, last + 2]);
      expect(leases.scanStart(now)).toEqual({ holes: "[]", after: last, rest: "[]" });
      expect(readySeqs()).toEqual([last + 1, last + 2]);
      // The sweep's scans still see the waiting messages inside the prefix.
      expect(unleased<{ seq: number }>(ctx(), "SELECT m.seq", "?3 IS NULL", null, -1).map((r) => r.seq)).toEqual([
        ...delayed,
        last + 1,
        last + 2,
      ]);
      // Not due yet at 4,999; at 5,000 all of them: 32 become holes and the prefix ends before the next.
      now = 4_999;
      expect(readySeqs()).toEqual([last + 1, last + 2]);
      now = 5_000;
      const start = leases.scanStart(now);
      expect(JSON.parse(start.holes)).toEqual(delayed.slice(0, 32));
      expect(start.after).toBe(32);
      expect(readySeqs()).toEqual([...delayed, last + 1, last + 2]);
    });
  });

  it("keeps at most 32 holes: past that the prefix ends before the next one, and holes whose messages went make room", async () => {
    await runInDurableObject(partition(uniqueQueue("leases")), (_instance, state) => {
      const sql = state.storage.sql;
      const seqs = Array.from({ length: 80 }, (_, i) => i + 1);
      storeSeqs(sql, seqs);
      const leases = new Leases(sql, { walkFrom: 0 });
      const ctx = { sql, config: DEFAULT_QUEUE_CONFIG, now: 0, leases, counts: new Tally(sql), effects: new Effects() };
      const unleasedSeqs = () => ready<{ seq: number }>(ctx, "SELECT m.seq", -1).map((r) => r.seq);
      leases.take("a", seqs, 0, 1_000);
      expect(leases.scanStart(0)).toEqual({ holes: "[]", after: 80, rest: "[]" });
      // Every odd seq given back: 1..63 become the 32 holes, the prefix ends at 64.
      const odd = seqs.filter((s) => s % 2 === 1);
      leases.end(odd.map((seq) => ({ seq, token: "a" })), true);
      const start = leases.scanStart(0);
      expect(JSON.parse(start.holes)).toEqual(odd.filter((s) => s <= 63));
      expect(start.after).toBe(64);
      expect(JSON.parse(start.rest)).toEqual(seqs.filter((s) => s > 64 && s % 2 === 0));
      expect(unleasedSeqs()).toEqual(odd);
      // Two holes' messages go; the next message given back takes a freed place, and the prefix
      // grows into the last one (65, between leased 64 and 66).
      sql.exec("DELETE FROM messages WHERE seq IN (1, 3)");
      leases.end([{ seq: 2, token: "a" }], true);
      const again = leases.scanStart(0);
      expect(JSON.parse(again.holes)).toEqual([2, ...odd.filter((s) => s >= 5 && s <= 65)]);
      expect(again.after).toBe(66);
      expect(unleasedSeqs()).toEqual([2, ...odd.filter((s) => s >= 5)]);
    });
  });

  it("fences receipts: current ones from memory, LEASE_LOST for a stale or ended lease of a stored message, NOT_FOUND when gone", async () => {
    await withMessages((sql) => {
      const leases = new Leases(sql);
      leases.take("a", [1, 2], 50, 1_000);
      const { current, outcomes } = checkLeases(
        sql,
        leases,
        [
          { seq: 1, token: "a" },
          { seq: 2, token: "b" },
          { seq: 9, token: "a" },
        ],
        999,
      );
      expect(outcomes).toEqual([{ ok: true }, { ok: false, code: "LEASE_LOST" }, { ok: false, code: "NOT_FOUND" }]);
      expect([...current]).toEqual([[1, { token: "a", deliveredAt: 50 }]]);
      expect(checkLeases(sql, leases, [{ seq: 1, token: "a" }], 1_000).outcomes).toEqual([{ ok: false, code: "LEASE_LOST" }]);
    });
  });
});
