/**
 * Mints scoped edgeq tokens on a server from EDGEQ_TOKEN_SECRET, with Web
 * Crypto alone (HS256 JWT): no dependencies, runs in Workers, Node >= 18 and
 * Deno. A separate entry from the client, so a browser bundle never carries it
 * (and a browser must never hold the secret).
 */
import type { Scope, TokenResponse } from "./protocol.js";

export type { Scope, TokenResponse } from "./protocol.js";

/** What a minted token may do. */
export interface MintOptions {
  /** `publish`, `consume` and/or `manage`. */
  scopes: Scope[];
  /** Queue names or prefix patterns ending in `*` (`orders-*`); `*` alone is every queue. Default none. */
  queues?: string[];
  /** Topic names or patterns, as for queues (a token names some queues, some topics, or both). Default none. */
  topics?: string[];
  /** Lifetime in seconds. Default 3600 (one hour). */
  expiresInSeconds?: number;
  /** The current time in ms since the epoch. Default `Date.now()`. */
  now?: number;
}

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const encodeJson = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

/**
 * Signs a scoped token with the deployment's EDGEQ_TOKEN_SECRET, as
 * `POST /v1/tokens` would, without a round trip. Give browsers short-lived,
 * publish-only tokens for their queues.
 *
 * @example
 * const { token } = await mintToken(env.EDGEQ_TOKEN_SECRET, { scopes: ["publish"], queues: ["signups"], expiresInSeconds: 300 });
 */
export async function mintToken(secret: string, options: MintOptions): Promise<TokenResponse> {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const exp = iat + (options.expiresInSeconds ?? 3600);
  const unsigned = `${encodeJson({ alg: "HS256", typ: "JWT" })}.${encodeJson({
    scopes: options.scopes,
    queues: options.queues ?? [],
    ...(options.topics === undefined ? {} : { topics: options.topics }),
    iat,
    exp,
  })}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(unsigned)));
  return { token: `${unsigned}.${base64url(signature)}`, expiresAt: exp * 1000 };
}
