/**
 * Minimal SVG line charts for run reports: a grid of panels, each with one or more series.
 * Each panel's legend sits below its plot area (outside it), so it never covers a curve.
 * Elements carry classes (`plot-area`, `series`, `legend`) so tests and styles can find them.
 */

export interface Series { name: string; points: [number, number][] }
export interface Panel { title: string; series: Series[]; yLabel?: string }

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/** Height of one legend line, px. */
const LEGEND_LINE = 13;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function ticks(lo: number, hi: number, n = 4): number[] {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/** Renders panels side by side (wrapping after `perRow`). */
export function lineChartsSvg(panels: Panel[], opts: { width?: number; height?: number; perRow?: number; title?: string } = {}): string {
  const W = opts.width ?? 360, perRow = opts.perRow ?? 2;
  // the legend (one line per series, below the x-axis label) extends the panel downwards
  const legendLines = Math.max(1, ...panels.map((p) => p.series.length));
  const m = { l: 52, r: 12, t: 28, b: 36 + 4 + LEGEND_LINE * legendLines };
  const H = (opts.height ?? 260) + LEGEND_LINE * legendLines;
  const rows = Math.ceil(panels.length / perRow);
  const top = opts.title ? 30 : 0;
  const parts: string[] = [];
  panels.forEach((p, i) => {
    const ox = (i % perRow) * W, oy = top + Math.floor(i / perRow) * H;
    const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => y);
    let [x0, x1, y0, y1] = [Math.min(...xs, 0), Math.max(...xs, 1), Math.min(...ys), Math.max(...ys)];
    if (!pts.length) [y0, y1] = [0, 1];
    if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const pad = (y1 - y0) * 0.05;
    y0 -= pad; y1 += pad;
    const X = (x: number) => ox + m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
    const Y = (y: number) => oy + H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
    parts.push(`<text x="${ox + W / 2}" y="${oy + 18}" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
    parts.push(`<rect class="plot-area" x="${ox + m.l}" y="${oy + m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`);
    for (const t of ticks(y0, y1)) parts.push(`<line x1="${ox + m.l}" x2="${ox + W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${ox + m.l - 4}" y="${Y(t) + 4}" text-anchor="end" font-size="10">${t}</text>`);
    for (const t of ticks(x0, x1)) parts.push(`<text x="${X(t)}" y="${oy + H - m.b + 14}" text-anchor="middle" font-size="10">${t}</text>`);
    const axisY = oy + H - m.b + 28;
    parts.push(`<text x="${ox + m.l + (W - m.l - m.r) / 2}" y="${axisY}" text-anchor="middle" font-size="10">step</text>`);
    p.series.forEach((s, k) => {
      const c = COLORS[k % COLORS.length];
      const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y], j) => `${j ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
      if (d) parts.push(`<path class="series" d="${d}" fill="none" stroke="${c}" stroke-width="1.8"/>`);
      if (s.points.length <= 30) for (const [x, y] of s.points) if (Number.isFinite(y)) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.2" fill="${c}"/>`);
      const ly = axisY + 4 + LEGEND_LINE * (k + 1);
      parts.push(`<g class="legend"><line x1="${ox + m.l}" x2="${ox + m.l + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/><text x="${ox + m.l + 20}" y="${ly}" font-size="10" fill="${c}">${esc(s.name)}</text></g>`);
    });
  });
  const title = opts.title ? `<text x="${(Math.min(perRow, panels.length) * W) / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.min(perRow, panels.length) * W}" height="${top + rows * H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${title}${parts.join('')}</svg>\n`;
}
