/**
 * Topics in tests: the topic's object, its routes, and a queue's whole
 * content read with peek (nothing leased), so that a test can count the
 * copies each subscribed queue holds.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { expect } from "vitest";
import type { PublishResponse, TopicInfo, TopicStats } from "../client/protocol";
import type { Topic } from "../durable-objects/topic";
import { call, get, post } from "./helpers";

/** A topic's object. */
export const topicObject = (topic: string) => env.TOPIC.get(env.TOPIC.idFromName(topic)) as DurableObjectStub<Topic>;

export async function putTopic(topic: string, config: unknown): Promise<TopicInfo> {
  const res = await call("PUT", `/v1/topics/${topic}`, config);
  expect([200, 201], res.text).toContain(res.status);
  return res.json as TopicInfo;
}

export async function publish(topic: string, body: unknown): Promise<PublishResponse> {
  const res = await post(`/v1/topics/${topic}/messages`, body);
  expect(res.status, res.text).toBe(201);
  return res.json as PublishResponse;
}

export async function topicStats(topic: string): Promise<TopicStats> {
  const res = await get(`/v1/topics/${topic}/stats`);
  expect(res.status, res.text).toBe(200);
  return res.json as TopicStats;
}

/**
 * Runs the topic's alarm until it has none left due (the clock is fake and
 * far ahead, so the runtime never fires it on its own): the fan-out of
 * everything published, up to failed deliveries that wait for their retry.
 */
export async function fanOut(topic: string, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) if (!(await runDurableObjectAlarm(topicObject(topic)))) return;
}

export interface StoredCopy {
  id: string;
  body: any;
  attributes: Record<string, string>;
  groupId?: string;
  visibleAt: number;
  enqueuedAt: number;
}

/** Every message stored in a queue, in delivery order per partition (peek: nothing is leased). */
export async function queueContents(queue: string): Promise<StoredCopy[]> {
  const out: StoredCopy[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const res = await get(`/v1/queues/${queue}/messages?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    if (res.status === 404) return out;
    expect(res.status, res.text).toBe(200);
    out.push(...res.json.messages);
    cursor = res.json.cursor;
    if (!cursor) break;
  }
  return out;
}
