// The CLI's HTTP layer: one function over fetch that answers the server's
// JSON as it is (the CLI's --json prints it unchanged) and turns an error
// answer into an ApiError with the server's code. The client in client/ is
// TypeScript and unwraps answers (`send` answers a message, not the
// server's document), and it covers the message routes only; the CLI needs
// every route and the documents themselves, so it keeps this one function
// instead of a second client.

/** An error answer from edgeq: the server's code (from ERROR_STATUS in client/protocol.ts), message and HTTP status. */
export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }
}

/** No answer from edgeq at all (refused, reset, DNS), or an answer that is not edgeq's JSON. */
export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = "NetworkError";
  }
}

/** A code for an error answer that carries none (a proxy or gateway in the way), as client/index.ts picks it. */
const STATUS_CODES = { 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE", 429: "RATE_LIMITED" };

/** The codes a long-poll can answer after its 200 went out (docs/long-poll.md), with the status they have otherwise; INTERNAL is 500. */
const STREAMED_STATUS = { QUEUE_NOT_FOUND: 404, UNAVAILABLE: 503 };

/**
 * A request function for edgeq at `url` with bearer `token` (default none).
 * `request(method, path, {body, query, signal})` answers the parsed JSON of
 * a 2xx answer; it throws ApiError for an error answer and NetworkError when
 * no answer came (an abort through `signal` rethrows the AbortError).
 */
export function connect({ url, token }) {
  const base = url.replace(/\/+$/, "");
  return async function request(method, path, { body, query, signal } = {}) {
    const search = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined)).toString() : "";
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res;
    let text;
    try {
      res = await fetch(`${base}${path}${search ? `?${search}` : ""}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      const cause = error?.cause?.code ?? error?.cause?.message ?? error?.message;
      throw new NetworkError(`cannot reach ${base}${cause ? ` (${cause})` : ""}: is edgeq running there? Set EDGEQ_URL or --url`);
    }
    let json;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {}
    const error = json?.error;
    if (res.ok && !error) {
      if (json === undefined) throw new NetworkError(`${method} ${base}${path} answered ${res.status} without JSON: is ${base} edgeq?`);
      return json;
    }
    throw new ApiError(
      error?.code ?? STATUS_CODES[res.status] ?? (res.status >= 500 ? "UNAVAILABLE" : "INVALID_REQUEST"),
      error?.message ?? `HTTP ${res.status} from ${base}`,
      // A long-poll that failed after its 200 went out (docs/long-poll.md): the status its code has otherwise.
      res.ok ? (STREAMED_STATUS[error.code] ?? 500) : res.status,
    );
  };
}

/** Whether retrying could help: 429 and 5xx answers, and no answer at all. */
export const isTransient = (error) =>
  error instanceof NetworkError || (error instanceof ApiError && (error.status === 429 || error.status >= 500));
