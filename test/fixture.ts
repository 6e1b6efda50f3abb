/**
 * A queue with one message in each state (ready, delayed, leased, retrying,
 * dead), and ways to look inside its partition object, so that a test can
 * act on one message and assert that the others stayed exactly as they were.
 */
import { SELF, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, expect, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { ADMIN_TOKEN, BASE, partition, receive, send, settle, uniqueQueue } from "./helpers";

/**
 * A fixed, fake clock for the tests of a file. `Date` is faked in the whole
 * isolate, so the partition objects see the same time as the test. The start
 * lies years ahead of the real clock: an alarm is then never fired by the
 * runtime on its own, only by `runDurableObjectAlarm`, and tests stay
 * deterministic.
 */
export function useFakeClock(start = Date.UTC(2031, 0, 1)) {
  let now = start;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    now = start + Math.floor(Math.random() * 1_000_000) * 1000;
    vi.setSystemTime(now);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  return {
    now: () => Date.now(),
    advance(ms: number) {
      vi.setSystemTime(Date.now() + ms);
      return Date.now();
    },
    set(ms: number) {
      vi.setSystemTime(ms);
      return ms;
    },
  };
}

export interface MessageRowView {
  seq: number;
  id: string;
  body: string;
  attributes: string | null;
  /** Deliveries that failed (a leased message is on the next one). */
  attempts: number;
  /** The lease that holds it, from the leases table; null when not leased. */
  lease_token: string | null;
  /** When that lease ends; null when not leased. */
  lease_ends_at: number | null;
  visible_at: number;
  enqueued_at: number;
  last_error: string | null;
}

export interface DeadLetterRowView {
  dl_seq: number;
  id: string;
  seq: number;
  body: string;
  attempts: number;
  reason: string;
  last_error: string | null;
  enqueued_at: number;
  dead_lettered_at: number;
}

export interface PartitionState {
  messages: MessageRowView[];
  deadLetters: DeadLetterRowView[];
  dedup: { dedup_id: string; message_id: string; seq: number; expires_at: number }[];
  alarm: number | null;
}

/** Everything the partition holds, read inside the object. */
export function inspect(queue: string, index = 0): Promise<PartitionState> {
  return runInDurableObject(partition(queue, index), async (_instance, state) => {
    const sql = state.storage.sql;
    return {
      messages: sql
        .exec<Record<string, SqlStorageValue>>(
          // lease_token: the receive's lease row that names the message (partition/leases.ts).
          `SELECT seq, id, body, attributes, attempts, visible_at, enqueued_at, last_error,
                  (SELECT l.token FROM leases l, json_each(l.items) j WHERE j.value ->> 0 = m.seq) AS lease_token,
                  (SELECT j.value ->> 1 FROM leases l, json_each(l.items) j WHERE j.value ->> 0 = m.seq) AS lease_ends_at
           FROM messages m ORDER BY seq`,
        )
        .toArray() as unknown as MessageRowView[],
      deadLetters: sql
        .exec<Record<string, SqlStorageValue>>(
          `SELECT dl_seq, id, seq, body, attempts, reason, last_error, enqueued_at, dead_lettered_at
           FROM dead_letters ORDER BY dl_seq`,
        )
        .toArray() as unknown as DeadLetterRowView[],
      dedup: sql
        .exec<Record<string, SqlStorageValue>>("SELECT * FROM dedup ORDER BY dedup_id")
        .toArray() as unknown as PartitionState["dedup"],
      alarm: await state.storage.getAlarm(),
    };
  });
}

/** Where a message is: `messages`, `dead_letters`, both or neither (the last two must never happen). */
export async function whereIs(queue: string, id: string): Promise<{ live: number; dead: number }> {
  return runInDurableObject(partition(queue), (_instance, state) => {
    const sql = state.storage.sql;
    return {
      live: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE id = ?", id).one().n,
      dead: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM dead_letters WHERE id = ?", id).one().n,
    };
  });
}

export type FixtureState = "ready" | "delayed" | "leased" | "retrying" | "dead";

export interface Fixture {
  queue: string;
  /** Message id by state. */
  ids: Record<FixtureState, string>;
  /** The current receipt of the leased message. */
  leasedReceipt: string;
  /** A receipt of the retrying message's first delivery: its lease has ended (stale). */
  retryingStaleReceipt: string;
  /** The receipt of the dead message's last delivery (the message is gone from the live table). */
  deadStaleReceipt: string;
}

/** Lengths the fixture uses; long enough that nothing moves unless a test moves the clock. */
export const FIXTURE_TIMES = {
  delayMs: 10 * 60_000,
  leaseMs: 10 * 60_000,
  retryDelayMs: 5 * 60_000,
} as const;

/**
 * Builds a queue with one message in each state, in this seq order:
 * dead (nacked until its attempts ran out), retrying (delivered once, nacked
 * with a delay), leased, ready, delayed.
 */
export async function buildFixture(prefix = "fx"): Promise<Fixture> {
  const queue = uniqueQueue(prefix);

  const dead = (await send(queue, { body: { state: "dead" } })).messages[0].id;
  let deadStaleReceipt = "";
  for (let i = 1; i <= DEFAULT_QUEUE_CONFIG.maxAttempts; i++) {
    const [m] = await receive(queue);
    expect(m.id).toBe(dead);
    deadStaleReceipt = m.receipt;
    const [r] = await settle(queue, "nack", { receipts: [m.receipt], delayMs: 0, error: `failure ${i}` });
    expect(r.ok).toBe(true);
  }

  const retrying = (await send(queue, { body: { state: "retrying" } })).messages[0].id;
  const [r1] = await receive(queue);
  expect(r1.id).toBe(retrying);
  await settle(queue, "nack", { receipts: [r1.receipt], delayMs: FIXTURE_TIMES.retryDelayMs, error: "retry me" });

  const leased = (await send(queue, { body: { state: "leased" } })).messages[0].id;
  const [l1] = await receive(queue, { visibilityTimeoutMs: FIXTURE_TIMES.leaseMs });
  expect(l1.id).toBe(leased);

  const ready = (await send(queue, { body: { state: "ready" } })).messages[0].id;
  const delayed = (await send(queue, { body: { state: "delayed" }, delayMs: FIXTURE_TIMES.delayMs })).messages[0].id;

  return {
    queue,
    ids: { ready, delayed, leased, retrying, dead },
    leasedReceipt: l1.receipt,
    retryingStaleReceipt: r1.receipt,
    deadStaleReceipt,
  };
}

/** The fixture's stats as they are right after it is built. */
export const FIXTURE_STATS = { ready: 1, delayed: 2, inFlight: 1, deadLetters: 1 } as const;

/**
 * Asserts that every message of `before` except `changed` is stored exactly
 * as it was (same table, same row), and that nothing appeared out of nowhere.
 */
export function expectUntouched(before: PartitionState, after: PartitionState, changed: string[] = []): void {
  const rows = (s: PartitionState): [string, Record<string, unknown>][] => [
    ...s.messages.map((m): [string, Record<string, unknown>] => [m.id, { table: "messages", ...m }]),
    ...s.deadLetters.map((d): [string, Record<string, unknown>] => [d.id, { table: "dead_letters", ...d }]),
  ];
  const b = new Map(rows(before));
  const a = new Map(rows(after));
  for (const [id, row] of b) {
    if (changed.includes(id)) continue;
    expect(a.get(id), `message ${id} (${row.body}) changed`).toEqual(row);
  }
  for (const id of a.keys()) {
    if (!b.has(id) && !changed.includes(id)) throw new Error(`message ${id} appeared`);
  }
}

/** A request sent as given: no content-type unless named, body as raw text. */
export async function callRaw(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
    // Bytes, not a string: fetch would add "text/plain" to a string body.
    body: body === undefined ? undefined : new TextEncoder().encode(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    /* left undefined */
  }
  return { status: res.status, headers: res.headers, json, text };
}
