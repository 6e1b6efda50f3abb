/**
 * The Prometheus text exposition (format 0.0.4) of every queue's stats. Each
 * family has one HELP and one TYPE line before its samples; counters are the
 * partitions' lifetime totals, so they only go up; latency quantiles are
 * gauges over the last window (as a client library's summary would be,
 * without a sum).
 */
import { PUSH_FAILURE_CLASSES, type QueueConfig, type QueueStats, type QueueStatus } from "../client/protocol";

/** The Content-Type of the text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number };
interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: (stats: QueueStats, config: QueueConfig) => Sample[];
}

const one = (value: number, labels: Labels = {}): Sample[] => [{ labels, value }];
const STATUSES: QueueStatus[] = ["ok", "growing", "failing"];
const QUANTILES = [
  ["0.5", "p50"],
  ["0.95", "p95"],
  ["0.99", "p99"],
] as const;

const FAMILIES: Family[] = [
  {
    name: "edgeq_queue_depth",
    type: "gauge",
    help: "Messages stored in the queue, by state (ready, delayed, in_flight).",
    samples: (s) => [
      { labels: { state: "ready" }, value: s.ready },
      { labels: { state: "delayed" }, value: s.delayed },
      { labels: { state: "in_flight" }, value: s.inFlight },
    ],
  },
  {
    name: "edgeq_queue_dead_letters",
    type: "gauge",
    help: "Dead letters kept for the queue.",
    samples: (s) => one(s.deadLetters),
  },
  {
    name: "edgeq_queue_oldest_ready_age_seconds",
    type: "gauge",
    help: "Age of the oldest ready message; 0 when none is ready.",
    samples: (s) => one(s.oldestReadyAgeMs / 1000),
  },
  {
    name: "edgeq_queue_paused",
    type: "gauge",
    help: "1 when the queue is paused (accepts enqueues, delivers nothing).",
    samples: (_, c) => one(c.paused ? 1 : 0),
  },
  ...(
    [
      ["enqueued", "Messages enqueued or redriven."],
      ["delivered", "Deliveries (leases) of messages, retries included."],
      ["acked", "Messages acknowledged."],
      ["retried", "Deliveries that failed (nack or expired lease) and will be retried."],
      ["dead_lettered", "Messages moved to the dead letters."],
      ["purged", "Messages deleted by a purge."],
    ] as const
  ).map(
    ([name, help]): Family => ({
      name: `edgeq_messages_${name}_total`,
      type: "counter",
      help,
      samples: (s) => one(s.totals[name === "dead_lettered" ? "deadLettered" : name]),
    }),
  ),
  {
    name: "edgeq_processing_latency_seconds",
    type: "gauge",
    help: "Latency quantiles of the messages acked in the last 5 minutes (kind enqueue_to_ack or delivery_to_ack), within 19 %.",
    samples: (s) =>
      (
        [
          ["enqueue_to_ack", s.latency.enqueueToAck],
          ["delivery_to_ack", s.latency.deliveryToAck],
        ] as const
      ).flatMap(([kind, p]) =>
        QUANTILES.flatMap(([quantile, key]) =>
          p[key] === null ? [] : [{ labels: { kind, quantile }, value: p[key]! / 1000 }],
        ),
      ),
  },
  {
    name: "edgeq_queue_net_per_minute",
    type: "gauge",
    help: "Depth trend: messages in minus messages out per minute, over the last 5 complete minutes.",
    samples: (s) => one(s.trend.netPerMinute),
  },
  {
    name: "edgeq_queue_drain_estimate_seconds",
    type: "gauge",
    help: "Time to empty the queue at the current net rate; absent while it is not draining.",
    samples: (s) => (s.trend.drainEstimateMs === null ? [] : one(s.trend.drainEstimateMs / 1000)),
  },
  // Push delivery: only queues that push have samples.
  {
    name: "edgeq_push_deliveries_total",
    type: "counter",
    help: "Push deliveries (batches sent to the endpoint or Worker), failed ones included.",
    samples: (s) => (s.push ? one(s.push.deliveries) : []),
  },
  {
    name: "edgeq_push_failures_total",
    type: "counter",
    help: "Push deliveries that failed, by class (4xx, 5xx, timeout, network, handler).",
    samples: (s) => (s.push ? PUSH_FAILURE_CLASSES.map((c) => ({ labels: { class: c }, value: s.push!.failures[c] })) : []),
  },
  {
    name: "edgeq_push_latency_seconds",
    type: "gauge",
    help: "Quantiles of how long the endpoint or Worker took to answer a push, over the last 5 minutes, within 19 %.",
    samples: (s) =>
      s.push ? QUANTILES.flatMap(([quantile, key]) => (s.push!.latency[key] === null ? [] : [{ labels: { quantile }, value: s.push!.latency[key]! / 1000 }])) : [],
  },
  {
    name: "edgeq_push_paused",
    type: "gauge",
    help: "1 while a 429 or 503 with Retry-After holds the queue's pushes back.",
    samples: (s) => (s.push ? one(s.push.pausedUntil === null ? 0 : 1) : []),
  },
  {
    name: "edgeq_queue_status",
    type: "gauge",
    help: "1 for the queue's current status (ok, growing or failing), 0 for the others.",
    samples: (s) => STATUSES.map((status) => ({ labels: { status }, value: s.status === status ? 1 : 0 })),
  },
];

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

const formatLabels = (labels: Labels) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(",")}}`;

const formatValue = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

/** One sample line of the exposition. */
export const sampleLine = (name: string, labels: Labels, value: number): string => `${name}${formatLabels(labels)} ${formatValue(value)}`;

/** The exposition of all queues: families in a fixed order, queues by name within each. */
export function renderMetrics(queues: { name: string; config: QueueConfig; stats: QueueStats }[]): string {
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const q of queues) {
      for (const sample of family.samples(q.stats, q.config)) {
        lines.push(sampleLine(family.name, { queue: q.name, ...sample.labels }, sample.value));
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
