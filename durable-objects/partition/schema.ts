/**
 * The partition's schema as numbered migrations. Migrations are only ever
 * appended: a stored version says how many have run, and the constructor
 * applies the rest inside `blockConcurrencyWhile`.
 */
import { runMigrations } from "../migrations";

const MIGRATIONS: readonly string[] = [
  // 1: messages, dead letters, dedup ids, per-minute counters, settings.
  `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- FIFO order; AUTOINCREMENT never reuses a seq
    id TEXT NOT NULL,
    body TEXT NOT NULL,                     -- JSON text, stored as sent
    attributes TEXT,                        -- JSON object text, or NULL
    group_id TEXT,
    dedup_id TEXT,
    visible_at INTEGER NOT NULL,            -- ms; ready when not leased and visible_at <= now
                                            -- (before migration 4, a leased message's lease end)
    attempts INTEGER NOT NULL DEFAULT 0,    -- failed deliveries (before migration 4: all deliveries)
    lease_token TEXT,                       -- before migration 4, set while leased; NULL since
    enqueued_at INTEGER NOT NULL,
    first_delivered_at INTEGER,
    last_error TEXT
  );
  -- Leased messages by lease end: the sweep of expired leases and the next alarm.
  -- (Dropped by migration 3.)
  CREATE INDEX messages_leases ON messages(visible_at) WHERE lease_token IS NOT NULL;
  -- Delayed and retrying messages by due time: the next alarm (wakes long-polls).
  -- Plain ready messages (visible_at = enqueued_at) stay out of it and cost no index write.
  CREATE INDEX messages_delayed ON messages(visible_at)
    WHERE lease_token IS NULL AND visible_at > enqueued_at;
  -- Per-group FIFO: is there an earlier message of this group?
  CREATE INDEX messages_group ON messages(group_id, seq) WHERE group_id IS NOT NULL;

  CREATE TABLE dead_letters (
    dl_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    group_id TEXT,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,                   -- max_attempts | expired | rejected
    last_error TEXT,
    enqueued_at INTEGER NOT NULL,
    first_delivered_at INTEGER,
    dead_lettered_at INTEGER NOT NULL
  );
  CREATE INDEX dead_letters_id ON dead_letters(id);

  CREATE TABLE dedup (
    dedup_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX dedup_expiry ON dedup(expires_at);

  CREATE TABLE counters (
    minute INTEGER NOT NULL,                -- ms since epoch / 60000
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, name)
  ) WITHOUT ROWID;

  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: stats over time. Lifetime totals beside the per-minute counters (Prometheus
  // counters must never go down, and minute buckets are pruned after an hour);
  // the time of the current delivery, for delivery-to-ack latency; per-minute
  // latency histograms with log-spaced buckets (see partition/latency.ts).
  `
  CREATE TABLE counter_totals (
    name TEXT PRIMARY KEY,
    count INTEGER NOT NULL
  ) WITHOUT ROWID;

  ALTER TABLE messages ADD COLUMN delivered_at INTEGER;

  CREATE TABLE latency (
    minute INTEGER NOT NULL,                -- ms since epoch / 60000
    kind TEXT NOT NULL,                     -- enqueue_to_ack | delivery_to_ack
    bucket INTEGER NOT NULL,                -- log-spaced bucket index (latency.ts)
    count INTEGER NOT NULL,
    PRIMARY KEY (minute, kind, bucket)
  ) WITHOUT ROWID;
  `,
  // 3: fewer rows written per message. Index entries count as rows written, and
  // messages_leases cost one more per message received: when leases end is kept
  // in memory instead (partition/leases.ts). counter_totals keeps only what the
  // pruned minutes counted; lifetime totals add the minutes kept (counters.ts),
  // so an operation writes one counter row instead of two.
  `
  DROP INDEX messages_leases;
  UPDATE counter_totals
  SET count = count - COALESCE((SELECT SUM(c.count) FROM counters c WHERE c.name = counter_totals.name), 0);
  `,
  // 4: a receive writes one lease row, not a row per message (partition/leases.ts).
  // A message row now changes only when the message ends or fails: `attempts`
  // counts the deliveries that ended without an ack, and a leased message is
  // on its (attempts + 1)th. Leases taken before this move to the new table
  // with the delivery they are on taken off `attempts`. `lease_token` stays,
  // always NULL from here on, and `delivered_at` stays unused: dropping a
  // column rewrites every row of the table, in the constructor of a partition
  // that may hold millions (messages_delayed still names lease_token).
  `
  CREATE TABLE leases (
    token TEXT PRIMARY KEY,                 -- the receive's lease token (in every receipt)
    delivered_at INTEGER,                   -- ms; when the receive leased them (NULL: leased before migration 2)
    items TEXT NOT NULL                     -- JSON [[seq, lease end ms], ...], the messages still leased
  ) WITHOUT ROWID;
  INSERT INTO leases (token, delivered_at, items)
  SELECT lease_token, MAX(delivered_at), json_group_array(json_array(seq, visible_at))
  FROM messages WHERE lease_token IS NOT NULL GROUP BY lease_token;
  UPDATE messages SET attempts = attempts - 1, visible_at = enqueued_at, lease_token = NULL
  WHERE lease_token IS NOT NULL;
  `,
  // 5: outboxes to other queues (partition/forward.ts, partition/move-tasks.ts). A dead letter of a
  // queue with a deadLetterQueue is forwarded there by the alarm and leaves this partition once that
  // queue has stored it; until then it waits here, with its retries. A message move task (SQS's
  // redrive of a dead-letter queue) moves this partition's messages to their queues of origin, one
  // leased batch at a time; the batch in hand is kept with the task, so a retry sends the same one.
  `
  ALTER TABLE dead_letters ADD COLUMN forward_to TEXT;       -- the queue it goes to; NULL: it stays here
  ALTER TABLE dead_letters ADD COLUMN forward_at INTEGER;    -- ms; when the next try is due
  ALTER TABLE dead_letters ADD COLUMN forward_failures INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX dead_letters_forward ON dead_letters(forward_at) WHERE forward_to IS NOT NULL;

  CREATE TABLE move_tasks (
    task_id TEXT PRIMARY KEY,
    destination TEXT,                       -- NULL: each message's queue of origin
    rate REAL,                              -- messages per second for this partition; NULL: as fast as it goes
    started_at INTEGER NOT NULL,
    status TEXT NOT NULL,                   -- RUNNING | CANCELLING | COMPLETED | CANCELLED | FAILED
    moved INTEGER NOT NULL DEFAULT 0,
    to_move INTEGER NOT NULL,
    failure TEXT,
    failures INTEGER NOT NULL DEFAULT 0,    -- failed tries of the batch in hand, in a row
    batch TEXT,                             -- JSON {token, seqs}: the leased batch being sent; NULL: none
    next_at INTEGER                         -- ms; when the next step is due; NULL once finished
  ) WITHOUT ROWID;
  `,
];

/** Applies the migrations that have not run yet (up to `target`, tests only), each in one transaction. */
export function migrate(storage: DurableObjectStorage, target = MIGRATIONS.length): void {
  runMigrations(storage, MIGRATIONS, "_schema", target);
}
