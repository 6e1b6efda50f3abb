/** @jsxImportSource hono/jsx */
/**
 * Small SVG charts of the last hour, drawn on the server: no script, no
 * library. One chart shows one or two series over the 60 minutes of stats.
 */
import { formatCount } from "./format";

/** One line, area or set of bars: a value per minute, oldest first. */
export interface Series {
  label: string;
  color: string;
  values: number[];
  /** `area`: a line with its area filled; `line`; `bars`: one bar per minute. */
  kind: "area" | "line" | "bars";
}

const W = 520;
const H = 150;
const PAD = { left: 40, right: 8, top: 10, bottom: 22 };

/** The smallest of 1, 2, 5 times a power of ten that is at least `n` (and at least 1). */
export function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= n)!;
}

/** What a series holds, for tests and tools that read the page. */
const seriesData = (s: Series) => ({
  "data-series": s.label,
  "data-total": String(s.values.reduce((a, b) => a + b, 0)),
  "data-last": String(s.values[s.values.length - 1]),
});

/** A titled chart with a legend (each series' current value) over the 60 minutes of `series`. */
export function Chart({ id, title, series }: { id: string; title: string; series: Series[] }) {
  const n = series[0].values.length;
  const peak = Math.max(0, ...series.flatMap((s) => s.values));
  const max = niceMax(peak);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (i * plotW) / (n - 1);
  const y = (v: number) => PAD.top + plotH * (1 - v / max);
  const bars = series.filter((s) => s.kind === "bars");
  const slot = plotW / n;
  const barW = Math.max(1, (slot * 0.8) / Math.max(1, bars.length));
  const round = (v: number) => Math.round(v * 10) / 10;

  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span>
        {series.map((s) => (
          <span class="legend">
            <i style={`background:${s.color}`} />
            {s.label} <b>{formatCount(s.values[n - 1])}</b>
          </span>
        ))}
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}, last 60 minutes, peak ${peak}`}
        data-chart={id}
        data-peak={String(peak)}
      >
        {[0, max / 2, max].map((v) => (
          <g class="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={round(y(v))} y2={round(y(v))} />
            {Number.isInteger(v) && (
              <text x={PAD.left - 6} y={round(y(v)) + 4} text-anchor="end">
                {formatCount(v)}
              </text>
            )}
          </g>
        ))}
        {[
          [0, "60m ago"],
          [Math.floor((n - 1) / 2), "30m"],
          [n - 1, "now"],
        ].map(([i, label]) => (
          <text class="axis" x={round(x(i as number))} y={H - 6} text-anchor={i === 0 ? "start" : i === n - 1 ? "end" : "middle"}>
            {label}
          </text>
        ))}
        {series.map((s) => {
          if (s.kind === "bars") {
            const k = bars.indexOf(s);
            return (
              <g fill={s.color} {...seriesData(s)}>
                {s.values.map((v, i) =>
                  v > 0 ? (
                    <rect
                      x={round(PAD.left + i * slot + slot * 0.1 + k * barW)}
                      y={round(y(v))}
                      width={round(barW)}
                      height={round(PAD.top + plotH - y(v))}
                    />
                  ) : null,
                )}
              </g>
            );
          }
          const points = s.values.map((v, i) => `${round(x(i))},${round(y(v))}`).join(" ");
          return (
            <g {...seriesData(s)}>
              {s.kind === "area" && (
                <polygon
                  points={`${round(x(0))},${round(y(0))} ${points} ${round(x(n - 1))},${round(y(0))}`}
                  fill={s.color}
                  fill-opacity="0.12"
                />
              )}
              <polyline points={points} fill="none" stroke={s.color} stroke-width="2" stroke-linejoin="round" />
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
