/**
 * Topics in the Prometheus exposition (see metrics.ts): per topic, what was
 * published, deduplicated and filtered, and its outbox (the messages not yet
 * in every queue that takes them, and the age of the oldest: the fan-out's
 * lag); per subscription, what it delivered and filtered, what it still has
 * to deliver, and its failures in a row (a full queue, a missing one).
 */
import type { SubscriptionStats, TopicStats } from "../client/protocol";
import { sampleLine, type Labels } from "./metrics";

interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: (stats: TopicStats) => { labels: Labels; value: number }[];
}

const perTopic = (value: (s: TopicStats) => number) => (s: TopicStats) => [{ labels: {}, value: value(s) }];
const perSubscription = (value: (s: SubscriptionStats) => number) => (s: TopicStats) =>
  s.subscriptions.map((sub) => ({ labels: { queue: sub.queue }, value: value(sub) }));

const FAMILIES: Family[] = [
  { name: "edgeq_topic_published_total", type: "counter", help: "Messages published to the topic (duplicates not counted).", samples: perTopic((s) => s.published) },
  { name: "edgeq_topic_duplicates_total", type: "counter", help: "Publishes whose dedupId the topic had seen: nothing stored.", samples: perTopic((s) => s.duplicates) },
  { name: "edgeq_topic_filtered_total", type: "counter", help: "Messages that no subscription's filter took.", samples: perTopic((s) => s.filtered) },
  { name: "edgeq_topic_pending", type: "gauge", help: "The outbox: messages not yet in every queue that takes them.", samples: perTopic((s) => s.pending) },
  {
    name: "edgeq_topic_oldest_pending_age_seconds",
    type: "gauge",
    help: "Age of the oldest message in the outbox (the fan-out's lag); 0 when empty.",
    samples: perTopic((s) => s.oldestPendingAgeMs / 1000),
  },
  {
    name: "edgeq_topic_delivered_total",
    type: "counter",
    help: "Copies stored in the subscribed queue (once each), by queue.",
    samples: perSubscription((s) => s.delivered),
  },
  {
    name: "edgeq_topic_subscription_filtered_total",
    type: "counter",
    help: "Messages the subscription's filter did not take, by queue.",
    samples: perSubscription((s) => s.filtered),
  },
  {
    name: "edgeq_topic_subscription_pending",
    type: "gauge",
    help: "Messages the subscription takes that are not in its queue yet, by queue.",
    samples: perSubscription((s) => s.pending),
  },
  {
    name: "edgeq_topic_subscription_oldest_pending_age_seconds",
    type: "gauge",
    help: "Age of the oldest of those (the subscription's lag), by queue; 0 when none.",
    samples: perSubscription((s) => s.oldestPendingAgeMs / 1000),
  },
  {
    name: "edgeq_topic_subscription_failures",
    type: "gauge",
    help: "Deliveries to the queue that failed in a row (a full or missing queue); 0 when the last one worked.",
    samples: perSubscription((s) => s.failures),
  },
];

/** The exposition of all topics: families in a fixed order, topics by name within each. */
export function renderTopicMetrics(topics: { name: string; stats: TopicStats }[]): string {
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const t of topics) {
      for (const sample of family.samples(t.stats)) lines.push(sampleLine(family.name, { topic: t.name, ...sample.labels }, sample.value));
    }
  }
  return `${lines.join("\n")}\n`;
}
