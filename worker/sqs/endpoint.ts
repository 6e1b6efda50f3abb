/**
 * The SQS endpoint, mounted in worker/app.ts: a POST to the origin or to a
 * queue URL is an SQS request. It is authenticated by its SigV4 signature
 * (signature.ts), not by a bearer token; its body is read in either
 * protocol (JSON or Query), the action runs, and the answer or error goes
 * back in the request's protocol. Nothing else of edgeq answers it.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../types";
import { actionOf } from "./actions";
import type { ActionContext } from "./context";
import { SqsError, toSqsError } from "./errors";
import { isJsonRequest, jsonAnswer, jsonError, parseJsonRequest } from "./json-protocol";
import { sqsKeys } from "./keys";
import { parseQueryRequest, xmlAnswer, xmlError } from "./query-protocol";
import { isSqsPath, queueOfPath } from "./queue-url";
import { verifySignature } from "./signature";

/**
 * The largest request body: a batch of SQS's largest payload (1 MiB), with
 * room for its encoding (JSON escapes, or the Query protocol's percent
 * encoding of every byte of non-ASCII text).
 */
export const MAX_SQS_REQUEST_BYTES = 4 * 1024 * 1024;

const tooLarge = () => new SqsError("RequestEntityTooLarge", `the request body is larger than ${MAX_SQS_REQUEST_BYTES} bytes`);

/** The body, read up to the limit (a body without Content-Length is counted as it streams). */
async function readBody(request: Request): Promise<ArrayBuffer> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > MAX_SQS_REQUEST_BYTES) throw tooLarge();
  if (!request.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_SQS_REQUEST_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body.buffer;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Answers SQS requests; passes every other request on. */
export const sqsEndpoint = (): MiddlewareHandler<AppEnv> =>
  async function sqsEndpoint(c, next) {
    if (!isSqsPath(c.req.method, c.req.path)) return next();
    const requestId = crypto.randomUUID();
    const request = c.req.raw;
    const json = isJsonRequest(request.headers);
    try {
      const body = await readBody(request);
      const { principal, region } = await verifySignature(request, body, sqsKeys(c.env.EDGEQ_SQS_KEYS));
      let text: string;
      try {
        text = decoder.decode(body);
      } catch {
        throw new SqsError(json ? "SerializationException" : "MalformedQueryString", "the request body is not valid UTF-8");
      }
      const url = new URL(request.url);
      const parsed = json ? parseJsonRequest(request.headers, text) : parseQueryRequest(url, text);
      const ctx: ActionContext = {
        env: c.env,
        input: parsed.input,
        principal,
        origin: url.origin,
        region,
        protocol: json ? "json" : "query",
        requestId,
        pathQueue: queueOfPath(c.req.path),
        signal: request.signal,
        waitUntil: (p) => c.executionCtx.waitUntil(p),
      };
      const result = await actionOf(parsed.action)(ctx);
      if (result instanceof Response) return result;
      return json ? jsonAnswer(result, requestId) : xmlAnswer(parsed.action, result, requestId);
    } catch (err) {
      const error = toSqsError(err);
      return json ? jsonError(error, requestId) : xmlError(error, requestId);
    }
  };
