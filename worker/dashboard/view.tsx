/** @jsxImportSource hono/jsx */
/**
 * The dashboard's data, rendered on the server as an HTML fragment: the
 * queues, and for the selected one its figures, charts of the last hour and
 * dead letters. The page's script fetches it with the token and swaps it in.
 */
import { PUSH_FAILURE_CLASSES, type DeadLetter, type PushConfig, type PushStats, type QueueConfig, type QueueStats } from "../../client/protocol";
import { Chart } from "./charts";
import { formatCount, formatDuration, formatLatency } from "./format";
import { TopicTable, type TopicRow } from "./topics";

/** A queue as the dashboard lists it. */
export interface QueueRow {
  name: string;
  config: QueueConfig;
  stats: QueueStats;
}

/** A dead letter as listed: body still JSON text. */
export type DeadLetterRow = Omit<DeadLetter, "body" | "attributes"> & { body: string };

const Status = ({ stats, paused }: { stats: QueueStats; paused: boolean }) => (
  <>
    <span class={`badge ${stats.status}`}>{stats.status}</span>
    {paused && <span class="badge paused">paused</span>}
    {stats.push?.pausedUntil != null && (
      <span class="badge paused" data-field="pushPaused">
        push held by Retry-After
      </span>
    )}
  </>
);

function QueueTable({ queues, selected }: { queues: QueueRow[]; selected: string | null }) {
  if (queues.length === 0) {
    return <p class="empty">No queues yet: enqueue a message to create one.</p>;
  }
  return (
    <table id="queues">
      <thead>
        <tr>
          <th>Queue</th>
          <th>Status</th>
          <th class="num">Depth</th>
          <th class="num">Ready</th>
          <th class="num">In flight</th>
          <th class="num">Dead letters</th>
          <th class="num">Oldest ready</th>
          <th class="num">In / out per min</th>
        </tr>
      </thead>
      <tbody>
        {queues.map(({ name, config, stats }) => (
          <tr data-queue={name} class={name === selected ? "selected" : ""}>
            <td>
              <a href={`/dashboard?queue=${encodeURIComponent(name)}`}>{name}</a>
            </td>
            <td>
              <Status stats={stats} paused={config.paused} />
            </td>
            <td class="num" data-field="depth">{formatCount(stats.depth)}</td>
            <td class="num">{formatCount(stats.ready)}</td>
            <td class="num" data-field="inFlight">{formatCount(stats.inFlight)}</td>
            <td class="num" data-field="deadLetters">{formatCount(stats.deadLetters)}</td>
            <td class="num">{formatDuration(stats.oldestReadyAgeMs)}</td>
            <td class="num">
              {formatCount(stats.trend.inPerMinute)} / {formatCount(stats.trend.outPerMinute)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const Tile = ({ label, value }: { label: string; value: string }) => (
  <div class="tile">
    <span>{label}</span>
    <b>{value}</b>
  </div>
);

/** Push delivery at a glance: where to, how many, how they failed, how fast the target answers, whether Retry-After holds it. */
function PushTiles({ push, stats, now }: { push: PushConfig; stats: PushStats; now: number }) {
  const failed = PUSH_FAILURE_CLASSES.map((c) => `${c} ${formatCount(stats.failures[c])}`).join(" · ");
  return (
    <div id="push">
      <h3>Push to {push.url ?? `Worker ${push.service}`}</h3>
      <div class="tiles">
        <Tile label="Deliveries" value={formatCount(stats.deliveries)} />
        <Tile label="Failures" value={failed} />
        <Tile label="Answer p50 / p95" value={`${formatLatency(stats.latency.p50)} / ${formatLatency(stats.latency.p95)}`} />
        <Tile label="Retry-After" value={stats.pausedUntil === null ? "–" : `held ${formatDuration(stats.pausedUntil - now)} more`} />
      </div>
    </div>
  );
}

function QueueDetail({ queue, deadLetters, now }: { queue: QueueRow; deadLetters: DeadLetterRow[]; now: number }) {
  const { name, config, stats } = queue;
  const minutes = stats.minutes;
  const drain = stats.trend.drainEstimateMs;
  return (
    <section class="card" id="detail" data-queue={name}>
      <h2>
        {name} <Status stats={stats} paused={config.paused} />
        <span class="actions">
          {config.paused ? (
            <button type="button" data-action="resume" data-queue={name}>
              Resume
            </button>
          ) : (
            <button type="button" data-action="pause" data-queue={name}>
              Pause
            </button>
          )}
        </span>
      </h2>
      {stats.reason && <p class="reason">{stats.reason}</p>}
      <div class="tiles">
        <Tile label="Depth" value={formatCount(stats.depth)} />
        <Tile label="Ready" value={formatCount(stats.ready)} />
        <Tile label="Delayed" value={formatCount(stats.delayed)} />
        <Tile label="In flight" value={formatCount(stats.inFlight)} />
        <Tile label="Dead letters" value={formatCount(stats.deadLetters)} />
        <Tile label="Oldest ready" value={formatDuration(stats.oldestReadyAgeMs)} />
        <Tile label="Net / min" value={`${stats.trend.netPerMinute > 0 ? "+" : ""}${formatCount(stats.trend.netPerMinute)}`} />
        <Tile label="Drains in" value={drain === null ? "–" : formatDuration(drain)} />
        <Tile label="Processing p50 / p95" value={`${formatLatency(stats.latency.deliveryToAck.p50)} / ${formatLatency(stats.latency.deliveryToAck.p95)}`} />
        <Tile label="Enqueue→ack p95" value={formatLatency(stats.latency.enqueueToAck.p95)} />
      </div>
      {config.push && stats.push && <PushTiles push={config.push} stats={stats.push} now={now} />}
      <div class="charts">
        <Chart id="depth" title="Depth" series={[{ label: "messages", color: "#7c3aed", kind: "area", values: minutes.map((m) => m.depth) }]} />
        <Chart
          id="rates"
          title="In / out per minute"
          series={[
            { label: "in", color: "#2563eb", kind: "line", values: minutes.map((m) => m.enqueued) },
            { label: "out", color: "#16a34a", kind: "line", values: minutes.map((m) => m.acked + m.deadLettered + m.purged) },
          ]}
        />
        <Chart id="retries" title="Retries per minute" series={[{ label: "retried", color: "#d97706", kind: "bars", values: minutes.map((m) => m.retried) }]} />
        <Chart
          id="dead-letters"
          title="Dead-lettered per minute"
          series={[{ label: "dead-lettered", color: "#dc2626", kind: "bars", values: minutes.map((m) => m.deadLettered) }]}
        />
      </div>
      <h3>
        Dead letters ({formatCount(stats.deadLetters)})
        {deadLetters.length > 0 && (
          <span class="actions">
            <button type="button" class="primary" data-action="redrive" data-queue={name}>
              Redrive all
            </button>
            <button type="button" class="danger" data-action="delete" data-queue={name}>
              Delete all
            </button>
          </span>
        )}
      </h3>
      {deadLetters.length === 0 ? (
        <p class="empty" id="no-dead-letters">
          No dead letters.
        </p>
      ) : (
        <table id="dead-letters">
          <thead>
            <tr>
              <th>Id</th>
              <th>Reason</th>
              <th class="num">Attempts</th>
              <th>Last error</th>
              <th>Body</th>
              <th>Died</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {deadLetters.map((d) => (
              <tr data-id={d.id}>
                <td class="mono" title={d.id}>
                  {d.id.slice(0, 8)}
                </td>
                <td>{d.reason}</td>
                <td class="num">{d.attempts}</td>
                <td class="error">{d.lastError ?? "–"}</td>
                <td class="body mono" title={d.body.slice(0, 1000)}>
                  {d.body.slice(0, 120)}
                </td>
                <td>{formatDuration(now - d.deadLetteredAt)} ago</td>
                <td class="num">
                  <span class="actions">
                    <button type="button" class="small" data-action="redrive" data-queue={name} data-id={d.id}>
                      Redrive
                    </button>
                    <button type="button" class="small danger" data-action="delete" data-queue={name} data-id={d.id}>
                      Delete
                    </button>
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The queues table, the topics with their outbox lag, then the selected queue's detail (none when there are no queues). */
export function DashboardView(props: {
  queues: QueueRow[];
  topics: TopicRow[];
  selected: QueueRow | null;
  deadLetters: DeadLetterRow[];
  now: number;
}) {
  return (
    <>
      <section class="card">
        <h2>Queues</h2>
        <QueueTable queues={props.queues} selected={props.selected?.name ?? null} />
      </section>
      {props.topics.length > 0 && (
        <section class="card">
          <h2>Topics</h2>
          <TopicTable topics={props.topics} />
        </section>
      )}
      {props.selected && <QueueDetail queue={props.selected} deadLetters={props.deadLetters} now={props.now} />}
    </>
  );
}
