import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_QUEUE_CONFIG } from "../client/protocol";
import { call, partition, receive, send, settle, uniqueQueue } from "./helpers";
import { fanOut, publish, putTopic } from "./topic-helpers";

const T0 = Math.ceil((Date.now() + 400 * 24 * 3600_000) / 60_000) * 60_000;
const at = (ms: number) => vi.setSystemTime(T0 + ms);

async function scrape(token = "test-admin-token") {
  return call("GET", "/metrics", undefined, { authorization: `Bearer ${token}` });
}

/** The exposition as families: HELP, TYPE and samples keyed by their label set. */
type Family = { help?: string; type?: string; samples: Map<string, number> };
function parse(text: string) {
  const families = new Map<string, Family>();
  let current = "";
  for (const line of text.trimEnd().split("\n")) {
    const meta = /^# (HELP|TYPE) (\w+) (.*)$/.exec(line);
    if (meta) {
      const f: Family = families.get(meta[2]) ?? { samples: new Map() };
      expect(f.samples.size, `${meta[1]} of ${meta[2]} comes before its samples`).toBe(0);
      if (meta[1] === "HELP") f.help = meta[3];
      else f.type = meta[3];
      families.set(meta[2], f);
      current = meta[2];
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    expect(sample, line).not.toBeNull();
    const [, name, labels = "{}", value] = sample!;
    expect(name === current || name.startsWith(`${current}_`), `${name} follows its HELP/TYPE`).toBe(true);
    families.get(current)!.samples.set(labels, Number(value));
  }
  return families;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  at(0);
});
afterEach(() => vi.useRealTimers());

describe("GET /metrics", () => {
  it("exposes every queue's figures in Prometheus' text format", async () => {
    const q = uniqueQueue("metrics");
    const config = { ...DEFAULT_QUEUE_CONFIG, maxAttempts: 1 };
    await env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry")).put(q, config);
    await partition(q).configure(config);

    // 10 in; 6 delivered: 3 acked after 2 s, 2 nacked to the dead letters, 1 still in flight; 2 delayed.
    await send(q, { messages: Array.from({ length: 8 }, (_, i) => ({ body: i })) });
    await send(q, { messages: [{ body: "later", delayMs: 600_000 }, { body: "later", delayMs: 600_000 }] });
    at(1_000);
    const got = await receive(q, { max: 6, visibilityTimeoutMs: 300_000 });
    at(3_000);
    await settle(q, "ack", { receipts: got.slice(0, 3).map((m) => m.receipt) });
    await settle(q, "nack", { receipts: got.slice(3, 5).map((m) => m.receipt), error: "bad" });
    at(10_000);

    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parse(res.text);
    const value = (name: string, labels: string) => families.get(name)?.samples.get(labels);
    const Q = `queue="${q}"`;

    for (const [name, f] of families) {
      expect(f.help, name).toBeTruthy();
      expect(f.type, name).toBe(name.endsWith("_total") ? "counter" : "gauge");
    }
    expect(value("edgeq_queue_depth", `{${Q},state="ready"}`)).toBe(2);
    expect(value("edgeq_queue_depth", `{${Q},state="delayed"}`)).toBe(2);
    expect(value("edgeq_queue_depth", `{${Q},state="in_flight"}`)).toBe(1);
    expect(value("edgeq_queue_dead_letters", `{${Q}}`)).toBe(2);
    expect(value("edgeq_queue_oldest_ready_age_seconds", `{${Q}}`)).toBe(10);
    expect(value("edgeq_queue_paused", `{${Q}}`)).toBe(0);
    expect(value("edgeq_messages_enqueued_total", `{${Q}}`)).toBe(10);
    expect(value("edgeq_messages_delivered_total", `{${Q}}`)).toBe(6);
    expect(value("edgeq_messages_acked_total", `{${Q}}`)).toBe(3);
    expect(value("edgeq_messages_retried_total", `{${Q}}`)).toBe(0);
    expect(value("edgeq_messages_dead_lettered_total", `{${Q}}`)).toBe(2);
    const p50 = value("edgeq_processing_latency_seconds", `{${Q},kind="delivery_to_ack",quantile="0.5"}`)!;
    expect(p50).toBeGreaterThan(2 / 1.19);
    expect(p50).toBeLessThan(2 * 1.19);
    const e2a = value("edgeq_processing_latency_seconds", `{${Q},kind="enqueue_to_ack",quantile="0.99"}`)!;
    expect(e2a).toBeGreaterThan(3 / 1.19);
    expect(e2a).toBeLessThan(3 * 1.19);
    expect(value("edgeq_queue_net_per_minute", `{${Q}}`)).toBe(0);
    expect(value("edgeq_queue_drain_estimate_seconds", `{${Q}}`)).toBeUndefined(); // not draining
    expect(value("edgeq_queue_status", `{${Q},status="failing"}`)).toBe(1);
    expect(value("edgeq_queue_status", `{${Q},status="ok"}`)).toBe(0);
    expect(value("edgeq_queue_status", `{${Q},status="growing"}`)).toBe(0);

    // Counters never go down, even after their minutes are pruned.
    at(3 * 3600_000);
    const later = parse((await scrape()).text);
    expect(later.get("edgeq_messages_enqueued_total")!.samples.get(`{${Q}}`)).toBe(10);
    expect(later.get("edgeq_processing_latency_seconds")!.samples.has(`{${Q},kind="delivery_to_ack",quantile="0.5"}`)).toBe(false);
  });

  it("exposes every topic's fan-out: published, filtered, the outbox and its lag, per subscription", async () => {
    const [t, a, full] = [uniqueQueue("mt"), uniqueQueue("ma"), uniqueQueue("mfull")];
    expect((await call("PUT", `/v1/queues/${full}`, { maxDepth: 1 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: a, filter: { kind: ["x"] } }, { queue: full }] });
    await publish(t, { messages: [{ body: 1, attributes: { kind: "x" }, dedupId: "d" }, { body: 2 }, { body: 3, dedupId: "d" }] });
    await fanOut(t);
    at(45_000);

    const families = parse((await scrape()).text);
    const value = (name: string, labels: string) => families.get(name)?.samples.get(labels);
    const T = `topic="${t}"`;
    for (const [name, f] of families) {
      if (!name.startsWith("edgeq_topic_")) continue;
      expect(f.help, name).toBeTruthy();
      expect(f.type, name).toBe(name.endsWith("_total") ? "counter" : "gauge");
    }
    expect(value("edgeq_topic_published_total", `{${T}}`)).toBe(2);
    expect(value("edgeq_topic_duplicates_total", `{${T}}`)).toBe(1);
    expect(value("edgeq_topic_filtered_total", `{${T}}`)).toBe(0);
    // The full queue took one of two: the other waits in the outbox since the publish, 45 s ago.
    expect(value("edgeq_topic_pending", `{${T}}`)).toBe(1);
    expect(value("edgeq_topic_oldest_pending_age_seconds", `{${T}}`)).toBe(45);
    expect(value("edgeq_topic_delivered_total", `{${T},queue="${a}"}`)).toBe(1);
    expect(value("edgeq_topic_delivered_total", `{${T},queue="${full}"}`)).toBe(1);
    expect(value("edgeq_topic_subscription_filtered_total", `{${T},queue="${a}"}`)).toBe(1);
    expect(value("edgeq_topic_subscription_pending", `{${T},queue="${a}"}`)).toBe(0);
    expect(value("edgeq_topic_subscription_pending", `{${T},queue="${full}"}`)).toBe(1);
    expect(value("edgeq_topic_subscription_oldest_pending_age_seconds", `{${T},queue="${full}"}`)).toBe(45);
    expect(value("edgeq_topic_subscription_failures", `{${T},queue="${full}"}`)).toBe(1);
    expect(value("edgeq_topic_subscription_failures", `{${T},queue="${a}"}`)).toBe(0);
  });

  it("needs the admin token or a manage token for every queue", async () => {
    expect((await call("GET", "/metrics", undefined, { authorization: "" })).status).toBe(401);
    const minted = await call("POST", "/v1/tokens", { scopes: ["manage"], queues: ["orders"] });
    expect(minted.status).toBe(201);
    expect((await scrape(minted.json.token)).status).toBe(403);
    const all = await call("POST", "/v1/tokens", { scopes: ["manage"], queues: ["*"] });
    expect((await scrape(all.json.token)).status).toBe(200);
  });
});
