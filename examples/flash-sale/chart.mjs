// The flash sale's chart as SVG: the payment queue's depth (and the email
// queue's) over sale time, and orders in and out of the payment queue per
// minute, with the seed's prediction (1,000 a minute out, drained at 5:00).

const W = 760;
const PANEL = 170;
const LEFT = 64;
const RIGHT = 20;
const TOP = 36;
const GAP = 56;

/** Sale seconds as m:ss. */
const clock = (t) => `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, "0")}`;
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/** A round step for `max` over about `ticks` ticks. */
function step(max, ticks) {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? p * 10;
}

function panel({ y, title, series, maxY, maxT, marks = [] }) {
  const x = (t) => LEFT + (t / maxT) * (W - LEFT - RIGHT);
  const yy = (v) => y + PANEL - (v / maxY) * PANEL;
  const out = [`<text x="${LEFT}" y="${y - 10}" class="title">${escape(title)}</text>`];
  const ys = step(maxY, 4);
  for (let v = 0; v <= maxY + 1e-9; v += ys) {
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${yy(v)}" y2="${yy(v)}" class="grid"/>`);
    out.push(`<text x="${LEFT - 6}" y="${yy(v) + 4}" class="tick" text-anchor="end">${Math.round(v).toLocaleString("en")}</text>`);
  }
  for (let m = 0; m <= maxT / 60 + 1e-9; m += 1) {
    out.push(`<line x1="${x(m * 60)}" x2="${x(m * 60)}" y1="${y}" y2="${y + PANEL}" class="grid"/>`);
    out.push(`<text x="${x(m * 60)}" y="${y + PANEL + 14}" class="tick" text-anchor="middle">${m}:00</text>`);
  }
  // Labels left of their line, one row each, halfway down: clear of the legend and of a draining line.
  marks.forEach((mark, i) => {
    out.push(`<line x1="${x(mark.t)}" x2="${x(mark.t)}" y1="${y}" y2="${y + PANEL}" class="mark"/>`);
    if (mark.label) out.push(`<text x="${x(mark.t) - 4}" y="${y + PANEL / 2 + i * 13}" class="note" text-anchor="end">${escape(mark.label)}</text>`);
  });
  series.forEach((s, i) => {
    const d = s.points.map(([t, v], j) => `${j === 0 ? "M" : "L"}${x(t).toFixed(1)},${yy(Math.min(v, maxY)).toFixed(1)}`).join("");
    out.push(`<path d="${d}" class="line" stroke="${s.color}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`);
    out.push(`<rect x="${W - RIGHT - 190}" y="${y + 6 + i * 16}" width="12" height="3" fill="${s.color}"/>`);
    out.push(`<text x="${W - RIGHT - 172}" y="${y + 11 + i * 16}" class="note">${escape(s.label)}</text>`);
  });
  return out.join("\n");
}

/**
 * `samples`: [{t (sale seconds), payDepth, mailDepth, inPerMin, outPerMin}];
 * `predicted`: the seed's drain time in sale seconds.
 */
export function chartSvg({ samples, predicted, drainedAt, title }) {
  const maxT = Math.max(predicted * 1.1, ...samples.map((s) => s.t));
  const maxDepth = Math.max(1, ...samples.map((s) => Math.max(s.payDepth, s.mailDepth)));
  const maxRate = Math.max(1, ...samples.map((s) => Math.max(s.inPerMin, s.outPerMin)));
  const depthY = TOP;
  const rateY = TOP + PANEL + GAP;
  const marks = [{ t: predicted, label: `seed: drained at ${clock(predicted)}` }];
  if (drainedAt !== null) marks.push({ t: drainedAt, label: `edgeq: drained at ${clock(drainedAt)}` });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${rateY + PANEL + 30}" viewBox="0 0 ${W} ${rateY + PANEL + 30}" font-family="system-ui, sans-serif">
<style>
.title{font-size:13px;font-weight:600;fill:#222}.tick{font-size:10px;fill:#666}.note{font-size:10px;fill:#333}
.grid{stroke:#e5e5e5;stroke-width:1}.line{fill:none;stroke-width:2}.mark{stroke:#999;stroke-dasharray:3 3}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${LEFT}" y="16" class="title">${escape(title)}</text>
${panel({
  y: depthY + 14,
  title: "orders waiting (queue depth)",
  maxY: step(maxDepth, 4) * Math.ceil(maxDepth / step(maxDepth, 4)),
  maxT,
  marks,
  series: [
    { label: "payments", color: "#d9480f", points: samples.map((s) => [s.t, s.payDepth]) },
    { label: "emails", color: "#1c7ed6", points: samples.map((s) => [s.t, s.mailDepth]) },
  ],
})}
${panel({
  y: rateY + 14,
  title: "payments: orders in and out per minute",
  maxY: step(maxRate, 4) * Math.ceil(maxRate / step(maxRate, 4)),
  maxT,
  series: [
    { label: "in (checkout)", color: "#495057", points: samples.map((s) => [s.t, s.inPerMin]) },
    { label: "out (paid or dead)", color: "#2f9e44", points: samples.map((s) => [s.t, s.outPerMin]) },
    { label: "seed: 1,000 a minute", color: "#2f9e44", dash: "4 4", points: [[0, 1000], [maxT, 1000]] },
  ],
})}
</svg>
`;
}
