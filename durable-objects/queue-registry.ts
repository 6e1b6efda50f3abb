import { DurableObject } from "cloudflare:workers";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type QueueConfigPatch } from "../client/protocol";
import { runMigrations, type Migration } from "./migrations";
import { applyConfigPatch, type ConfigProblem } from "./queue-config";
import { newSigningSecret, PREVIOUS_SECRET_MS, type PushSecrets } from "./push/settings";

/** A queue as the registry keeps it. `version` grows with every change, so partitions can ignore a late, older push. */
export interface QueueRecord {
  name: string;
  config: QueueConfig;
  version: number;
  createdAt: number;
  /** Push delivery's secrets (header values, signing secrets): for the partitions, never for an answer. Null without push to an endpoint. */
  pushSecrets: PushSecrets | null;
  /** When the queue was created or last changed, ms. */
  modifiedAt: number;
  /**
   * The queue's settings that only its SQS face uses (worker/sqs/), as SQS
   * attribute name -> value; the partitions never see them. Default none.
   */
  sqsAttributes: Record<string, string>;
}

type Row = {
  name: string;
  config: string;
  version: number;
  created_at: number;
  modified_at: number | null;
  sqs_attributes: string;
  headers: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_expires_at: number | null;
};

/** A queue's row with its push secrets, if any. */
const SELECT = `SELECT q.name, q.config, q.version, q.created_at, q.modified_at, q.sqs_attributes,
                       p.headers, p.secret, p.previous_secret, p.previous_expires_at
                FROM queues q LEFT JOIN push_targets p ON p.name = q.name`;

const toRecord = (r: Row): QueueRecord => ({
  name: r.name,
  config: { ...DEFAULT_QUEUE_CONFIG, ...JSON.parse(r.config) },
  version: r.version,
  createdAt: r.created_at,
  modifiedAt: r.modified_at ?? r.created_at,
  sqsAttributes: JSON.parse(r.sqs_attributes),
  pushSecrets:
    r.secret === null
      ? null
      : {
          headers: JSON.parse(r.headers ?? "{}"),
          signingSecrets: [
            { secret: r.secret, expiresAt: null },
            ...(r.previous_secret === null ? [] : [{ secret: r.previous_secret, expiresAt: r.previous_expires_at }]),
          ],
        },
});

/** The rule of a configuration that needs the queue's name: its dead letters cannot go to itself. */
function checked<T extends { config: QueueConfig } | { problem: ConfigProblem }>(name: string, applied: T): T | { problem: ConfigProblem } {
  if ("config" in applied && applied.config.deadLetterQueue === name) {
    return { problem: { code: "INVALID_VALUE", message: "deadLetterQueue: a queue cannot be its own dead-letter queue" } };
  }
  return applied;
}

/** Adds a column unless it is there (a registry of a development build may have it already). */
const addColumn = (sql: SqlStorage, column: string, definition: string) => {
  const has = sql.exec<{ name: string }>("PRAGMA table_info(queues)").toArray().some((c) => c.name === column);
  if (!has) sql.exec(`ALTER TABLE queues ADD COLUMN ${column} ${definition}`);
};

/** The schema as numbered steps, only ever appended; `registry_schema` says how many ran. */
const MIGRATIONS: readonly Migration[] = [
  // IF NOT EXISTS: a registry from before the migrations has this table already.
  `CREATE TABLE IF NOT EXISTS queues (
     name TEXT PRIMARY KEY,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // Versions order configuration pushes; `deleting` marks a queue whose partitions are being deleted.
  (sql) => {
    addColumn(sql, "version", "INTEGER NOT NULL DEFAULT 1");
    addColumn(sql, "deleting", "INTEGER NOT NULL DEFAULT 0");
  },
  // The names of the topics, for listing them; each topic's object holds its settings.
  `CREATE TABLE topics (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // Push delivery's secrets, kept apart from the configuration that GET shows: the
  // endpoint's extra headers, its signing secret and, after a rotation, the previous one.
  `CREATE TABLE push_targets (
     name TEXT PRIMARY KEY,
     headers TEXT NOT NULL,                -- JSON object, lower-case names
     secret TEXT NOT NULL,                 -- whsec_...
     previous_secret TEXT,
     previous_expires_at INTEGER           -- ms; the previous secret signs until then
   ) WITHOUT ROWID`,
  // When a queue last changed (SQS's LastModifiedTimestamp), and the settings only its SQS face uses.
  `ALTER TABLE queues ADD COLUMN modified_at INTEGER;
   ALTER TABLE queues ADD COLUMN sqs_attributes TEXT NOT NULL DEFAULT '{}';`,
];

/**
 * The list of queues and their configuration: one object for the whole
 * deployment, read only when a queue is created, changed, listed, or when a
 * worker isolate's short cache of it runs out; never once per message. It
 * also lists the topics by name (a topic's settings live in its own object).
 *
 * A deleted queue stays as a tombstone (`deleting`) until every partition
 * has deleted its storage, so a DELETE that failed half-way can be
 * repeated. A tombstoned queue does not exist for any reader; creating it
 * again replaces the tombstone.
 */
export class QueueRegistry extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    runMigrations(ctx.storage, MIGRATIONS, "registry_schema");
  }

  private read(name: string): QueueRecord | null {
    const row = this.ctx.storage.sql.exec<Row>(`${SELECT} WHERE q.name = ? AND q.deleting = 0`, name).toArray()[0];
    return row ? toRecord(row) : null;
  }

  /**
   * The next version of a queue: above any it had, a tombstoned earlier life
   * included, and above the clock, so a queue created again outranks
   * whatever a partition kept from before.
   */
  private nextVersion(name: string): number {
    const row = this.ctx.storage.sql.exec<{ version: number }>("SELECT version FROM queues WHERE name = ?", name).toArray()[0];
    return Math.max((row?.version ?? 0) + 1, Date.now());
  }

  private write(record: QueueRecord): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO queues (name, config, created_at, version, deleting, modified_at, sqs_attributes) VALUES (?, ?, ?, ?, 0, ?, ?)
       ON CONFLICT (name) DO UPDATE SET config = excluded.config, created_at = excluded.created_at,
                                        version = excluded.version, deleting = 0, modified_at = excluded.modified_at,
                                        sqs_attributes = excluded.sqs_attributes`,
      record.name,
      JSON.stringify(record.config),
      record.createdAt,
      record.version,
      record.modifiedAt,
      JSON.stringify(record.sqsAttributes),
    );
  }

  async get(name: string): Promise<QueueRecord | null> {
    return this.read(name);
  }

  /** The queue, creating it with the defaults when it is new. */
  async ensure(name: string): Promise<{ record: QueueRecord; created: boolean }> {
    const existing = this.read(name);
    if (existing) return { record: existing, created: false };
    this.ctx.storage.sql.exec("DELETE FROM push_targets WHERE name = ?", name); // of an earlier life
    const now = Date.now();
    const record: QueueRecord = {
      name,
      config: { ...DEFAULT_QUEUE_CONFIG },
      version: this.nextVersion(name),
      createdAt: now,
      pushSecrets: null,
      modifiedAt: now,
      sqsAttributes: {},
    };
    this.write(record);
    return { record, created: true };
  }

  /**
   * Creates a queue with `patch` applied to the defaults and `sqsAttributes`,
   * unless it exists: then it answers the queue as it is, unchanged (SQS's
   * CreateQueue compares it with what was asked for).
   */
  async create(
    name: string,
    patch: QueueConfigPatch,
    sqsAttributes: Record<string, string>,
  ): Promise<{ record: QueueRecord; created: boolean } | { problem: ConfigProblem | { code: "QUEUE_NOT_FOUND"; message: string } }> {
    const existing = this.read(name);
    if (existing) return { record: existing, created: false };
    return this.update(name, patch, { create: true, sqsAttributes });
  }

  /**
   * Creates or changes a queue: the patch is applied to the stored
   * configuration (or the defaults) and checked here, so two concurrent
   * changes never undo each other.
   *
   * Push to an endpoint has a signing secret for as long as push targets
   * an endpoint: the change that first points it at one makes the secret
   * and answers it (`signingSecret`), once; a change of endpoint keeps it;
   * push to a Worker or no push drops it.
   */
  async update(
    name: string,
    patch: QueueConfigPatch,
    opts: { create: boolean; sqsAttributes?: Record<string, string> },
  ): Promise<
    | { record: QueueRecord; created: boolean; signingSecret?: string }
    | { problem: ConfigProblem | { code: "QUEUE_NOT_FOUND"; message: string } }
  > {
    const existing = this.read(name);
    if (!existing && !opts.create) return { problem: { code: "QUEUE_NOT_FOUND", message: `queue ${name} does not exist` } };
    const applied = checked(name, applyConfigPatch(existing?.config ?? { ...DEFAULT_QUEUE_CONFIG }, patch));
    if ("problem" in applied) return applied;
    const sql = this.ctx.storage.sql;
    let pushSecrets = existing?.pushSecrets ?? null;
    let signingSecret: string | undefined;
    if (!existing) sql.exec("DELETE FROM push_targets WHERE name = ?", name); // of an earlier life
    if (applied.config.push?.url === undefined) {
      if (pushSecrets !== null) sql.exec("DELETE FROM push_targets WHERE name = ?", name);
      pushSecrets = null;
    } else if (applied.pushHeaders !== undefined) {
      if (pushSecrets === null) {
        signingSecret = newSigningSecret();
        pushSecrets = { headers: applied.pushHeaders, signingSecrets: [{ secret: signingSecret, expiresAt: null }] };
        sql.exec(
          "INSERT INTO push_targets (name, headers, secret) VALUES (?, ?, ?)",
          name,
          JSON.stringify(applied.pushHeaders),
          signingSecret,
        );
      } else {
        pushSecrets = { ...pushSecrets, headers: applied.pushHeaders };
        sql.exec("UPDATE push_targets SET headers = ? WHERE name = ?", JSON.stringify(applied.pushHeaders), name);
      }
    }
    const record: QueueRecord = {
      name,
      config: applied.config,
      version: this.nextVersion(name),
      createdAt: existing?.createdAt ?? Date.now(),
      pushSecrets,
      modifiedAt: Date.now(),
      sqsAttributes: { ...existing?.sqsAttributes, ...opts.sqsAttributes },
    };
    this.write(record);
    return { record, created: !existing, ...(signingSecret === undefined ? {} : { signingSecret }) };
  }

  /**
   * A new signing secret for a queue that pushes to an endpoint. The one it
   * replaces keeps signing beside it for PREVIOUS_SECRET_MS, so an endpoint
   * can switch without dropping a delivery; one rotated out earlier stops.
   */
  async rotatePushSecret(
    name: string,
  ): Promise<{ record: QueueRecord; signingSecret: string; previousExpiresAt: number } | { problem: { code: "QUEUE_NOT_FOUND" | "CONFLICT"; message: string } }> {
    const existing = this.read(name);
    if (!existing) return { problem: { code: "QUEUE_NOT_FOUND", message: `queue ${name} does not exist` } };
    if (existing.pushSecrets === null) {
      return { problem: { code: "CONFLICT", message: `queue ${name} does not push to an endpoint: only an endpoint's deliveries are signed` } };
    }
    const signingSecret = newSigningSecret();
    const previousExpiresAt = Date.now() + PREVIOUS_SECRET_MS;
    const previous = existing.pushSecrets.signingSecrets[0].secret;
    this.ctx.storage.sql.exec(
      "UPDATE push_targets SET secret = ?, previous_secret = ?, previous_expires_at = ? WHERE name = ?",
      signingSecret,
      previous,
      previousExpiresAt,
      name,
    );
    const record: QueueRecord = {
      ...existing,
      version: this.nextVersion(name),
      pushSecrets: {
        headers: existing.pushSecrets.headers,
        signingSecrets: [
          { secret: signingSecret, expiresAt: null },
          { secret: previous, expiresAt: previousExpiresAt },
        ],
      },
    };
    this.write(record);
    return { record, signingSecret, previousExpiresAt };
  }

  /** Stores a whole configuration as is (tests and tools; the API goes through `update`, which checks it). */
  async put(name: string, config: QueueConfig): Promise<QueueConfig> {
    const existing = this.read(name);
    this.write({
      name,
      config,
      version: this.nextVersion(name),
      createdAt: existing?.createdAt ?? Date.now(),
      pushSecrets: existing?.pushSecrets ?? null,
      modifiedAt: Date.now(),
      sqsAttributes: existing?.sqsAttributes ?? {},
    });
    return config;
  }

  /**
   * Marks the queue deleted (it no longer exists for any reader) and answers
   * what it was, also when an earlier delete did not finish; null when there
   * is no such queue. `forget` removes the tombstone once the partitions
   * are empty.
   */
  async delete(name: string): Promise<QueueRecord | null> {
    const sql = this.ctx.storage.sql;
    const marked = sql.exec("UPDATE queues SET deleting = 1 WHERE name = ? RETURNING name", name).toArray();
    if (marked.length === 0) return null;
    return toRecord(sql.exec<Row>(`${SELECT} WHERE q.name = ?`, name).one());
  }

  /** Removes a tombstone, unless the queue was created again meanwhile (its version then differs). */
  async forget(name: string, version: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    const gone = sql.exec("DELETE FROM queues WHERE name = ? AND version = ? AND deleting = 1", name, version).rowsWritten;
    if (gone > 0) sql.exec("DELETE FROM push_targets WHERE name = ?", name);
  }

  /**
   * Queues in name order, after `after`; all of them unless `limit` (SQLite
   * reads -1 as no limit); only those whose name starts with `prefix` when given.
   */
  async list(after = "", limit = -1, prefix = ""): Promise<QueueRecord[]> {
    return this.ctx.storage.sql
      .exec<Row>(
        `${SELECT} WHERE q.name > ? AND q.deleting = 0 AND substr(q.name, 1, ?) = ? ORDER BY q.name LIMIT ?`,
        after,
        prefix.length,
        prefix,
        limit,
      )
      .toArray()
      .map(toRecord);
  }

  /** Lists a topic (again); its creation time is kept when it is listed already. */
  async addTopic(name: string, createdAt: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO topics (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, createdAt);
  }

  /** Stops listing a topic; answers whether it was listed. */
  async removeTopic(name: string): Promise<boolean> {
    return this.ctx.storage.sql.exec("DELETE FROM topics WHERE name = ? RETURNING name", name).toArray().length > 0;
  }

  /** Topic names in order, after `after`; all of them unless `limit` (SQLite reads -1 as no limit). */
  async listTopics(after = "", limit = -1): Promise<string[]> {
    return this.ctx.storage.sql
      .exec<{ name: string }>("SELECT name FROM topics WHERE name > ? ORDER BY name LIMIT ?", after, limit)
      .toArray()
      .map((r) => r.name);
  }
}
