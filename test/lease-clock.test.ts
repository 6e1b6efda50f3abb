import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LeaseClock } from "../durable-objects/partition/lease-clock";
import { partition, uniqueQueue } from "./helpers";

/** Runs `fn` on the SQL of a fresh partition object, with `rows` stored: [seq, lease token or null, visible_at]. */
function withMessages(rows: [number, string | null, number][], fn: (sql: SqlStorage) => void) {
  return runInDurableObject(partition(uniqueQueue("clock")), (_instance, state) => {
    const sql = state.storage.sql;
    for (const [seq, token, visibleAt] of rows) {
      sql.exec(
        `INSERT INTO messages (seq, id, body, visible_at, attempts, lease_token, enqueued_at)
         VALUES (?, ?, '"x"', ?, 1, ?, 0)`,
        seq,
        `m${seq}`,
        visibleAt,
        token,
      );
    }
    fn(sql);
  });
}

describe("lease clock", () => {
  it("finds the leases stored before it started, by token, with the earliest end of each", async () => {
    await withMessages([[1, "t1", 500], [2, "t1", 300], [3, "t2", 900], [4, null, 100]], (sql) => {
      const clock = new LeaseClock(sql);
      expect(clock.inFlight).toBe(3);
      expect(clock.nextEnd).toBe(300);
      expect(clock.checkDue(299)).toEqual(new Map());
      expect([...clock.checkDue(300)]).toEqual([[2, { attempts: 1, failedAt: 300, token: "t1" }]]);
      // Seq 2 stays due until the caller reports it ended (its operation could still roll back).
      expect([...clock.checkDue(301)]).toEqual([[2, { attempts: 1, failedAt: 300, token: "t1" }]]);
      clock.ended([{ seq: 2, token: "t1" }]);
      expect(clock.checkDue(499)).toEqual(new Map());
      expect(clock.nextEnd).toBe(500);
    });
  });

  it("checks a due entry against the rows: acked rows and rows leased again under another token are dropped, extended ones wait", async () => {
    await withMessages([], (sql) => {
      const clock = new LeaseClock(sql);
      clock.leased("t1", [1, 2, 3, 4], 100);
      // The rows as they are by then: 1 acked (gone), 2 released and leased again under t2, 3 extended, 4 expired.
      sql.exec(
        `INSERT INTO messages (seq, id, body, visible_at, attempts, lease_token, enqueued_at)
         VALUES (2, 'm2', '"x"', 400, 2, 't2', 0), (3, 'm3', '"x"', 250, 1, 't1', 0), (4, 'm4', '"x"', 100, 1, 't1', 0)`,
      );
      expect([...clock.checkDue(100)]).toEqual([[4, { attempts: 1, failedAt: 100, token: "t1" }]]);
      clock.ended([{ seq: 4, token: "t1" }]);
      expect(clock.inFlight).toBe(1); // seq 3 under t1; seq 2 belongs to a t2 entry the clock was never told of
      // Early, never late: the entry is looked at again, and then waits for seq 3's real end.
      expect(clock.nextEnd).toBe(100);
      expect(clock.checkDue(249)).toEqual(new Map());
      expect(clock.nextEnd).toBe(250);
      expect([...clock.checkDue(250)]).toEqual([[3, { attempts: 1, failedAt: 250, token: "t1" }]]);
    });
  });

  it("an extend that shortens a lease moves the check earlier; a reset scans the rows again", async () => {
    await withMessages([[1, "t1", 1_000]], (sql) => {
      const clock = new LeaseClock(sql);
      expect(clock.nextEnd).toBe(1_000);
      sql.exec("UPDATE messages SET visible_at = 200 WHERE seq = 1");
      clock.endsAt("t1", 200);
      expect([...clock.checkDue(200)]).toEqual([[1, { attempts: 1, failedAt: 200, token: "t1" }]]);
      sql.exec("UPDATE messages SET lease_token = NULL WHERE seq = 1");
      sql.exec("INSERT INTO messages (seq, id, body, visible_at, lease_token, enqueued_at) VALUES (7, 'm7', '\"x\"', 50, 't9', 0)");
      clock.reset();
      expect(clock.inFlight).toBe(1);
      expect(clock.nextEnd).toBe(50);
    });
  });
});
