/**
 * The Worker's side of a consume stream (docs/consume-protocol.md): it
 * checks the upgrade, negotiates the protocol version, and forwards the
 * upgrade to the partition, whose answer (101 and the socket) it returns:
 * the socket is then held by the partition, which pushes and settles on
 * it (durable-objects/partition/streams.ts). The token was checked by the
 * authentication middleware, from the Authorization header or, for a
 * browser, the `bearer.<token>` subprotocol.
 */
import { STREAM_PROTOCOL, type TokenClaims } from "../client/protocol";
import { streamUrl } from "../durable-objects/contract";
import { offeredProtocols, originAllowed } from "./auth/middleware";
import { refusePullOnPush } from "./consume";
import { ApiError } from "./errors";
import { partitionStub, resolveQueue } from "./queues";

/** The versions of the protocol this server speaks, newest first. */
const SPOKEN = [STREAM_PROTOCOL];
const VERSION_PROTOCOL = /^edgeq\.v\d+$/;

export interface OpenStream {
  queue: string;
  partition: number;
  prefetch: number;
  /** Default the queue's visibilityTimeoutMs. */
  visibilityTimeoutMs?: number;
  /** The scoped token's claims; null for the admin token. */
  claims: TokenClaims | null;
  /** EDGEQ_CORS_ORIGINS: the browser origins allowed. */
  corsOrigins: unknown;
}

/**
 * The version the upgrade asks for: `edgeq.v1` among its subprotocols, or
 * none offered (a client that sets headers may offer no subprotocol: it
 * gets version 1, and no subprotocol is answered). Refused when it offers
 * only versions this server does not speak.
 */
function negotiate(offered: string[]): string | null {
  const versions = offered.filter((p) => VERSION_PROTOCOL.test(p));
  if (versions.length === 0) return null;
  const chosen = SPOKEN.find((p) => versions.includes(p));
  if (chosen === undefined) {
    throw new ApiError("INVALID_REQUEST", `unsupported protocol version ${versions.join(", ").slice(0, 100)}; this server speaks ${SPOKEN.join(", ")}`);
  }
  return chosen;
}

/**
 * Opens a consume stream on one partition of a queue: answers the
 * partition's 101 (with the chosen subprotocol), or throws an ApiError
 * before anything is opened.
 */
export async function openStream(env: Env, request: Request, o: OpenStream): Promise<Response> {
  // A browser page may consume only from the origins it may call the API from (the token, not a cookie, is
  // what authenticates, but a page of another origin holding one must not use it here when CORS forbids it elsewhere).
  const origin = request.headers.get("origin");
  if (origin !== null && !originAllowed(o.corsOrigins, origin)) {
    throw new ApiError("FORBIDDEN", `origin ${origin.slice(0, 100)} is not allowed (EDGEQ_CORS_ORIGINS)`);
  }
  const protocol = negotiate(offeredProtocols(request));
  const config = await resolveQueue(env, o.queue);
  refusePullOnPush(o.queue, config);
  if (o.partition >= config.partitions) {
    throw new ApiError("INVALID_VALUE", `partition: queue ${o.queue} has ${config.partitions} partition${config.partitions > 1 ? "s" : ""} (0 to ${config.partitions - 1})`);
  }
  // Checked last: the same request without the upgrade says what a browser cannot read from a refused one.
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("INVALID_REQUEST", "this route is a WebSocket: send Upgrade: websocket");
  }
  const url = streamUrl({
    partition: o.partition,
    prefetch: o.prefetch,
    visibilityTimeoutMs: o.visibilityTimeoutMs ?? null,
    expiresAt: o.claims === null ? null : o.claims.exp * 1000,
  });
  const answer = await partitionStub(env, o.queue, o.partition).fetch(url, { headers: { upgrade: "websocket" } });
  if (answer.status !== 101 || !answer.webSocket) {
    throw new ApiError("UNAVAILABLE", `partition ${o.partition} did not open the stream; retry`);
  }
  return new Response(null, {
    status: 101,
    webSocket: answer.webSocket,
    headers: protocol === null ? {} : { "sec-websocket-protocol": protocol },
  });
}
