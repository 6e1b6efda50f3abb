/**
 * Push delivery's settings: the checks of `push` as PUT sets it, and what
 * the configuration keeps of it (`PushConfig`, the public part). Header
 * values are kept apart by the registry with the signing secret.
 */
import { DEFAULT_PUSH, PUSH_RANGES, type PushConfig, type PushSetting } from "../../client/protocol";

/** A service binding's name as wrangler.toml allows it. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** edgeq's own bindings: never a push target. */
export const RESERVED_BINDINGS: ReadonlySet<string> = new Set(["QUEUE_PARTITION", "QUEUE_REGISTRY", "ASSETS"]);

/** Extra headers per endpoint, at most. */
export const MAX_PUSH_HEADERS = 16;

/** Headers edgeq sets itself, which a push's extra headers may not replace. */
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-length",
  "host",
  "connection",
  "transfer-encoding",
  "user-agent",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,4096}$/;

/** A push setting's problem, said with the field's path. */
export type PushProblem = { message: string };

/**
 * Checks `push` as PUT sets it and answers what the configuration keeps
 * (settings not given take DEFAULT_PUSH) and the header values, or the
 * first problem. Shapes (types, unknown fields) were checked by the route.
 */
export function checkPush(setting: PushSetting): { push: PushConfig; headers: Record<string, string> } | { problem: PushProblem } {
  const delivery = {
    batchSize: setting.batchSize ?? DEFAULT_PUSH.batchSize,
    batchWaitMs: setting.batchWaitMs ?? DEFAULT_PUSH.batchWaitMs,
    timeoutMs: setting.timeoutMs ?? DEFAULT_PUSH.timeoutMs,
  };
  for (const [field, { min, max }] of Object.entries(PUSH_RANGES) as [keyof typeof PUSH_RANGES, { min: number; max: number }][]) {
    const value = delivery[field];
    if (!Number.isInteger(value) || value < min || value > max) {
      return { problem: { message: `push.${field}: must be an integer from ${min} to ${max}` } };
    }
  }
  if ("service" in setting) {
    if (!SERVICE_NAME_PATTERN.test(setting.service) || RESERVED_BINDINGS.has(setting.service)) {
      return { problem: { message: `push.service: must name a service binding of edgeq (letters, digits, '_'), not one of its own bindings` } };
    }
    return { push: { service: setting.service, ...delivery }, headers: {} };
  }
  let url: URL;
  try {
    url = new URL(setting.url);
  } catch {
    return { problem: { message: "push.url: not a URL" } };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: { message: "push.url: must be http or https" } };
  if (url.username || url.password) {
    return { problem: { message: "push.url: credentials in a URL would be shown by GET; send them in push.headers" } };
  }
  if (setting.url.length > 2048) return { problem: { message: "push.url: longer than 2048 characters" } };
  const headers: Record<string, string> = {};
  const entries = Object.entries(setting.headers ?? {});
  if (entries.length > MAX_PUSH_HEADERS) return { problem: { message: `push.headers: at most ${MAX_PUSH_HEADERS}` } };
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) return { problem: { message: `push.headers: ${JSON.stringify(name.slice(0, 64))} is not a header name` } };
    if (RESERVED_HEADERS.has(lower)) return { problem: { message: `push.headers: ${lower} is set by edgeq` } };
    if (typeof value !== "string" || !HEADER_VALUE.test(value)) {
      return { problem: { message: `push.headers.${lower}: at most 4096 characters, no line breaks` } };
    }
    if (lower in headers) return { problem: { message: `push.headers: ${lower} is given twice` } };
    headers[lower] = value;
  }
  const headerNames = Object.keys(headers).sort();
  return { push: { url: url.toString(), ...(headerNames.length > 0 ? { headerNames } : {}), ...delivery }, headers };
}

/** What a partition needs to push that GET never shows: header values and signing secrets. */
export interface PushSecrets {
  /** Extra headers for the endpoint, by lower-case name. */
  headers: Record<string, string>;
  /** Signing secrets (`whsec_…`), current first; each signs until `expiresAt` (null: for as long as it is current). */
  signingSecrets: { secret: string; expiresAt: number | null }[];
}

/** How long a rotated-out signing secret still signs beside the new one. */
export const PREVIOUS_SECRET_MS = 24 * 60 * 60_000;

/** A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks has it. */
export function newSigningSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}
