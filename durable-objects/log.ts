/**
 * Structured logs: one JSON line per notable event (a batch dead-lettered, a
 * queue refusing enqueues because it is full, a topic failing to deliver
 * to a subscribed queue, receipts refused because their
 * lease was lost), never one per message. Workers Logs and `wrangler tail`
 * index the fields of a JSON line.
 */

/** The notable events; each has one level. */
export type LogEvent =
  | "dead_lettered"
  | "queue_full"
  | "lease_lost"
  | "partition_unavailable"
  | "topic_delivery_failed"
  | "forward_failed"
  | "push_failed"
  | "internal_error";

const LEVEL: Record<LogEvent, "info" | "warn" | "error"> = {
  dead_lettered: "warn",
  queue_full: "warn",
  lease_lost: "info",
  partition_unavailable: "warn",
  topic_delivery_failed: "warn",
  internal_error: "error",
  forward_failed: "warn",
  push_failed: "warn",
};

/** Writes one JSON line: level, event, the fields, and the time. */
export function logEvent(event: LogEvent, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level: LEVEL[event], event, ...fields, at: new Date().toISOString() });
  if (LEVEL[event] === "error") console.error(line);
  else if (LEVEL[event] === "warn") console.warn(line);
  else console.log(line);
}

const lastLogged = new Map<string, { at: number; suppressed: number }>();

/**
 * At most one line per `key` every `everyMs` in this isolate, with the number
 * of events left out since the last one: for events that come once per
 * request under overload (a full queue refuses every enqueue).
 */
export function logEventThrottled(
  key: string,
  event: LogEvent,
  fields: Record<string, unknown>,
  everyMs = 10_000,
): void {
  const now = Date.now();
  const last = lastLogged.get(key);
  if (last && now - last.at < everyMs) {
    last.suppressed += 1;
    return;
  }
  lastLogged.set(key, { at: now, suppressed: 0 });
  if (lastLogged.size > 1000) lastLogged.delete(lastLogged.keys().next().value!);
  logEvent(event, { ...fields, ...(last?.suppressed ? { suppressed: last.suppressed } : {}) });
}
