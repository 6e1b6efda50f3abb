// `edgeq stats QUEUE [--watch]`: a queue's figures as a table; watching,
// redrawn every few seconds with sparklines of the last hour.
import { duration, sparkline, table } from "../format.mjs";
import { isTransient } from "../http.mjs";
import { integer } from "../options.mjs";
import { sleep, stopOnSignal } from "../stop.mjs";

const percentiles = (l) => (l.count === 0 ? "no acks" : `${duration(l.p50)} / ${duration(l.p95)} / ${duration(l.p99)} (${l.count} acks)`);
const signed = (n) => (n > 0 ? `+${n}` : String(n));

/** A queue's stats (GET /v1/queues/:queue/stats, or the `stats` of GET /v1/queues/:queue) as a vertical table. */
export function statsTable(s) {
  const { trend, latency, totals } = s;
  return table([
    ["status", s.reason ? `${s.status}: ${s.reason}` : s.status],
    ["depth", `${s.depth} (ready ${s.ready}, delayed ${s.delayed}, in flight ${s.inFlight})`],
    ["dead letters", s.deadLetters],
    ["oldest ready", duration(s.oldestReadyAgeMs)],
    [`in / out per min (${trend.windowMinutes} min)`, `${trend.inPerMinute} / ${trend.outPerMinute} (net ${signed(trend.netPerMinute)})`],
    ["drain estimate", trend.drainEstimateMs === null ? "not draining" : duration(trend.drainEstimateMs)],
    [`enqueue→ack p50/p95/p99 (${duration(latency.windowMs)})`, percentiles(latency.enqueueToAck)],
    [`delivery→ack p50/p95/p99 (${duration(latency.windowMs)})`, percentiles(latency.deliveryToAck)],
    [
      "totals",
      `enqueued ${totals.enqueued}, delivered ${totals.delivered}, acked ${totals.acked}, retried ${totals.retried}, ` +
        `dead-lettered ${totals.deadLettered}, purged ${totals.purged}`,
    ],
    ...(s.push ? pushRows(s.push) : []),
  ]);
}

/** Push delivery's rows: deliveries and failures by class, answer latency, a Retry-After hold. */
function pushRows(push) {
  const failures = Object.entries(push.failures).map(([kind, n]) => `${kind} ${n}`).join(", ");
  const latency = push.latency.count === 0 ? "no pushes" : `${duration(push.latency.p50)} / ${duration(push.latency.p95)} / ${duration(push.latency.p99)}`;
  return [
    ["push deliveries", `${push.deliveries} (failed: ${failures})`],
    ["push answer p50/p95/p99", latency],
    ["push held by Retry-After", push.pausedUntil === null ? "no" : `until ${new Date(push.pausedUntil).toISOString()}`],
  ];
}

/** Sparklines of the stats' minutes (oldest first, the last one the current minute): depth, in and out per minute. */
export function sparklineTable(minutes) {
  const series = [
    ["depth", minutes.map((m) => m.depth)],
    ["in / min", minutes.map((m) => m.enqueued)],
    ["out / min", minutes.map((m) => m.acked + m.deadLettered + m.purged)],
  ];
  return table(
    series.map(([label, values]) => [label, sparkline(values), `now ${values.at(-1) ?? 0}, max ${Math.max(0, ...values)}`]),
    { head: [`last ${minutes.length} min`, "", ""] },
  );
}

/** Adds `stats`. */
export function addStats(program, context) {
  program
    .command("stats")
    .argument("<queue>", "queue name")
    .description("a queue's depth, rates, latency and health (any scope on the queue)")
    .option("-w, --watch", "redraw every --interval seconds, with sparklines of the last hour; --json: one document per line")
    .option("--interval <seconds>", "seconds between redraws with --watch", integer(1), 2)
    .addHelpText("after", "\nExamples:\n  edgeq stats orders\n  edgeq stats orders --watch --interval 5")
    .action(async (queue, opts, cmd) => {
      const ctx = context(cmd);
      const path = `${ctx.queuePath(queue)}/stats`;
      if (!opts.watch) {
        const stats = await ctx.request("GET", path);
        if (ctx.json) return ctx.printJson(stats);
        return ctx.print(statsTable(stats));
      }
      const stop = stopOnSignal();
      const redraw = process.stdout.isTTY && !ctx.json;
      let last;
      try {
        while (!stop.signal.aborted) {
          let problem = "";
          try {
            last = await ctx.request("GET", path, { signal: stop.signal });
            if (ctx.json) ctx.printJson(last);
          } catch (error) {
            if (stop.signal.aborted) break;
            // A blip (no answer, 429, 5xx) is shown and the watch goes on; anything else ends it.
            if (!isTransient(error)) throw error;
            problem = `last refresh failed: ${error.code ?? "NETWORK"}: ${error.message}`;
          }
          if (!ctx.json) {
            const frame = [
              `${queue} at ${new Date().toLocaleTimeString()}, every ${opts.interval} s (Ctrl-C to stop)`,
              ...(last ? [statsTable(last), sparklineTable(last.minutes)] : []),
              ...(problem ? [problem] : []),
            ].join("\n");
            // In a terminal each frame replaces the last; piped, frames follow one another.
            process.stdout.write(redraw ? `\x1b[H\x1b[2J${frame}\n` : `${frame}\n\n`);
          } else if (problem) ctx.note(`edgeq: ${problem}`);
          await sleep(opts.interval * 1000, stop.signal);
        }
      } finally {
        stop.release();
      }
    });
}
