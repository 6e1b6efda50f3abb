/**
 * Verifies edgeq's push deliveries at the receiving endpoint: the Standard
 * Webhooks signature (`webhook-signature` over `webhook-id`,
 * `webhook-timestamp` and the body, HMAC-SHA256 under the queue's signing
 * secret) and the timestamp's freshness. Web Crypto alone, no
 * dependencies: runs in Workers, Node >= 18, Deno, Bun. A separate entry
 * from the client, so a browser bundle never carries it.
 */
import type { PushDelivery } from "./protocol.js";

export type { PushAnswer, PushDelivery, PushedMessage, PushMessageResult } from "./protocol.js";

/** A delivery that did not verify: no or a bad signature, or a stale timestamp. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Options of `verify`. */
export interface VerifyOptions {
  /** How far the timestamp may be from now, in seconds, either way. Default 300 (as Standard Webhooks has it). */
  toleranceSeconds?: number;
  /** The current time in ms since the epoch. Default `Date.now()`. */
  now?: number;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

const header = (headers: HeaderSource, name: string): string | null => {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
};

function bytesOf(base64: string): Uint8Array<ArrayBuffer> {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/**
 * Checks a push delivery and answers it parsed: `headers` as received
 * (a `Headers`, or Node's lower-case header object) and `body` as the
 * exact text received. `secret` is the queue's signing secret (`whsec_…`),
 * or several (during a rotation, old and new). Throws
 * `WebhookVerificationError` when no signature matches or the timestamp is
 * off by more than `toleranceSeconds`.
 *
 * @example
 * const delivery = await verify(env.EDGEQ_SIGNING_SECRET, request.headers, await request.text());
 */
export async function verify(
  secret: string | readonly string[],
  headers: HeaderSource,
  body: string,
  options: VerifyOptions = {},
): Promise<PushDelivery> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature");
  const seconds = Number(timestamp);
  const now = (options.now ?? Date.now()) / 1000;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - seconds) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError("webhook-timestamp is too old or too new");
  }
  const content = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  const given = signatures
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => s.slice(3));
  for (const key of typeof secret === "string" ? [secret] : secret) {
    const raw = bytesOf(key.startsWith("whsec_") ? key.slice(6) : key);
    const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    for (const signature of given) {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = bytesOf(signature);
      } catch {
        continue;
      }
      // subtle.verify compares in constant time.
      if (await crypto.subtle.verify("HMAC", hmac, bytes, content)) return JSON.parse(body) as PushDelivery;
    }
  }
  throw new WebhookVerificationError("no signature matches");
}
