import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type QueueConfigPatch } from "../client/protocol";
import { applyConfigPatch, type ConfigProblem } from "./queue-config";

/** A queue as the registry keeps it. `version` grows with every change, so partitions can ignore a late, older push. */
export interface QueueRecord {
  name: string;
  config: QueueConfig;
  version: number;
  createdAt: number;
}

type Row = { name: string; config: string; version: number; created_at: number };

const toRecord = (r: Row): QueueRecord => ({
  name: r.name,
  config: { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(r.config) },
  version: r.version,
  createdAt: r.created_at,
});

/**
 * The list of queues and their configuration: one object for the whole
 * deployment, read only when a queue is created, changed, listed, or when a
 * worker isolate's short cache of it runs out; never once per message.
 */
export class QueueRegistry extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS queues (
         name TEXT PRIMARY KEY,
         config TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         version INTEGER NOT NULL DEFAULT 1
       ) WITHOUT ROWID`,
    );
  }

  private read(name: string): QueueRecord | null {
    const row = this.ctx.storage.sql
      .exec<Row>("SELECT name, config, version, created_at FROM queues WHERE name = ?", name)
      .toArray()[0];
    return row ? toRecord(row) : null;
  }

  async get(name: string): Promise<QueueRecord | null> {
    return this.read(name);
  }

  /** The queue, creating it with the defaults when it is new. */
  async ensure(name: string): Promise<{ record: QueueRecord; created: boolean }> {
    const existing = this.read(name);
    if (existing) return { record: existing, created: false };
    const record: QueueRecord = { name, config: { ...DEFAULT_QUEUE_CONFIG }, version: 1, createdAt: Date.now() };
    this.ctx.storage.sql.exec(
      "INSERT INTO queues (name, config, created_at, version) VALUES (?, ?, ?, 1)",
      name,
      JSON.stringify(record.config),
      record.createdAt,
    );
    return { record, created: true };
  }

  /**
   * Creates or changes a queue: the patch is applied to the stored
   * configuration (or the defaults) and checked here, so two concurrent
   * changes never undo each other.
   */
  async update(
    name: string,
    patch: QueueConfigPatch,
    opts: { create: boolean },
  ): Promise<{ record: QueueRecord; created: boolean } | { problem: ConfigProblem | { code: "QUEUE_NOT_FOUND"; message: string } }> {
    const existing = this.read(name);
    if (!existing && !opts.create) return { problem: { code: "QUEUE_NOT_FOUND", message: `queue ${name} does not exist` } };
    const applied = applyConfigPatch(existing?.config ?? { ...DEFAULT_QUEUE_CONFIG }, patch);
    if ("problem" in applied) return applied;
    const record: QueueRecord = {
      name,
      config: applied.config,
      version: (existing?.version ?? 0) + 1,
      createdAt: existing?.createdAt ?? Date.now(),
    };
    this.ctx.storage.sql.exec(
      `INSERT INTO queues (name, config, created_at, version) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config, version = excluded.version`,
      name,
      JSON.stringify(record.config),
      record.createdAt,
      record.version,
    );
    return { record, created: !existing };
  }

  /** Stores a whole configuration as is (tests and tools; the API goes through `update`, which checks it). */
  async put(name: string, config: QueueConfig): Promise<QueueConfig> {
    const existing = this.read(name);
    this.ctx.storage.sql.exec(
      `INSERT INTO queues (name, config, created_at, version) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config, version = excluded.version`,
      name,
      JSON.stringify(config),
      existing?.createdAt ?? Date.now(),
      (existing?.version ?? 0) + 1,
    );
    return config;
  }

  /** Removes the queue's entry and answers what it was (null when there was none). */
  async delete(name: string): Promise<QueueRecord | null> {
    const row = this.ctx.storage.sql
      .exec<Row>("DELETE FROM queues WHERE name = ? RETURNING name, config, version, created_at", name)
      .toArray()[0];
    return row ? toRecord(row) : null;
  }

  /** Queues in name order, after `after`; all of them unless `limit` (SQLite reads -1 as no limit). */
  async list(after = "", limit = -1): Promise<QueueRecord[]> {
    return this.ctx.storage.sql
      .exec<Row>(
        "SELECT name, config, version, created_at FROM queues WHERE name > ? ORDER BY name LIMIT ?",
        after,
        limit,
      )
      .toArray()
      .map(toRecord);
  }
}
