import type { TokenClaims } from "../client/protocol";

/** Secrets are not in wrangler.toml, so `wrangler types` does not know them. */
export interface Secrets {
  /** The admin token: may do everything. */
  EDGEQ_ADMIN_TOKEN?: string;
  /** Signs and verifies scoped tokens (HS256). */
  EDGEQ_TOKEN_SECRET?: string;
  /** The SQS endpoint's access keys, `accessKeyId:secret[:scopes:queues],...` (worker/sqs/keys.ts). */
  EDGEQ_SQS_KEYS?: string;
}

/** Who made the request, once authenticated. */
export type Principal = { admin: true } | { admin: false; claims: TokenClaims };

/** The Hono environment of every route. */
export type AppEnv = { Bindings: Env & Secrets; Variables: { principal: Principal } };
