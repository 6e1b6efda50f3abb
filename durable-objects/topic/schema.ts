/**
 * A topic's schema as numbered migrations, only ever appended (see
 * ../migrations.ts); the constructor applies the missing ones inside
 * `blockConcurrencyWhile`.
 */
import { runMigrations, type Migration } from "../migrations";

const MIGRATIONS: readonly Migration[] = [
  // 1: the outbox, the subscriptions with their cursors, dedup ids, totals, settings.
  `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- publish order; AUTOINCREMENT never reuses a seq
    id TEXT NOT NULL,
    body TEXT NOT NULL,                     -- JSON text, stored as published
    attributes TEXT,                        -- JSON object text, or NULL
    group_id TEXT,
    partition_key TEXT,
    delay_ms INTEGER NOT NULL,              -- as published; counted from published_at
    published_at INTEGER NOT NULL,
    takers TEXT NOT NULL                    -- JSON array: the subscribed queues whose filter took it
  );

  -- One row per subscription. A subscription has passed every message up to
  -- its cursor (a seq): those it takes are in its queue. A message leaves the
  -- outbox once every subscription has passed it.
  CREATE TABLE subscriptions (
    queue TEXT PRIMARY KEY,
    filter TEXT,                            -- JSON object text, or NULL: every message
    position INTEGER NOT NULL,              -- its place in the topic's list
    cursor INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    filtered INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,    -- deliveries failed in a row
    failing_since INTEGER,                  -- ms; the first of those
    retry_at INTEGER,                       -- ms; when the next delivery is tried
    last_error TEXT,
    batch_limit INTEGER NOT NULL            -- messages in its next delivery (smaller after refusals, see fan-out.ts)
  ) WITHOUT ROWID;

  CREATE TABLE dedup (
    dedup_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX dedup_expiry ON dedup(expires_at);

  CREATE TABLE totals (
    name TEXT PRIMARY KEY,                  -- published | duplicates | filtered
    count INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** Applies the migrations that have not run yet (up to `target`, default all), each in one transaction. */
export function migrate(storage: DurableObjectStorage, target = MIGRATIONS.length): void {
  runMigrations(storage, MIGRATIONS, "topic_schema", target);
}
