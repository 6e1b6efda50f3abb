import { SELF, env } from "cloudflare:test";
import type { MeteredQueuePartition } from "../bench/metered-partition";
import type { ReceiveResponse, ReceiptResponse, SendResponse } from "../client/protocol";

let counter = 0;
/** A queue name of its own for each test, so tests never share an object. */
export const uniqueQueue = (prefix = "q") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export const BASE = "http://edgeq.test";

/** The admin token bound in vitest.config.ts; every helper call sends it unless told otherwise. */
export const ADMIN_TOKEN = "test-admin-token";

export async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`${BASE}${path}`, init);
  const text = await res.text();
  let json: any = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: left undefined, the test will say so */
  }
  return { status: res.status, headers: res.headers, json, text };
}

export const post = (path: string, body?: unknown) => call("POST", path, body);
export const get = (path: string) => call("GET", path);

export async function send(queue: string, body: unknown) {
  const res = await post(`/v1/queues/${queue}/messages`, body);
  if (res.status !== 201) throw new Error(`enqueue answered ${res.status}: ${res.text}`);
  return res.json as SendResponse;
}

export async function receive(queue: string, opts: Record<string, unknown> = {}) {
  const res = await post(`/v1/queues/${queue}/messages/receive`, opts);
  if (res.status !== 200) throw new Error(`receive answered ${res.status}: ${res.text}`);
  return (res.json as ReceiveResponse).messages;
}

export async function settle(queue: string, verb: "ack" | "nack" | "extend", body: Record<string, unknown>) {
  const res = await post(`/v1/queues/${queue}/messages/${verb}`, body);
  if (res.status !== 200) throw new Error(`${verb} answered ${res.status}: ${res.text}`);
  return (res.json as ReceiptResponse).results;
}

export async function stats(queue: string) {
  return (await get(`/v1/queues/${queue}/stats`)).json as {
    ready: number;
    delayed: number;
    inFlight: number;
    deadLetters: number;
    oldestReadyAgeMs: number;
  };
}

/**
 * The partition object of a queue (partition 0 unless told). The tests run
 * the metered partition (bench/metered-worker.ts), which adds `meter()`.
 */
export const partition = (queue: string, index = 0) =>
  env.QUEUE_PARTITION.get(env.QUEUE_PARTITION.idFromName(`${queue}/${index}`)) as DurableObjectStub<MeteredQueuePartition>;
