import { Hono } from "hono";
import { z } from "zod";
import { LIMITS } from "../../client/protocol";
import { mintToken, queueGrants, scopeList, topicGrants } from "../auth/tokens";
import { ApiError } from "../errors";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";
import { jsonBody } from "../validate";

/** `POST /v1/tokens`: admin only (worker/auth/access.ts lists no rule for it). */
export const tokens = new Hono<AppEnv>();

const tokenRequest = z
  .strictObject({
    scopes: scopeList,
    queues: queueGrants.optional(),
    topics: topicGrants.optional(),
    expiresInSeconds: z.number().int().min(1).max(LIMITS.maxTokenTtlSeconds).default(3600),
  })
  .refine((r) => r.queues !== undefined || r.topics !== undefined, { message: "name some queues or some topics", path: ["queues"] });

tokens.post(
  "/",
  documented({
    operationId: "mintToken",
    summary: "Mint a scoped token for some scopes, queues and topics",
    description: "Needs `EDGEQ_TOKEN_SECRET` (else `AUTH_NOT_CONFIGURED`).",
    tag: "Tokens",
    answers: { 201: "tokenResponse" },
  }),
);
tokens.post("/", jsonBody(tokenRequest), async (c) => {
  const secret = c.env.EDGEQ_TOKEN_SECRET;
  if (!secret) throw new ApiError("AUTH_NOT_CONFIGURED", "EDGEQ_TOKEN_SECRET is not set: scoped tokens are off");
  return c.json(await mintToken(secret, c.req.valid("json")), 201);
});
