/** @jsxImportSource hono/jsx */
/**
 * The dashboard's topics: each with its subscriptions, what it published,
 * and its outbox (the messages not yet in every queue that takes them) with
 * the age of the oldest: the fan-out's lag. A subscription that keeps
 * failing (a full queue, a missing one) is named with its last error.
 */
import type { TopicInfo, TopicStats } from "../../client/protocol";
import { formatCount, formatDuration } from "./format";

/** A topic as the dashboard lists it. */
export type TopicRow = TopicInfo & { stats: TopicStats };

export function TopicTable({ topics }: { topics: TopicRow[] }) {
  if (topics.length === 0) return <p class="empty">No topics yet: PUT /v1/topics/:topic with its subscriptions.</p>;
  return (
    <table id="topics">
      <thead>
        <tr>
          <th>Topic</th>
          <th>Subscriptions</th>
          <th class="num">Published</th>
          <th class="num">Filtered</th>
          <th class="num">Outbox</th>
          <th class="num">Outbox lag</th>
          <th>Failing</th>
        </tr>
      </thead>
      <tbody>
        {topics.map(({ name, stats }) => {
          const failing = stats.subscriptions.filter((s) => s.failures > 0);
          return (
            <tr data-topic={name}>
              <td>{name}</td>
              <td>
                {stats.subscriptions.length === 0
                  ? "–"
                  : stats.subscriptions.map((s, i) => (
                      <>
                        {i > 0 && ", "}
                        <a href={`/dashboard?queue=${encodeURIComponent(s.queue)}`}>{s.queue}</a>
                        {s.pending > 0 && <span class="muted"> ({formatCount(s.pending)} pending)</span>}
                      </>
                    ))}
              </td>
              <td class="num">{formatCount(stats.published)}</td>
              <td class="num">{formatCount(stats.filtered)}</td>
              <td class="num" data-field="pending">{formatCount(stats.pending)}</td>
              <td class="num" data-field="lag">{formatDuration(stats.oldestPendingAgeMs)}</td>
              <td class="error">
                {failing.length === 0 ? "–" : failing.map((s) => `${s.queue}: ${s.lastError ?? "failing"} (${s.failures}×)`).join("; ")}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
