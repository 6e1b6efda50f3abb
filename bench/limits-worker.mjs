// The runtime's own limits, measured beside edgeq in the same workerd: a
// Worker that does nothing, an empty Durable Object RPC, raw SQLite
// inserts inside a Durable Object (one statement per row, and set-based
// over json_each), and a WebSocket held by a Durable Object that echoes
// each frame (the floor of a consume stream). Rows look like edgeq's
// messages: a uuid, a ~100-byte JSON body and two times.
import { DurableObject } from "cloudflare:workers";

const BODY = JSON.stringify({ order: 12345, sku: "sku-000-000", qty: 1, note: "x".repeat(48) });

export class Limits extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS rows (
         seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, body TEXT NOT NULL,
         visible_at INTEGER NOT NULL, enqueued_at INTEGER NOT NULL)`,
    );
  }

  ping() {
    return 1;
  }

  /** n rows, one INSERT each, in one transaction (the request's). */
  insertEach(n) {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (let i = 0; i < n; i++) {
        sql.exec("INSERT INTO rows (id, body, visible_at, enqueued_at) VALUES (?, ?, ?, ?)", crypto.randomUUID(), BODY, now, now);
      }
    });
    return n;
  }

  /**
   * Group commit as edgeq does it (no timer): a request that comes while a
   * commit is in flight waits for it, then goes with the others. With n=1 it
   * is the floor of W1 (at c32) and of W4 (on W4's schedule) in the limits;
   * against `/insert-set?n=1` it is the A/B in BENCHMARKS.md ("Commits").
   */
  insertAfterSync(n) {
    return new Promise((resolve, reject) => {
      (this.waiting ??= []).push({ n, resolve, reject });
      if (!this.committing) this.commitLoop();
    });
  }

  async commitLoop() {
    this.committing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        try {
          this.ctx.storage.transactionSync(() => {
            for (const b of batch) this.insertSet(b.n);
          });
          for (const b of batch) b.resolve(b.n);
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
        await this.ctx.storage.sync();
      }
    } finally {
      this.committing = false;
    }
  }

  /**
   * How SQLite's rowsWritten counts index entries: 100 rows through each
   * statement, on a table with no secondary index and on one with two
   * (a full index and a partial one), each figure divided by 100.
   */
  rowsWrittenProbe() {
    const sql = this.ctx.storage.sql;
    const out = {};
    for (const [name, indexes] of [
      ["no index", []],
      ["two indexes", ["CREATE INDEX p_b ON p(b)", "CREATE INDEX p_c ON p(c) WHERE c IS NOT NULL"]],
    ]) {
      sql.exec("DROP TABLE IF EXISTS p");
      sql.exec("CREATE TABLE p (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c TEXT)");
      for (const ddl of indexes) sql.exec(ddl);
      const per = (q, ...args) => sql.exec(q, ...args).rowsWritten / 100;
      out[name] = {
        insert: per("INSERT INTO p (a, b) SELECT 'x', value FROM json_each(?)", JSON.stringify([...Array(100).keys()])),
        updateUnindexed: per("UPDATE p SET a = 'y'"),
        updateIndexed: per("UPDATE p SET b = b + 1000"),
        updateIntoPartial: per("UPDATE p SET c = 'leased'"),
        updateOutOfPartial: per("UPDATE p SET c = NULL"),
        delete: per("DELETE FROM p"),
      };
    }
    sql.exec("DROP TABLE IF EXISTS p");
    return out;
  }

  /** n rows with one INSERT ... SELECT FROM json_each. */
  insertSet(n) {
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < n; i++) rows.push({ id: crypto.randomUUID(), body: BODY });
    this.ctx.storage.sql.exec(
      `INSERT INTO rows (id, body, visible_at, enqueued_at)
       SELECT value ->> 'id', value ->> 'body', ?1, ?1 FROM json_each(?2)`,
      now,
      JSON.stringify(rows),
    );
    return n;
  }
}

/**
 * A WebSocket held by a Durable Object, as a consume stream is (forwarded by
 * the Worker, accepted with the hibernation API), that sends each frame
 * back: what a frame costs the runtime both ways, and nothing else.
 */
export class Echo extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, message) {
    ws.send(message);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const stub = () => env.LIMITS.get(env.LIMITS.idFromName(url.searchParams.get("object") ?? "limits"));
    switch (url.pathname) {
      case "/noop":
        return new Response("ok");
      case "/rpc":
        return new Response(String(await stub().ping()));
      case "/insert-each":
        return new Response(String(await stub().insertEach(Number(url.searchParams.get("n") ?? 100))));
      case "/insert-after-sync":
        return new Response(String(await stub().insertAfterSync(Number(url.searchParams.get("n") ?? 100))));
      case "/rows-written-probe":
        return Response.json(await stub().rowsWrittenProbe());
      case "/echo":
        return env.ECHO.get(env.ECHO.idFromName(url.searchParams.get("object") ?? "echo")).fetch(request);
      case "/insert-set":
        return new Response(String(await stub().insertSet(Number(url.searchParams.get("n") ?? 100))));
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
