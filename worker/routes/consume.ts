import { Hono } from "hono";
import { documented } from "../openapi/describe";
import { consumeQuery } from "../schemas";
import { openStream } from "../stream";
import type { AppEnv } from "../types";
import { queryParams } from "../validate";

/** `GET /v1/queues/:queue/consume`: a consume stream, a WebSocket per partition (docs/consume-protocol.md). */
export const consume = new Hono<AppEnv>();

consume.get(
  "/",
  documented({
    operationId: "consumeStream",
    summary: "Consume over a WebSocket: messages pushed up to a prefetch, settled on the socket",
    description:
      "A WebSocket upgrade (`Upgrade: websocket`), one per partition. Offer the subprotocol `edgeq.v1`; a browser " +
      "passes its token as a second subprotocol, `bearer.<token>`. Frames are JSON text: see docs/consume-protocol.md.",
    tag: "Messages",
    answers: { 101: { description: "Switching protocols: the stream is open; the first frame is `welcome`." } },
    errors: ["QUEUE_NOT_FOUND", "CONFLICT", "UNAVAILABLE"],
  }),
);
consume.get("/", queryParams(consumeQuery), async (c) => {
  const principal = c.get("principal");
  return openStream(c.env, c.req.raw, {
    queue: c.req.param("queue")!,
    ...c.req.valid("query"),
    claims: principal.admin ? null : principal.claims,
    corsOrigins: c.env.EDGEQ_CORS_ORIGINS,
  });
});
