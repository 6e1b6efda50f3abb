/**
 * Push to an HTTP endpoint: one signed POST per batch (Standard Webhooks
 * headers), and its answer read as the batch's outcome.
 */
import type { PushOutcome } from "../partition/push-settle";
import { pushedJson, retriesOf, retryAll, type PushBatch } from "./batch";
import { signatureHeader, signingSecretsAt, webhookId } from "./sign";

/** The longest pause a Retry-After may ask for; a longer one is cut to this. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/** The most of a 2xx answer read for per-message outcomes; a longer answer acks the batch. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** Retry-After as ms from `now`: seconds or an HTTP date; null when absent, unreadable or not ahead. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

/** The answer's text, or null when it is longer than `limit` bytes (the rest is not read). */
async function boundedText(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The POST body of a batch: a `PushDelivery` (client/protocol.ts). */
export const deliveryBody = (batch: PushBatch): string =>
  `{"queue":${JSON.stringify(batch.queue)},"messages":[${batch.messages.map(pushedJson).join(",")}]}`;

/**
 * POSTs a batch to its endpoint and answers how it went: a 2xx acks the
 * batch but for the messages its `results` retry; any other status, a
 * timeout (`timeoutMs`, the answer's body included) or a network error
 * retries the whole batch; a 429 or 503 with Retry-After also pauses push
 * for that long. Redirects are not followed (a 3xx fails as `4xx`).
 */
export async function postBatch(batch: PushBatch, fetcher: typeof fetch = fetch): Promise<PushOutcome> {
  const { push, secrets, messages } = batch;
  const body = deliveryBody(batch);
  const id = await webhookId(messages.map((m) => m.id));
  const started = Date.now();
  const timestamp = Math.floor(started / 1000);
  const headers: Record<string, string> = {
    ...(secrets?.headers ?? {}),
    "content-type": "application/json",
    "user-agent": "edgeq-push",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
  };
  const signing = secrets === null ? [] : signingSecretsAt(secrets, started);
  if (signing.length > 0) headers["webhook-signature"] = await signatureHeader(signing, id, timestamp, body);
  const all = retryAll(messages);
  const failed = (failure: PushOutcome["failure"], error: string, pausedUntil: number | null = null): PushOutcome => ({
    latencyMs: Date.now() - started,
    retry: all,
    error,
    failure,
    pausedUntil,
  });
  // A timer of our own, cleared once the answer is in (AbortSignal.timeout's would outlive the delivery).
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), push.timeoutMs);
  const signal = abort.signal;
  try {
    const response = await fetcher(push.url!, { method: "POST", headers, body, signal, redirect: "manual" });
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel();
      const wait = response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get("retry-after"), Date.now()) : null;
      return failed(response.status >= 500 ? "5xx" : "4xx", `HTTP ${response.status}`, wait === null ? null : Date.now() + wait);
    }
    const text = await boundedText(response, MAX_ANSWER_BYTES);
    const latencyMs = Date.now() - started;
    let answer: unknown = null;
    try {
      answer = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a plain 2xx, which acks the batch.
    }
    const retry = retriesOf(answer, messages);
    return { latencyMs, retry, error: retry.size > 0 ? "retry asked by the endpoint" : null, failure: null, pausedUntil: null };
  } catch (err) {
    if (signal.aborted) return failed("timeout", "timeout");
    return failed("network", `network error: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
  } finally {
    clearTimeout(timer);
  }
}
