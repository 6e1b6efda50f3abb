import { logEvent } from "../log";

/**
 * Group commit. Local workerd commits a Durable Object's SQLite once per
 * request and fsyncs the WAL each time (measured: one fsync per request at
 * any concurrency), so N concurrent requests cost N commits. Here a request
 * that comes while the previous group's commit is still being written waits
 * for that commit (`storage.sync()`), then runs with every other request that
 * came meanwhile in one transaction: one commit for the group.
 *
 * A lone request runs at once (no timer, no added latency). Each operation
 * runs in a savepoint of its own: one that throws is rolled back alone and
 * its caller gets the error; the others commit. Durability is unchanged:
 * the output gate holds every response until the commit that holds its
 * writes is durable, so a 2xx still means committed.
 *
 * `settle`, when given, runs once per group after its operations, in the
 * same transaction and a savepoint of its own (long-poll pushes: leases for
 * waiting consumers, see waiters.ts). What it answers runs once the
 * transaction has run, still before the commit, whose output gate holds any
 * message it sends until the group is durable.
 *
 * `tally`, when given, holds writes that operations defer to the end of the
 * group (counters.ts): undone with an operation (or the settle step) that
 * rolls back, written last in the group's transaction, dropped when the
 * group's transaction fails.
 */
export class GroupCommit {
  private waiting: { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  /**
   * For state kept in memory beside storage: `onRollback` runs when a
   * group's transaction fails as a whole, `onOpRollback` when one operation
   * (or the settle step) is rolled back alone; `settle`, see above.
   */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly hooks: {
      onRollback?: () => void;
      onOpRollback?: (error: unknown) => void;
      settle?: () => (() => void) | null;
      tally?: { begin(): void; mark(): number; rollBack(mark: number): void; flush(): void; discard(): void };
    } = {},
  ) {}

  /** Runs `operation` in the next group's transaction; resolves its result. */
  run<T>(operation: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ run: operation, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting;
        this.waiting = [];
        let outcomes: { ok: boolean; value?: unknown; error?: unknown }[];
        let after: (() => void) | null = null;
        const tally = this.hooks.tally;
        try {
          ({ outcomes, after } = this.storage.transactionSync(() => {
            tally?.begin();
            const ran = {
              outcomes: group.map((op) => {
                const mark = tally?.mark() ?? 0;
                try {
                  return { ok: true, value: this.storage.transactionSync(op.run) };
                } catch (error) {
                  tally?.rollBack(mark);
                  this.hooks.onOpRollback?.(error);
                  return { ok: false, error };
                }
              }),
              after: this.settleGroup(),
            };
            tally?.flush();
            return ran;
          }));
        } catch (error) {
          tally?.discard();
          outcomes = group.map(() => ({ ok: false, error }));
          this.hooks.onRollback?.();
        }
        try {
          after?.();
        } catch (error) {
          logEvent("internal_error", { during: "group settle", error: String(error) });
        }
        group.forEach((op, i) => (outcomes[i].ok ? op.resolve(outcomes[i].value) : op.reject(outcomes[i].error)));
        // Requests that come while this group is being committed gather for the next one.
        await this.storage.sync().catch(() => {});
      }
    } finally {
      this.running = false;
    }
  }

  /** The group's `settle`; one that throws is rolled back alone and logged, and the group commits without it. */
  private settleGroup(): (() => void) | null {
    const settle = this.hooks.settle;
    if (!settle) return null;
    const mark = this.hooks.tally?.mark() ?? 0;
    try {
      return this.storage.transactionSync(settle);
    } catch (error) {
      this.hooks.tally?.rollBack(mark);
      this.hooks.onOpRollback?.(error);
      logEvent("internal_error", { during: "group settle", error: String(error) });
      return null;
    }
  }
}
