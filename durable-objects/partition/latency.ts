/**
 * Processing latency as per-minute histograms, written in the ack's own
 * transaction with one set-based upsert per batch (never a statement per
 * message).
 *
 * Buckets are log-spaced, four per doubling: bucket i holds latencies in
 * (2^((i-1)/4), 2^(i/4)] ms, bucket 0 holds 0..1 ms. A quantile read back
 * from them is off by at most the width of one bucket (19 %), over any range
 * from a millisecond to days, in at most a few dozen rows per minute: a
 * fixed list of bounds would need either many rows or coarse answers.
 */

import { minuteOf } from "./counters";

/**
 * What a latency measures: from the enqueue or from the delivery that was
 * acked to its ack; or how long a push's endpoint or Worker took to answer.
 */
export type LatencyKind = "enqueue_to_ack" | "delivery_to_ack" | "push";

export const LATENCY_BUCKETS_PER_DOUBLING = 4;
/** 2^30 ms (12 days): longer latencies all land in this bucket. */
export const LATENCY_MAX_BUCKET = 30 * LATENCY_BUCKETS_PER_DOUBLING;
/** Histograms are kept for this many minutes; stats read the last 5. */
export const LATENCY_RETENTION_MINUTES = 60;

/** The bucket that holds a latency of `ms`: the first whose upper bound is at least `ms`. */
export function latencyBucket(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(LATENCY_MAX_BUCKET, Math.ceil(Math.log2(ms) * LATENCY_BUCKETS_PER_DOUBLING - 1e-9));
}

/** The upper bound of a bucket, in ms. */
export const bucketUpperMs = (bucket: number): number => 2 ** (bucket / LATENCY_BUCKETS_PER_DOUBLING);
/** The lower bound of a bucket, in ms (0 for bucket 0). */
export const bucketLowerMs = (bucket: number): number => (bucket === 0 ? 0 : bucketUpperMs(bucket - 1));

/** Adds acked messages' latencies to the current minute's histograms. */
export function recordLatencies(
  sql: SqlStorage,
  now: number,
  acked: { enqueuedAt: number; deliveredAt: number | null }[],
): void {
  if (acked.length === 0) return;
  const counts = new Map<string, number>();
  const add = (kind: LatencyKind, ms: number) => {
    const key = `${kind}:${latencyBucket(ms)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const m of acked) {
    add("enqueue_to_ack", now - m.enqueuedAt);
    // Rows leased before migration 2 have no delivery time: counted in enqueue_to_ack only.
    if (m.deliveredAt !== null) add("delivery_to_ack", now - m.deliveredAt);
  }
  const rows = [...counts].map(([key, count]) => {
    const [kind, bucket] = key.split(":");
    return [kind, Number(bucket), count];
  });
  sql.exec(
    `INSERT INTO latency (minute, kind, bucket, count)
     SELECT ?, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
     ON CONFLICT (minute, kind, bucket) DO UPDATE SET count = count + excluded.count`,
    minuteOf(now),
    JSON.stringify(rows),
  );
}

/** Adds one latency of `kind` to the current minute's histogram (a push delivery's: one per batch). */
export function recordLatency(sql: SqlStorage, now: number, kind: LatencyKind, ms: number): void {
  sql.exec(
    `INSERT INTO latency (minute, kind, bucket, count) VALUES (?, ?, ?, 1)
     ON CONFLICT (minute, kind, bucket) DO UPDATE SET count = count + 1`,
    minuteOf(now),
    kind,
    latencyBucket(ms),
  );
}

/** The histograms of the minutes from `fromMinute` on, summed by kind and bucket. */
export function latencyHistograms(
  sql: SqlStorage,
  fromMinute: number,
): { kind: LatencyKind; bucket: number; count: number }[] {
  return sql
    .exec<{ kind: LatencyKind; bucket: number; count: number }>(
      `SELECT kind, bucket, SUM(count) AS count FROM latency WHERE minute >= ?
       GROUP BY kind, bucket ORDER BY kind, bucket`,
      fromMinute,
    )
    .toArray();
}

/** Forgets the histograms of minutes older than LATENCY_RETENTION_MINUTES. */
export function pruneLatency(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM latency WHERE minute < ?", minuteOf(now) - LATENCY_RETENTION_MINUTES);
}

/**
 * The q-quantile (0..1) of a histogram, interpolated linearly inside the
 * bucket that holds it (as Prometheus' histogram_quantile does); null when
 * the histogram is empty.
 */
export function quantileMs(histogram: Map<number, number>, q: number): number | null {
  const buckets = [...histogram].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, c]) => sum + c, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (const [bucket, count] of buckets) {
    if (below + count >= rank) {
      const lower = bucketLowerMs(bucket);
      const upper = bucketUpperMs(bucket);
      return Math.round(lower + ((upper - lower) * (rank - below)) / count);
    }
    below += count;
  }
  return Math.round(bucketUpperMs(buckets[buckets.length - 1][0]));
}
