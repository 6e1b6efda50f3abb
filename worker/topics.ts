/**
 * Topics, one function each, shared by the HTTP routes and the
 * service-binding entrypoint: create or change, read, list, delete, publish
 * and stats. A topic's settings, subscriptions and outbox live in its own
 * object (durable-objects/topic.ts); the registry lists the names. Inputs
 * are already checked.
 */
import { TOPIC_LIMITS, type PublishedMessage, type SendMessage, type TopicConfigPatch, type TopicInfo, type TopicStats } from "../client/protocol";
import { logEvent, type TopicItem } from "../durable-objects/contract";
import { ApiError } from "./errors";
import { checkSize } from "./produce";
import { registry } from "./queues";

/** The object of one topic. */
export const topicStub = (env: Env, topic: string) => env.TOPIC.get(env.TOPIC.idFromName(topic));

const notFound = (topic: string) => new ApiError("TOPIC_NOT_FOUND", `topic ${topic} does not exist`);

/**
 * Creates a topic or changes its settings; answers the topic and whether it
 * was created. The topic's object first (a topic exists once it has its
 * settings), then the registry's list: a failure between the two leaves a
 * topic that works but is not listed, which repeating the request mends.
 */
export async function putTopic(env: Env, name: string, patch: TopicConfigPatch): Promise<{ topic: TopicInfo; created: boolean }> {
  const result = await topicStub(env, name).configure(name, patch);
  try {
    await registry(env).addTopic(name, result.topic.createdAt);
  } catch (err) {
    logEvent("internal_error", { during: "listing a topic", topic: name, error: String(err) });
    throw new ApiError("UNAVAILABLE", `topic ${name} was saved but is not listed yet; repeat the request`);
  }
  return result;
}

/** The topic's settings and stats. */
export async function getTopic(env: Env, name: string): Promise<TopicInfo> {
  const stub = topicStub(env, name);
  const [info, stats] = await Promise.all([stub.describe(), stub.stats()]);
  if (info === null || stats === null) throw notFound(name);
  return { ...info, stats };
}

/** The topic's fan-out figures. */
export async function topicStats(env: Env, name: string): Promise<TopicStats> {
  const stats = await topicStub(env, name).stats();
  if (stats === null) throw notFound(name);
  return stats;
}

/** Topics asked for their settings at once: bounds the calls in flight. */
const TOPICS_CONCURRENCY = 16;

/**
 * Topics in name order, a page at a time, each with its stats unless
 * `stats` is false. A listed name whose object has no topic (a delete or a
 * create that stopped half-way) is left out.
 */
export async function listTopics(
  env: Env,
  opts: { limit: number; cursor?: string; stats: boolean },
): Promise<{ topics: TopicInfo[]; cursor: string | null }> {
  const names = await registry(env).listTopics(opts.cursor ?? "", opts.limit + 1);
  const more = names.length > opts.limit;
  const page = more ? names.slice(0, opts.limit) : names;
  const topics: TopicInfo[] = [];
  for (let i = 0; i < page.length; i += TOPICS_CONCURRENCY) {
    const infos = await Promise.all(
      page.slice(i, i + TOPICS_CONCURRENCY).map(async (name) => {
        const stub = topicStub(env, name);
        const [info, stats] = await Promise.all([stub.describe(), opts.stats ? stub.stats() : null]);
        return info === null ? null : { ...info, ...(stats === null ? {} : { stats }) };
      }),
    );
    for (const info of infos) if (info !== null) topics.push(info);
  }
  return { topics, cursor: more ? page[page.length - 1] : null };
}

/**
 * Every listed topic with its settings and stats, by name, for /metrics and
 * the dashboard. A topic that cannot answer is left out (and logged).
 */
export async function allTopicStats(env: Env): Promise<(TopicInfo & { stats: TopicStats })[]> {
  const names = await registry(env).listTopics();
  const out: (TopicInfo & { stats: TopicStats })[] = [];
  for (let i = 0; i < names.length; i += TOPICS_CONCURRENCY) {
    const settled = await Promise.allSettled(
      names.slice(i, i + TOPICS_CONCURRENCY).map(async (name) => {
        const stub = topicStub(env, name);
        const [info, stats] = await Promise.all([stub.describe(), stub.stats()]);
        return info === null || stats === null ? null : { ...info, stats };
      }),
    );
    settled.forEach((r, j) => {
      if (r.status === "fulfilled") {
        if (r.value !== null) out.push(r.value);
      } else logEvent("internal_error", { topic: names[i + j], during: "topic stats", error: String(r.reason) });
    });
  }
  return out;
}

/**
 * Deletes the topic: its settings, subscriptions and outbox (the subscribed
 * queues keep what they have). Its object first, then the registry's list,
 * so a DELETE that stopped half-way can be repeated.
 */
export async function deleteTopic(env: Env, name: string): Promise<void> {
  const existed = await topicStub(env, name).destroy();
  const listed = await registry(env).removeTopic(name);
  if (!existed && !listed) throw notFound(name);
}

/**
 * Publishes messages in the order given: stored in the topic's outbox in one
 * transaction, then copied to each subscribed queue whose filter takes them.
 */
export async function publishMessages(env: Env, topic: string, input: SendMessage[]): Promise<PublishedMessage[]> {
  const items: TopicItem[] = new Array(input.length);
  for (let index = 0; index < input.length; index++) {
    const m = input[index];
    const body = JSON.stringify(m.body);
    const attributes = m.attributes === undefined ? null : JSON.stringify(m.attributes);
    checkSize(body, attributes, TOPIC_LIMITS.maxMessageBytes, () => (input.length > 1 ? `messages[${index}]` : "message"));
    items[index] = {
      id: crypto.randomUUID(),
      body,
      attributes,
      delayMs: m.delayMs ?? 0,
      groupId: m.groupId ?? null,
      key: m.key ?? null,
      dedupId: m.dedupId ?? null,
    };
  }
  const outcome = await topicStub(env, topic).publish(JSON.stringify(items));
  if (!outcome.ok) throw notFound(topic);
  return outcome.results;
}
