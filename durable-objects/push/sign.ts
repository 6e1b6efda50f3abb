/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the
 * signature of `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256
 * under each secret that still signs, as `v1,<base64>`, space-separated.
 */
import type { PushSecrets } from "./settings";

const encoder = new TextEncoder();

const base64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

const base64url = (bytes: Uint8Array): string => base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The key bytes of a `whsec_…` secret (base64 after the prefix). */
function secretBytes(secret: string): Uint8Array {
  const raw = atob(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * A delivery's webhook-id: made from its messages' ids, so a batch retried
 * with the same messages (push-settle.ts retries a batch as one) is sent
 * under the same id, and a receiver can drop a delivery it already took.
 */
export async function webhookId(messageIds: readonly string[]): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(messageIds.join(","))));
  return `msg_${base64url(digest.subarray(0, 18))}`;
}

/** The secrets that sign at `now`: the current one, and a rotated-out one until it expires. */
export const signingSecretsAt = (secrets: PushSecrets, now: number): string[] =>
  secrets.signingSecrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);

/** The webhook-signature header's value: one `v1,<base64>` per secret, space-separated. */
export async function signatureHeader(secrets: readonly string[], id: string, timestampSeconds: number, body: string): Promise<string> {
  const content = encoder.encode(`${id}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const key = await crypto.subtle.importKey("raw", secretBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return `v1,${base64(new Uint8Array(await crypto.subtle.sign("HMAC", key, content)))}`;
    }),
  );
  return signatures.join(" ");
}
