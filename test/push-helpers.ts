/**
 * Helpers of the push tests: the consumer Worker's log (test/consumer-worker/),
 * and firing a partition's alarm, which is what pushes.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { expect } from "vitest";
import type { Received } from "./consumer-worker/index";
import { call, partition } from "./helpers";

export type { Received };

const consumer = () => (env as unknown as { CONSUMER: Fetcher }).CONSUMER;

export async function received(queue: string): Promise<Received[]> {
  const res = await consumer().fetch(`https://consumer/__log?queue=${encodeURIComponent(queue)}`);
  return (await res.json()) as Received[];
}

/** The endpoint the tests push to over HTTP: the consumer Worker, which answers as `path` says. */
export const hook = (path = "ok") => `https://hooks.test/${path}`;

/** Sets a queue's settings (push included); answers the PUT's JSON. */
export async function configure(queue: string, body: Record<string, unknown>) {
  const res = await call("PUT", `/v1/queues/${queue}`, body);
  expect(res.status, res.text).toBeLessThan(300);
  return res.json;
}

/** Runs a partition's alarm (the pump) `times` times; answers whether each found one set. */
export async function pushNow(queue: string, times = 1, index = 0): Promise<boolean[]> {
  const fired: boolean[] = [];
  for (let i = 0; i < times; i++) fired.push(await runDurableObjectAlarm(partition(queue, index)));
  return fired;
}

/** The time the partition's alarm is set for (null: none). */
export async function alarmAt(queue: string, index = 0): Promise<number | null> {
  const { runInDurableObject } = await import("cloudflare:test");
  return runInDurableObject(partition(queue, index), (_, state) => state.storage.getAlarm());
}
