/** Scoped tokens: HS256 JWTs signed with EDGEQ_TOKEN_SECRET (hono/jwt). */
import { sign, verify } from "hono/jwt";
import { z } from "zod";
import { LIMITS, QUEUE_GRANT_PATTERN, SCOPES, type TokenClaims, type TokenResponse } from "../../client/protocol";

export const scopeList = z
  .array(z.enum(SCOPES as [string, ...string[]]))
  .min(1)
  .max(SCOPES.length)
  .refine((s) => new Set(s).size === s.length, "scopes repeat");

const queueGrant = z.string().regex(QUEUE_GRANT_PATTERN, "queue names, or a prefix ending in '*'");
const topicGrant = z.string().regex(QUEUE_GRANT_PATTERN, "topic names, or a prefix ending in '*'");

export const queueGrants = z.array(queueGrant).min(1).max(LIMITS.maxTokenQueues);
/** Topic names or patterns, as queue grants are. */
export const topicGrants = z.array(topicGrant).min(1).max(LIMITS.maxTokenQueues);

/**
 * The claims edgeq signs, checked again after the signature: a valid
 * signature over other claims is no token of ours. A token names some
 * queues or some topics (`topics` is absent from tokens that name none).
 */
const claims = z
  .object({
    scopes: scopeList,
    queues: z.array(queueGrant).max(LIMITS.maxTokenQueues),
    topics: z.array(topicGrant).max(LIMITS.maxTokenQueues).optional(),
    exp: z.number().int().positive(),
    iat: z.number().int().optional(),
  })
  .refine((c) => c.queues.length > 0 || (c.topics?.length ?? 0) > 0);

/** Signs a token; `queues` and `topics` default to none (one of them is given). */
export async function mintToken(
  secret: string,
  request: { scopes: string[]; queues?: string[]; topics?: string[]; expiresInSeconds: number },
  now = Date.now(),
): Promise<TokenResponse> {
  const iat = Math.floor(now / 1000);
  const exp = iat + request.expiresInSeconds;
  const payload = {
    scopes: request.scopes,
    queues: request.queues ?? [],
    ...(request.topics === undefined ? {} : { topics: request.topics }),
    iat,
    exp,
  };
  return { token: await sign(payload, secret, "HS256"), expiresAt: exp * 1000 };
}

/** Why a token was refused, for the 401 message. */
export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

/** The verification key, imported once per isolate (and again only if the secret changes). */
let verifyKey: { secret: string; key: Promise<CryptoKey> } | undefined;
function keyFor(secret: string): Promise<CryptoKey> {
  if (verifyKey?.secret !== secret) {
    const raw = new TextEncoder().encode(secret);
    const key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    verifyKey = { secret, key };
  }
  return verifyKey.key;
}

export async function verifyToken(token: string, secret: string): Promise<TokenCheck> {
  let payload: unknown;
  try {
    payload = await verify(token, await keyFor(secret), "HS256");
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    return { ok: false, reason: name === "JwtTokenExpired" ? "token expired" : "token is not valid" };
  }
  const parsed = claims.safeParse(payload);
  if (!parsed.success) return { ok: false, reason: "token claims are not valid" };
  return { ok: true, claims: parsed.data as TokenClaims };
}
