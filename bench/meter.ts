/**
 * What a partition has cost: requests and alarms since it started; SQL
 * statements, and the rows those statements read and wrote as SQLite
 * reports them (`cursor.rowsRead` / `cursor.rowsWritten`, the figures
 * Durable Object billing uses), from the first `read()` on. In memory only,
 * reset on eviction; read by the benchmark (W7) and the tests that count
 * rows and statements, which read once before what they measure. Only the
 * metered partition of the bench and the tests has one (metered-partition.ts).
 */
export interface MeterReading {
  requests: number;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  alarms: number;
}

export class Meter {
  private readonly totals: MeterReading = { requests: 0, statements: 0, rowsRead: 0, rowsWritten: 0, alarms: 0 };
  /** Cursors of the current operation: their row counts are final once they have been consumed. */
  private open: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  /** Statements are counted once someone has read the meter. */
  private counting = false;

  /** The same SqlStorage, with every cursor it returns counted. */
  wrap(sql: SqlStorage): SqlStorage {
    const exec = (query: string, ...bindings: unknown[]) => {
      const cursor = sql.exec(query, ...bindings);
      if (this.counting) this.open.push(cursor);
      return cursor;
    };
    return new Proxy(sql, {
      get: (target, prop) => {
        if (prop === "exec") return exec;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** Counts one request or alarm (not work a request does inside itself) and settles the cursors before it. */
  begin(kind: "request" | "alarm" | "internal"): void {
    this.settle();
    if (kind === "alarm") this.totals.alarms += 1;
    else if (kind === "request") this.totals.requests += 1;
  }

  read(): MeterReading {
    this.counting = true;
    this.settle();
    return { ...this.totals };
  }

  private settle(): void {
    for (const cursor of this.open) {
      this.totals.statements += 1;
      this.totals.rowsRead += cursor.rowsRead;
      this.totals.rowsWritten += cursor.rowsWritten;
    }
    this.open = [];
  }
}
