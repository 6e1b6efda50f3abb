import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bump, counterTotals, minuteOf, pruneCounters } from "../durable-objects/partition/counters";
import { migrate } from "../durable-objects/partition/schema";
import { useFakeClock } from "./fixture";
import { partition, receive, send, settle, uniqueQueue } from "./helpers";

// A still clock: every latency of a batch falls in one histogram bucket.
useFakeClock();

describe("schema and cost", () => {
  it("migration 3 drops the lease index and keeps every lifetime total a version-2 partition had", async () => {
    await runInDurableObject(partition(uniqueQueue("schema")), (_instance, state) => {
      const sql = state.storage.sql;
      // The object migrated itself to the latest version: rebuild it as version 2 left it.
      for (const table of ["messages", "dead_letters", "dedup", "counters", "counter_totals", "latency", "meta", "_schema"]) {
        sql.exec(`DROP TABLE IF EXISTS ${table}`);
      }
      migrate(state.storage, 2);
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

  it("a message's life batched by 100 writes one row per message at each step, and one counter row per operation", async () => {
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
    // The rows (no index entry: lease ends are kept in memory), the minute's counter.
    expect(m2.rowsWritten - m1.rowsWritten).toBe(100 + 1);
    // The deletes, the minute's counter, one latency bucket of each of the two kinds.
    expect(m3.rowsWritten - m2.rowsWritten).toBe(100 + 1 + 2);
  });
});
