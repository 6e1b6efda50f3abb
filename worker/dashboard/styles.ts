/** The dashboard's stylesheet, inline: one request, no build step. */
export const DASHBOARD_CSS = `
:root { --bg: #f5f6f8; --card: #fff; --line: #e3e6eb; --text: #1d2330; --muted: #6b7385;
  --ok: #15803d; --growing: #b45309; --failing: #b91c1c; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header.top { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #111827; color: #f9fafb; }
header.top h1 { margin: 0; font-size: 18px; letter-spacing: .02em; }
header.top h1 span { color: #9ca3af; font-weight: 400; }
header.top .spacer { flex: 1; }
header.top #updated { color: #9ca3af; font-size: 12px; }
main, #login { max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
#login { max-width: 420px; margin-top: 60px; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 24px; }
#login h2 { margin-top: 0; }
#login input { width: 100%; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; margin: 8px 0 12px; }
#login-error { color: var(--failing); min-height: 1.4em; margin: 8px 0 0; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 18px; }
h2 { font-size: 16px; margin: 0 0 12px; display: flex; align-items: center; gap: 10px; }
h3 { font-size: 14px; margin: 18px 0 10px; display: flex; align-items: center; gap: 10px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selected td { background: #eff4ff; }
tbody tr:last-child td { border-bottom: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge.ok { background: #dcfce7; color: var(--ok); }
.badge.growing { background: #fef3c7; color: var(--growing); }
.badge.failing { background: #fee2e2; color: var(--failing); }
.badge.paused { background: #e5e7eb; color: #374151; }
.reason { color: var(--muted); margin: -6px 0 12px; }
.tiles { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 10px; margin-bottom: 14px; }
@media (max-width: 760px) { .tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.tile span { display: block; color: var(--muted); font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tile b { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 4px; }
figcaption { display: flex; flex-wrap: wrap; gap: 12px; align-items: baseline; font-size: 12px; color: var(--muted); }
.chart-title { font-weight: 600; color: var(--text); font-size: 13px; margin-right: auto; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.legend b { color: var(--text); font-weight: 600; }
svg { width: 100%; height: auto; display: block; }
svg .grid line { stroke: var(--line); }
svg text { fill: var(--muted); font-size: 10px; }
button { font: inherit; font-size: 13px; padding: 5px 12px; border-radius: 6px; border: 1px solid #cbd2dc; background: #fff; color: var(--text); cursor: pointer; }
button:hover { background: #f3f4f6; }
button:disabled { opacity: .5; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--failing); border-color: #f3b4b4; }
button.small { padding: 2px 8px; font-size: 12px; }
header.top button { background: transparent; color: #e5e7eb; border-color: #4b5563; }
.actions { margin-left: auto; display: flex; gap: 8px; }
.notice { margin: 0 0 12px; min-height: 1.2em; font-size: 13px; }
.notice.ok { color: var(--ok); } .notice.error { color: var(--failing); }
.empty { color: var(--muted); padding: 10px 0; margin: 0; }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
td.error { color: var(--failing); max-width: 280px; }
td.body { color: var(--muted); max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
`;
