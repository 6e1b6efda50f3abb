/**
 * The frames of a consume stream (docs/consume-protocol.md): what a
 * consumer sends, checked here before anything runs, and what the
 * partition sends back. A frame is refused whole, with a code of the closed
 * set (client/protocol.ts), by the same rules as an HTTP request: a wrong
 * shape (not an object, an unknown type or field, a wrong type) is
 * INVALID_REQUEST, a value out of range INVALID_VALUE.
 */
import {
  LIMITS,
  RECEIPT_PATTERN,
  type ErrorCode,
  type ReceiptResult,
  type StreamServerFrame,
} from "../../client/protocol";
import type { LeaseOutcome, LeaseRef, LeasedMessage } from "../contract";

/** A frame that settles leases; its results go back under its `id`. */
export interface SettleFrame {
  type: "ack" | "nack" | "extend" | "release";
  id: number;
  receipts: string[];
  refs: LeaseRef[];
  /** nack: the retry's delay (null: the queue's backoff). */
  delayMs: number | null;
  /** nack: the error to record. */
  error: string | null;
  /** extend: the new lease length. */
  visibilityTimeoutMs: number;
}

export interface PrefetchFrame {
  type: "prefetch";
  prefetch: number;
}

/** A frame refused: nothing of it ran. `id` when the frame had a readable one. */
export interface FrameError {
  id?: number;
  code: ErrorCode;
  message: string;
}

export type ParsedFrame = { ok: true; frame: SettleFrame | PrefetchFrame } | ({ ok: false } & FrameError);

const FIELDS: Record<string, ReadonlySet<string>> = {
  ack: new Set(["type", "id", "receipts"]),
  release: new Set(["type", "id", "receipts"]),
  nack: new Set(["type", "id", "receipts", "delayMs", "error"]),
  extend: new Set(["type", "id", "receipts", "visibilityTimeoutMs"]),
  prefetch: new Set(["type", "id", "prefetch"]),
};
const TYPES = Object.keys(FIELDS).join(", ");

/** Longest nack error kept, as over HTTP. */
const MAX_ERROR_LENGTH = 4096;

class Refused extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const shape = (message: string) => new Refused("INVALID_REQUEST", message);
const value = (message: string) => new Refused("INVALID_VALUE", message);

/** A whole number within [min, max]: a non-number is a wrong shape, anything else out of range a wrong value. */
function integer(frame: Record<string, unknown>, field: string, min: number, max: number): number {
  const n = frame[field];
  if (typeof n !== "number") throw shape(`${field}: expected a number`);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw value(`${field}: a whole number from ${min} to ${max}`);
  return n;
}

/** Whether a frame of this many UTF-16 units may be over `LIMITS.maxFrameBytes` in UTF-8 (then it is measured). */
function tooLarge(text: string): boolean {
  if (text.length * 3 <= LIMITS.maxFrameBytes) return false;
  return text.length > LIMITS.maxFrameBytes || new TextEncoder().encode(text).length > LIMITS.maxFrameBytes;
}

/**
 * Reads one frame a consumer sent on the stream of `partition`. Receipts
 * must be of this partition (each stream settles its own partition's
 * leases). Never throws.
 */
export function parseFrame(data: string | ArrayBuffer, partition: number): ParsedFrame {
  if (typeof data !== "string") return { ok: false, code: "INVALID_REQUEST", message: "frames are JSON text; binary frames are not part of the protocol" };
  if (tooLarge(data)) return { ok: false, code: "PAYLOAD_TOO_LARGE", message: `a frame is at most ${LIMITS.maxFrameBytes} bytes` };
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return { ok: false, code: "INVALID_JSON", message: "the frame is not valid JSON" };
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
    return { ok: false, code: "INVALID_REQUEST", message: "a frame is a JSON object" };
  }
  const f = frame as Record<string, unknown>;
  const id = Number.isSafeInteger(f.id) && (f.id as number) >= 0 ? (f.id as number) : undefined;
  try {
    return { ok: true, frame: readFrame(f, partition) };
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return { ok: false, ...(id === undefined ? {} : { id }), code: err.code, message: err.message };
  }
}

function readFrame(f: Record<string, unknown>, partition: number): SettleFrame | PrefetchFrame {
  const type = f.type;
  if (typeof type !== "string" || !Object.hasOwn(FIELDS, type)) throw shape(`type: one of ${TYPES}`);
  const fields = FIELDS[type];
  for (const key of Object.keys(f)) {
    if (!fields.has(key)) throw shape(`unknown field "${key.length > 64 ? `${key.slice(0, 64)}...` : key}" in a ${type} frame`);
  }
  if (f.id !== undefined) integer(f, "id", 0, Number.MAX_SAFE_INTEGER);
  if (type === "prefetch") return { type, prefetch: integer(f, "prefetch", 0, LIMITS.maxPrefetch) };
  if (f.id === undefined) throw shape("id: required");
  const { receipts, refs } = readReceipts(f.receipts, partition);
  const settle: SettleFrame = {
    type: type as SettleFrame["type"],
    id: f.id as number,
    receipts,
    refs,
    delayMs: null,
    error: null,
    visibilityTimeoutMs: 0,
  };
  if (type === "nack") {
    if (f.delayMs !== undefined) settle.delayMs = integer(f, "delayMs", 0, LIMITS.maxDelayMs);
    if (f.error !== undefined) {
      if (typeof f.error !== "string") throw shape("error: expected a string");
      if (f.error.length > MAX_ERROR_LENGTH) throw value(`error: at most ${MAX_ERROR_LENGTH} characters`);
      settle.error = f.error;
    }
  }
  if (type === "extend") {
    if (f.visibilityTimeoutMs === undefined) throw shape("visibilityTimeoutMs: required");
    settle.visibilityTimeoutMs = integer(f, "visibilityTimeoutMs", LIMITS.minVisibilityTimeoutMs, LIMITS.maxVisibilityTimeoutMs);
  }
  return settle;
}

function readReceipts(list: unknown, partition: number): { receipts: string[]; refs: LeaseRef[] } {
  if (list === undefined) throw shape("receipts: required");
  if (!Array.isArray(list)) throw shape("receipts: expected an array");
  if (list.length === 0 || list.length > LIMITS.maxBatch) throw value(`receipts: 1 to ${LIMITS.maxBatch} receipts`);
  const refs: LeaseRef[] = [];
  list.forEach((receipt, i) => {
    if (typeof receipt !== "string") throw shape(`receipts[${i}]: expected a string`);
    const m = RECEIPT_PATTERN.exec(receipt);
    if (!m) throw value(`receipts[${i}]: not a receipt`);
    if (Number(m[1]) !== partition) throw value(`receipts[${i}]: a receipt of partition ${m[1]}, on the stream of partition ${partition}`);
    refs.push({ seq: Number(m[2]), token: m[3] });
  });
  return { receipts: list as string[], refs };
}

/** A leased message as wire JSON (`ReceivedMessage`); body and attributes are spliced in as stored, never parsed. */
export function messageJson(partition: number, m: LeasedMessage): string {
  const head = JSON.stringify({ id: m.id, seq: m.seq }).slice(0, -1);
  const tail = JSON.stringify({
    attempts: m.attempts,
    enqueuedAt: m.enqueuedAt,
    receipt: `${partition}.${m.seq}.${m.leaseToken}`,
    leaseExpiresAt: m.leaseExpiresAt,
    ...(m.groupId === null ? {} : { groupId: m.groupId }),
  }).slice(1);
  return `${head},"body":${m.body},"attributes":${m.attributes ?? "{}"},${tail}`;
}

/**
 * Characters of one `messages` frame, at most, beyond its first message: a
 * push of many large messages is split so that no frame comes near the
 * runtime's limit on a WebSocket message (a message is at most 1 MiB).
 */
export const MAX_PUSH_CHARS = 1024 * 1024;

/** The `messages` frames of a push, in order, each at most `MAX_PUSH_CHARS` beyond its first message. */
export function messagesFrames(partition: number, messages: LeasedMessage[]): string[] {
  const frames: string[] = [];
  let items: string[] = [];
  let chars = 0;
  const flush = () => frames.push(`{"type":"messages","messages":[${items.join(",")}]}`);
  for (const m of messages) {
    const item = messageJson(partition, m);
    if (items.length > 0 && chars + item.length > MAX_PUSH_CHARS) {
      flush();
      items = [];
      chars = 0;
    }
    items.push(item);
    chars += item.length + 1;
  }
  if (items.length > 0) flush();
  return frames;
}

/** The `results` frame of a settle frame: one result per receipt, in its order. */
export function resultsFrame(frame: SettleFrame, outcomes: LeaseOutcome[]): string {
  const results = outcomes.map((o, i): ReceiptResult => ({ receipt: frame.receipts[i], ...o }));
  return serverFrame({ type: "results", id: frame.id, results });
}

/** The `error` frame of a refused frame. */
export const errorFrame = ({ id, code, message }: FrameError): string =>
  serverFrame(id === undefined ? { type: "error", code, message } : { type: "error", id, code, message });

export const serverFrame = (frame: StreamServerFrame): string => JSON.stringify(frame);
