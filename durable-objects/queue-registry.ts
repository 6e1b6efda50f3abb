import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../client/protocol";

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
         created_at INTEGER NOT NULL
       ) WITHOUT ROWID`,
    );
  }

  async get(name: string): Promise<QueueConfig | null> {
    const row = this.ctx.storage.sql
      .exec<{ config: string }>("SELECT config FROM queues WHERE name = ?", name)
      .toArray()[0];
    return row ? { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(row.config) } : null;
  }

  /** The queue's configuration, creating the queue with the defaults when it is new. */
  async ensure(name: string): Promise<{ config: QueueConfig; created: boolean }> {
    const existing = await this.get(name);
    if (existing) return { config: existing, created: false };
    const config = { ...DEFAULT_QUEUE_CONFIG };
    this.ctx.storage.sql.exec(
      "INSERT INTO queues (name, config, created_at) VALUES (?, ?, ?)",
      name,
      JSON.stringify(config),
      Date.now(),
    );
    return { config, created: true };
  }

  async put(name: string, config: QueueConfig): Promise<QueueConfig> {
    this.ctx.storage.sql.exec(
      `INSERT INTO queues (name, config, created_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config`,
      name,
      JSON.stringify(config),
      Date.now(),
    );
    return config;
  }

  async delete(name: string): Promise<boolean> {
    return this.ctx.storage.sql.exec("DELETE FROM queues WHERE name = ? RETURNING 1", name).toArray().length > 0;
  }

  async list(): Promise<{ name: string; config: QueueConfig }[]> {
    return this.ctx.storage.sql
      .exec<{ name: string; config: string }>("SELECT name, config FROM queues ORDER BY name")
      .toArray()
      .map((r) => ({ name: r.name, config: { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(r.config) } }));
  }
}
