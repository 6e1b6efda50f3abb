import { ERROR_STATUS, type ErrorBody, type ErrorCode } from "../client/protocol";
import { logEvent } from "../durable-objects/contract";

/** An error meant for the caller: its code is from the closed set, its message is safe to show. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The one way the worker answers an error. */
export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const body: ErrorBody = { error: { code, message } };
  return new Response(JSON.stringify(body), {
    status: ERROR_STATUS[code],
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * What the caller is told of an error thrown while serving it: an ApiError
 * as it is; a Durable Object failure the runtime marks as retryable (a reset
 * object, an overloaded one) as 503 UNAVAILABLE, so that clients back off and
 * retry instead of giving up; anything else as INTERNAL, logged, nothing of
 * it exposed.
 */
export function errorOf(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const failure = err as { retryable?: unknown; overloaded?: unknown } | null;
  if (failure?.retryable === true || failure?.overloaded === true) {
    logEvent("partition_unavailable", { error: String(err), overloaded: failure.overloaded === true });
    return new ApiError("UNAVAILABLE", "a partition could not be reached; retry", { "retry-after": "1" });
  }
  logEvent("internal_error", { error: String(err) });
  return new ApiError("INTERNAL", "internal error");
}
