// Human output: tables, durations, one-line messages and sparklines. Machine
// output (--json) never comes through here.
import Table from "cli-table3";

/** A table with a header row (`rows` are arrays) or, without `head`, a vertical one of [label, value] rows. */
export function table(rows, { head } = {}) {
  const t = new Table({
    ...(head ? { head } : {}),
    // No line between rows: one line per row.
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    // No colours outside a terminal, so piped output is plain text.
    style: { head: process.stdout.isTTY ? ["bold"] : [], border: [] },
  });
  t.push(...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell)))));
  return t.toString();
}

/** A duration in ms for people: `850 ms`, `12.5 s`, `4.2 min`, `3.1 h`, `2.0 d`. */
export function duration(ms) {
  if (ms === null || ms === undefined) return "-";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (abs < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** A time (ms since the epoch) as an age or a wait from now: `12.0 s ago`, `in 3.0 s`. */
export function fromNow(at, now = Date.now()) {
  return at <= now ? `${duration(now - at)} ago` : `in ${duration(at - now)}`;
}

/** JSON on one line, cut to `max` characters with an ellipsis. */
export function brief(value, max = 60) {
  const text = JSON.stringify(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One leased message on one line: what receive and tail print; the receipt acks or nacks it. */
export function messageLine(m) {
  const parts = [`#${m.seq}`, m.id, `attempts=${m.attempts}`];
  if (m.groupId) parts.push(`group=${m.groupId}`);
  if (m.attributes && Object.keys(m.attributes).length > 0) parts.push(`attributes=${JSON.stringify(m.attributes)}`);
  if (m.receipt) parts.push(`receipt=${m.receipt}`);
  parts.push(JSON.stringify(m.body));
  return parts.join("  ");
}

const TICKS = "▁▂▃▄▅▆▇█";

/**
 * A sparkline of counts, one character per value, scaled to the largest:
 * zero is the lowest tick and any count above zero at least the second, so
 * an idle minute stands apart from a quiet one.
 */
export function sparkline(values) {
  const max = Math.max(0, ...values);
  return values.map((v) => (v <= 0 || max === 0 ? TICKS[0] : TICKS[1 + Math.min(6, Math.floor((v / max) * 6.999))])).join("");
}
