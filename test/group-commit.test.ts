import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { minuteOf, Tally } from "../durable-objects/partition/counters";
import { GroupCommit } from "../durable-objects/partition/group-commit";
import { partition, uniqueQueue } from "./helpers";

/**
 * A storage whose commits the test controls: `sync()` resolves only when the
 * test says so, so that requests gather behind a commit in flight, and the
 * outer transaction can be made to fail.
 */
function fakeStorage() {
  const log: string[] = [];
  let depth = 0;
  let releaseSync: (() => void) | null = null;
  const storage = {
    failNextGroup: false,
    transactionSync<T>(fn: () => T): T {
      const outer = depth === 0;
      depth += 1;
      try {
        if (outer) log.push("begin");
        const value = fn();
        if (outer && storage.failNextGroup) {
          storage.failNextGroup = false;
          throw new Error("commit failed");
        }
        if (outer) log.push("end");
        return value;
      } finally {
        depth -= 1;
      }
    },
    sync(): Promise<void> {
      log.push("sync");
      return new Promise((resolve) => (releaseSync = resolve));
    },
  };
  return { storage, log, commit: () => releaseSync?.() };
}

describe("group commit", () => {
  it("runs a lone request at once, and the requests that come during its commit together, in one transaction", async () => {
    const { storage, log, commit } = fakeStorage();
    const group = new GroupCommit(storage as unknown as DurableObjectStorage);
    const first = group.run(() => (log.push("op 1"), 1));
    expect(log).toEqual(["begin", "op 1", "end", "sync"]);
    const later = [group.run(() => (log.push("op 2"), 2)), group.run(() => (log.push("op 3"), 3))];
    expect(await first).toBe(1);
    expect(log).toEqual(["begin", "op 1", "end", "sync"]); // waiting for the first commit
    commit();
    expect(await Promise.all(later)).toEqual([2, 3]);
    expect(log).toEqual(["begin", "op 1", "end", "sync", "begin", "op 2", "op 3", "end", "sync"]);
    commit();
  });

  it("rolls back a failing request alone (its savepoint), inside a real Durable Object", async () => {
    await runInDurableObject(partition(uniqueQueue("gc")), async (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("CREATE TABLE gc_probe (v TEXT)");
      let opRollbacks = 0;
      const group = new GroupCommit(state.storage, { onOpRollback: () => (opRollbacks += 1) });
      const results = await Promise.allSettled([
        group.run(() => sql.exec("INSERT INTO gc_probe VALUES ('a')")),
        group.run(() => {
          sql.exec("INSERT INTO gc_probe VALUES ('b')");
          throw new Error("b fails");
        }),
        group.run(() => sql.exec("INSERT INTO gc_probe VALUES ('c')")),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason.message).toBe("b fails");
      expect(sql.exec<{ v: string }>("SELECT v FROM gc_probe ORDER BY v").toArray().map((r) => r.v)).toEqual(["a", "c"]);
      // Memory kept beside storage is told, once, so that it can forget what the failed request did.
      expect(opRollbacks).toBe(1);
    });
  });

  it("writes a group's counts once, at its end, without those of a request that rolled back; outside a group at once", async () => {
    await runInDurableObject(partition(uniqueQueue("gc")), async (_instance, state) => {
      const sql = state.storage.sql;
      let counterStatements = 0;
      const counted = {
        exec: (query: string, ...bindings: SqlStorageValue[]) => ((counterStatements += 1), sql.exec(query, ...bindings)),
      } as unknown as SqlStorage;
      const now = Date.UTC(2026, 10, 30, 12, 0, 30);
      const tally = new Tally(counted);
      const group = new GroupCommit(state.storage, { tally, settle: () => (tally.add(now, "delivered", 1), null) });
      const results = await Promise.allSettled([
        group.run(() => tally.add(now, "enqueued", 1)), // a group of its own
        group.run(() => {
          tally.add(now, "enqueued", 2);
          throw new Error("rolled back");
        }),
        group.run(() => (tally.add(now, "enqueued", 4), tally.add(now, "acked", 1), tally.add(now + 60_000, "acked", 1))),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      const counts = () =>
        sql
          .exec<{ minute: number; name: string; count: number }>("SELECT minute, name, count FROM counters ORDER BY minute, name")
          .toArray()
          .map((r) => [r.minute - minuteOf(now), r.name, r.count]);
      expect(counts()).toEqual([
        [0, "acked", 1],
        [0, "delivered", 2],
        [0, "enqueued", 5],
        [1, "acked", 1],
      ]);
      expect(counterStatements).toBe(2); // one per group
      tally.add(now, "purged", 3);
      expect(counterStatements).toBe(3);
      expect(counts()).toContainEqual([0, "purged", 3]);
    });
  });

  it("the counts of a group whose transaction failed do not carry into the next group", async () => {
    const { storage, commit } = fakeStorage();
    const written: string[] = [];
    const tally = new Tally({ exec: (_query: string, rows: string) => written.push(rows) } as unknown as SqlStorage);
    const group = new GroupCommit(storage as unknown as DurableObjectStorage, { tally });
    storage.failNextGroup = true;
    await expect(group.run(() => tally.add(0, "enqueued", 7))).rejects.toThrow("commit failed");
    commit();
    // The fake wrote the first group's statement before its commit failed; a real one rolls back with it.
    expect(written).toEqual(['[[0,"enqueued",7]]']);
    expect(await group.run(() => tally.add(0, "enqueued", 1))).toBeUndefined();
    commit();
    expect(written).toEqual(['[[0,"enqueued",7]]', '[[0,"enqueued",1]]']);
  });

  it("settles once per group, after its requests and inside its transaction; what settle answers runs before they resolve", async () => {
    const { storage, log, commit } = fakeStorage();
    const group = new GroupCommit(storage as unknown as DurableObjectStorage, {
      settle: () => {
        log.push("settle");
        return () => log.push("after");
      },
    });
    const done = group.run(() => log.push("op")).then(() => log.push("resolved"));
    commit();
    await done;
    // The commit (sync) is started before the callers run on: their answers wait for it at the output gate.
    expect(log).toEqual(["begin", "op", "settle", "end", "after", "sync", "resolved"]);
  });

  it("a group whose transaction fails rejects every request in it and calls onRollback", async () => {
    const { storage, commit } = fakeStorage();
    let rollbacks = 0;
    const group = new GroupCommit(storage as unknown as DurableObjectStorage, { onRollback: () => (rollbacks += 1) });
    storage.failNextGroup = true;
    await expect(group.run(() => 1)).rejects.toThrow("commit failed");
    expect(rollbacks).toBe(1);
    commit();
    expect(await group.run(() => 2)).toBe(2);
    expect(rollbacks).toBe(1);
    commit();
  });
});
