import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Tally } from "../durable-objects/partition/counters";
import { Effects } from "../durable-objects/partition/effects";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { bump, counterTotals, minuteOf, pruneCounters } from "../durable-objects/partition/counters";
import { Leases } from "../durable-objects/partition/leases";
import { receive as leaseReady } from "../durable-objects/partition/receive";
import { migrate } from "../durable-objects/partition/schema";
import { useFakeClock } from "./fixture";
import { partition, receive, send, settle, uniqueQueue } from "./helpers";

// A still clock: every latency of a batch falls in one histogram bucket.
useFakeClock();

/** Empties the object's storage and migrates it to `version` only: a partition as that version left it. */
function rebuildAs(storage: DurableObjectStorage, version: number): void {
  for (const table of ["messages", "dead_letters", "dedup", "counters", "counter_totals", "latency", "leases", "meta", "move_tasks", "_schema"]) {
    storage.sql.exec(`DROP TABLE IF EXISTS ${table}`);
  }
  migrate(storage, version);
}

describe("schema and cost", () => {
  it("migration 3 drops the lease index and keeps every lifetime total a version-2 partition had", async () => {
    await runInDurableObject(partition(uniqueQueue("schema")), (_instance, state) => {
      const sql = state.storage.sql;
      // The object migrated itself to the latest version: rebuild it as version 2 left it.
      rebuildAs(state.storage, 2);
      const now = Date.now();
      const minute = minuteOf(now);
      // Version 2 kept lifetime totals beside the minutes: 12 acks in pruned minutes, 8 in the kept ones.
      sql.exec("INSERT INTO counters (minute, name, count) VALUES (?, 'acked', 5), (?, 'acked', 3)", minute, minute - 1);
      sql.exec("INSERT INTO counter_totals (name, count) VALUES ('acked', 20), ('enqueued', 7)");
      const indexes = () =>
        sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'").toArray().map((r) => r.name);
      expect(indexes()).toContain("messages_leases");

      migrate(state.storage);
      expect(indexes()).not.toContain("messages_leases");
      expect(counterTotals(sql)).toMatchObject({ acked: 20, enqueued: 7, delivered: 0 });
      bump(sql, now, "acked", 1);
      expect(counterTotals(sql).acked).toBe(21);
      // Pruning the minutes moves their counts into the totals: nothing is lost.
      pruneCounters(sql, now + 61 * 60_000);
      expect(sql.exec("SELECT COUNT(*) AS n FROM counters").one().n).toBe(0);
      expect(counterTotals(sql)).toMatchObject({ acked: 21, enqueued: 7 });
    });
  });

  it("migration 4 moves the leases of a version-3 partition to lease rows, each delivery it is on taken off attempts", async () => {
    await runInDurableObject(partition(uniqueQueue("schema")), (_instance, state) => {
      const sql = state.storage.sql;
      rebuildAs(state.storage, 3);
      const now = Date.now();
      // Version 3 leased in the message rows: token, lease end in visible_at, the delivery counted in attempts.
      sql.exec(
        `INSERT INTO messages (seq, id, body, visible_at, attempts, lease_token, enqueued_at, delivered_at) VALUES
           (1, 'a', '"a"', ?1 + 30000, 1, 'tA', ?1 - 50, ?1 - 10),
           (2, 'b', '"b"', ?1 + 30000, 2, 'tA', ?1 - 50, ?1 - 10),
           (3, 'c', '"c"', ?1 + 5000, 1, 'tB', ?1 - 50, NULL),
           (4, 'd', '"d"', ?1 - 40, 0, NULL, ?1 - 40, NULL),
           (5, 'e', '"e"', ?1 + 60000, 1, NULL, ?1 - 40, ?1 - 30)`,
        now,
      );

      migrate(state.storage);
      const leases = sql.exec("SELECT token, delivered_at, items FROM leases ORDER BY token").toArray();
      expect(leases.map((l) => ({ ...l, items: JSON.parse(l.items as string) }))).toEqual([
        { token: "tA", delivered_at: now - 10, items: [[1, now + 30_000], [2, now + 30_000]] },
        { token: "tB", delivered_at: null, items: [[3, now + 5_000]] },
      ]);
      const rows = sql.exec("SELECT * FROM messages ORDER BY seq").toArray();
      expect(rows.map((r) => [r.seq, r.attempts, r.visible_at])).toEqual([
        [1, 0, now - 50],
        [2, 1, now - 50],
        [3, 0, now - 50],
        [4, 0, now - 40],
        [5, 1, now + 60_000],
      ]);
      // The old lease columns stay (no table rewrite) and are cleared.
      expect(rows.every((r) => r.lease_token === null)).toBe(true);
      // The next delayed message is still found through its partial index.
      const plan = sql
        .exec<{ detail: string }>(
          `EXPLAIN QUERY PLAN SELECT MIN(visible_at) FROM messages
           WHERE lease_token IS NULL AND visible_at > enqueued_at AND visible_at > 0`,
        )
        .toArray()
        .map((r) => r.detail)
        .join("; ");
      expect(plan).toContain("messages_delayed");

      // The partition's leases read back from the rows: held, ending on time, and masking their messages.
      const ctx = { sql, config: DEFAULT_QUEUE_CONFIG, now, leases: new Leases(sql), counts: new Tally(sql), effects: new Effects() };
      expect(ctx.leases.inFlight).toBe(3);
      expect(ctx.leases.held(2, "tA")).toEqual({ endsAt: now + 30_000, deliveredAt: now - 10 });
      expect(ctx.leases.nextEnd).toBe(now + 5_000);
      expect(ctx.leases.ended(now + 5_000).map((l) => l.seq)).toEqual([3]);
      expect(leaseReady(ctx, 10, 1_000).map((m) => [m.id, m.attempts])).toEqual([["d", 1]]);
    });
  });

  it("a message's life batched by 100 writes one row per message to store and to delete it, and one lease row per receive", async () => {
    const q = uniqueQueue("cost");
    await send(q, { body: "creates the queue" });
    await settle(q, "ack", { receipts: (await receive(q, { max: 1 })).map((m) => m.receipt) });
    const stub = partition(q);
    const m0 = await stub.meter();
    await send(q, { messages: Array.from({ length: 100 }, (_, i) => ({ body: { i } })) });
    const m1 = await stub.meter();
    const leased = await receive(q, { max: 100 });
    expect(leased).toHaveLength(100);
    const m2 = await stub.meter();
    await settle(q, "ack", { receipts: leased.map((m) => m.receipt) });
    const m3 = await stub.meter();
    // The rows, the minute's counter, sqlite_sequence.
    expect(m1.rowsWritten - m0.rowsWritten).toBe(100 + 2);
    // One lease row (the message rows stay as they are), the minute's counter.
    expect(m2.rowsWritten - m1.rowsWritten).toBe(1 + 1);
    // The deletes, the lease row, the minute's counter, one latency bucket of each of the two kinds.
    expect(m3.rowsWritten - m2.rowsWritten).toBe(100 + 1 + 1 + 2);
  });

  it("acks spread over receives end each receive's lease row once, and an unleased message row is never rewritten", async () => {
    const q = uniqueQueue("cost");
    await send(q, { messages: Array.from({ length: 4 }, (_, i) => ({ body: { i } })) });
    const first = await receive(q, { max: 2 });
    const second = await receive(q, { max: 2 });
    const stub = partition(q);
    const m0 = await stub.meter();
    // One of each receive: both lease rows are rewritten (one statement), two messages deleted.
    await settle(q, "ack", { receipts: [first[0].receipt, second[0].receipt] });
    const m1 = await stub.meter();
    expect(m1.rowsWritten - m0.rowsWritten).toBe(2 + 2 + 1 + 2);
    // The rest: both lease rows go.
    await settle(q, "ack", { receipts: [first[1].receipt, second[1].receipt] });
    const m2 = await stub.meter();
    expect(m2.rowsWritten - m1.rowsWritten).toBe(2 + 2 + 1 + 2);
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM leases").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM messages").one().n).toBe(0);
    });
  });
});
