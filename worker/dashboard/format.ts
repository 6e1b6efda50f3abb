/** Short human forms of the dashboard's numbers. */

/** `0s`, `42s`, `3m 10s`, `2h 05m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `950`, `1.2k`, `3.4M`. */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n * 100) / 100);
  if (abs < 1e6) return `${(n / 1e3).toFixed(abs < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(abs < 1e7 ? 1 : 0)}M`;
}

/** A latency in ms, or a dash when there is none. */
export const formatLatency = (ms: number | null): string => (ms === null ? "–" : ms < 1000 ? `${ms}ms` : formatDuration(ms));
