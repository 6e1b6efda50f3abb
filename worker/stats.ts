/**
 * Turns the partitions' raw figures into a queue's stats: merged counts, the
 * per-minute series with the depth at each minute's end, latency
 * percentiles, the trend, a drain estimate and a status. Pure functions: the
 * partitions count, this file only adds and divides.
 */
import {
  PUSH_FAILURE_CLASSES,
  type CounterTotals,
  type LatencyPercentiles,
  type MinuteStats,
  type PushStats,
  type QueueStats,
  type QueueStatus,
} from "../client/protocol";
import {
  COUNTER_RETENTION_MINUTES,
  LATENCY_WINDOW_MINUTES,
  minuteOf,
  quantileMs,
  type CounterName,
  type LatencyKind,
  type MessageCounterName,
  type PartitionStats,
} from "../durable-objects/contract";

/** When a queue is `growing` or `failing`. Tuned for "look now", not for paging. */
export const STATUS_RULES = {
  /** Complete minutes the trend averages over. */
  trendMinutes: 5,
  /** `growing`: the depth grew in each of this many complete minutes in a row. */
  growingMinutes: 3,
  /** `failing` looks at this many minutes, the current one included. */
  failingWindowMinutes: 5,
  /** `failing`: at least this many dead-lettered in the window. */
  failingDeadLettered: 1,
  /** `failing`: at least this many retries in the window... */
  failingRetries: 10,
  /** ...that are at least this share of the deliveries. */
  failingRetryShare: 0.5,
} as const;

const FIELD: Record<MessageCounterName, keyof CounterTotals> = {
  enqueued: "enqueued",
  delivered: "delivered",
  acked: "acked",
  retried: "retried",
  dead_lettered: "deadLettered",
  purged: "purged",
};

const zeroTotals = (): CounterTotals => ({
  enqueued: 0,
  delivered: 0,
  acked: 0,
  retried: 0,
  deadLettered: 0,
  purged: 0,
});

/** In minus out: what a minute added to the depth. */
const netOf = (m: CounterTotals): number => m.enqueued - m.acked - m.deadLettered - m.purged;

function percentiles(histogram: Map<number, number>): LatencyPercentiles {
  let count = 0;
  for (const c of histogram.values()) count += c;
  return {
    count,
    p50: quantileMs(histogram, 0.5),
    p95: quantileMs(histogram, 0.95),
    p99: quantileMs(histogram, 0.99),
  };
}

const sum = (minutes: MinuteStats[]): CounterTotals =>
  minutes.reduce((t, m) => {
    for (const k of Object.keys(t) as (keyof CounterTotals)[]) t[k] += m[k];
    return t;
  }, zeroTotals());

const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function statusOf(minutes: MinuteStats[], depth: number): { status: QueueStatus; reason: string | null } {
  const rules = STATUS_RULES;
  const recent = sum(minutes.slice(-rules.failingWindowMinutes));
  const window = `in the last ${rules.failingWindowMinutes} minutes`;
  if (recent.deadLettered >= rules.failingDeadLettered) {
    const what = counted(recent.deadLettered, "message", "messages");
    return { status: "failing", reason: `${what} dead-lettered ${window}` };
  }
  if (recent.retried >= rules.failingRetries && recent.retried >= rules.failingRetryShare * recent.delivered) {
    return {
      status: "failing",
      reason: `${counted(recent.retried, "retry", "retries")} for ${counted(recent.delivered, "delivery", "deliveries")} ${window}`,
    };
  }
  const complete = minutes.slice(-1 - rules.growingMinutes, -1);
  if (depth > 0 && complete.length === rules.growingMinutes && complete.every((m) => netOf(m) > 0)) {
    const grew = complete.reduce((n, m) => n + netOf(m), 0);
    return {
      status: "growing",
      reason: `depth grew by ${grew} over the last ${rules.growingMinutes} minutes, every minute`,
    };
  }
  return { status: "ok", reason: null };
}

/** Merges the partitions' figures into the queue's stats, as of `now`. */
export function summarizeStats(parts: PartitionStats[], now: number): QueueStats {
  const ready = parts.reduce((n, p) => n + p.ready, 0);
  const delayed = parts.reduce((n, p) => n + p.delayed, 0);
  const inFlight = parts.reduce((n, p) => n + p.inFlight, 0);
  const depth = ready + delayed + inFlight;

  const current = minuteOf(now);
  const first = current - COUNTER_RETENTION_MINUTES + 1;
  const minutes: MinuteStats[] = Array.from({ length: COUNTER_RETENTION_MINUTES }, (_, i) => ({
    minute: (first + i) * 60_000,
    ...zeroTotals(),
    depth: 0,
  }));
  const totals = zeroTotals();
  const histograms: Record<LatencyKind, Map<number, number>> = {
    enqueue_to_ack: new Map(),
    delivery_to_ack: new Map(),
    push: new Map(),
  };
  const pushTotals = new Map<CounterName, number>();
  for (const p of parts) {
    for (const c of p.counters) {
      const slot = minutes[c.minute - first];
      if (slot && c.name in FIELD) slot[FIELD[c.name as MessageCounterName]] += c.count;
    }
    for (const [name, count] of Object.entries(p.totals) as [CounterName, number][]) {
      if (name in FIELD) totals[FIELD[name as MessageCounterName]] += count;
      else pushTotals.set(name, (pushTotals.get(name) ?? 0) + count);
    }
    for (const h of p.latency) histograms[h.kind].set(h.bucket, (histograms[h.kind].get(h.bucket) ?? 0) + h.count);
  }
  // The depth at the end of each minute, walking back from now: what a minute
  // added is its enqueues minus its acks, dead letters and purges.
  let depthAtEnd = depth;
  for (let i = minutes.length - 1; i >= 0; i--) {
    minutes[i].depth = Math.max(0, depthAtEnd);
    depthAtEnd -= netOf(minutes[i]);
  }

  const trendWindow = sum(minutes.slice(-1 - STATUS_RULES.trendMinutes, -1));
  const perMinute = (n: number) => Math.round((n / STATUS_RULES.trendMinutes) * 100) / 100;
  const inPerMinute = perMinute(trendWindow.enqueued);
  const outPerMinute = perMinute(trendWindow.acked + trendWindow.deadLettered + trendWindow.purged);
  const netPerMinute = Math.round((inPerMinute - outPerMinute) * 100) / 100;
  const drainEstimateMs = depth === 0 ? 0 : netPerMinute < 0 ? Math.round((depth / -netPerMinute) * 60_000) : null;

  return {
    ready,
    delayed,
    inFlight,
    deadLetters: parts.reduce((n, p) => n + p.deadLetters, 0),
    oldestReadyAgeMs: parts.reduce((n, p) => Math.max(n, p.oldestReadyAgeMs), 0),
    depth,
    minutes,
    totals,
    latency: {
      windowMs: LATENCY_WINDOW_MINUTES * 60_000,
      enqueueToAck: percentiles(histograms.enqueue_to_ack),
      deliveryToAck: percentiles(histograms.delivery_to_ack),
    },
    trend: {
      windowMinutes: STATUS_RULES.trendMinutes,
      inPerMinute,
      outPerMinute,
      netPerMinute,
      drainEstimateMs,
    },
    ...pushStats(parts, pushTotals, histograms.push),
    ...statusOf(minutes, depth),
  };
}

/** Push delivery's figures, when a partition says the queue pushes: `{push}`, else nothing. */
function pushStats(parts: PartitionStats[], totals: Map<CounterName, number>, latency: Map<number, number>): { push?: PushStats } {
  const pushing = parts.filter((p) => p.push !== undefined);
  if (pushing.length === 0) return {};
  const paused = pushing.map((p) => p.push!.pausedUntil).filter((t): t is number => t !== null);
  return {
    push: {
      deliveries: totals.get("push_deliveries") ?? 0,
      failures: Object.fromEntries(PUSH_FAILURE_CLASSES.map((c) => [c, totals.get(`push_failed_${c}`) ?? 0])) as PushStats["failures"],
      latency: percentiles(latency),
      pausedUntil: paused.length === 0 ? null : Math.max(...paused),
    },
  };
}
