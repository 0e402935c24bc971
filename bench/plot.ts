/**
 * A tiny dependency-free SVG line plot: log-scale x (sizes sweep by decades), linear or
 * log y, labelled axes and ticks, one coloured line with markers per series and a legend.
 */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Log-scale y as well (costs that span decades). Default false. */
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1, 2, 5 x 10^k style labels: 1k, 10k, 1M for sizes; plain numbers otherwise. */
export function formatTick(v: number): string {
  const abs = Math.abs(v);
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (abs >= 1e9) return `${trim(v / 1e9)}G`;
  if (abs >= 1e6) return `${trim(v / 1e6)}M`;
  if (abs >= 1e3) return `${trim(v / 1e3)}k`;
  if (abs === 0) return '0';
  if (abs < 0.01) return v.toExponential(0);
  return trim(v);
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    const t = 10 ** e;
    if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
  }
  if (ticks.length < 2) return [lo, hi];
  return ticks;
}

function linearTicks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= 6) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export function svgLinePlot(o: PlotOptions): string {
  // The legend sits right of the plot: as wide as the longest name (about 7 px a character).
  const legend = Math.max(120, 50 + 7 * Math.max(0, ...o.series.map((s) => s.name.length)));
  const width = o.width ?? 540 + legend;
  const height = o.height ?? 440;
  const m = { left: 78, right: legend, top: 40, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && Number.isFinite(y) && (!o.logY || y > 0));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  if (pts.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text></svg>`);
    return parts.join('\n') + '\n';
  }
  let [xlo, xhi] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  if (xlo === xhi) [xlo, xhi] = [xlo / 2, xhi * 2];
  let ylo = Math.min(...pts.map((p) => p[1]));
  let yhi = Math.max(...pts.map((p) => p[1]));
  if (o.logY) {
    if (ylo === yhi) [ylo, yhi] = [ylo / 2, yhi * 2];
    ylo = 10 ** Math.floor(Math.log10(ylo));
    yhi = 10 ** Math.ceil(Math.log10(yhi));
  } else {
    ylo = Math.min(0, ylo);
    yhi = yhi === ylo ? ylo + 1 : yhi * 1.05;
  }
  const lx = (x: number) => Math.log10(x);
  const sx = (x: number) => m.left + ((lx(x) - lx(xlo)) / (lx(xhi) - lx(xlo) || 1)) * pw;
  const sy = (y: number) =>
    o.logY ? m.top + ph - ((Math.log10(y) - Math.log10(ylo)) / (Math.log10(yhi) - Math.log10(ylo))) * ph : m.top + ph - ((y - ylo) / (yhi - ylo)) * ph;

  // Axes, grid and ticks.
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  // Every measured x is labelled; a decade tick only where it does not crowd one of them.
  const dataX = [...new Set(pts.map((p) => p[0]))];
  const decades = logTicks(xlo, xhi).filter((t) => dataX.every((x) => Math.abs(sx(t) - sx(x)) > 30));
  const xTicks = [...dataX, ...decades].sort((a, b) => a - b);
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  const yTicks = o.logY ? logTicks(ylo, yhi) : linearTicks(ylo, yhi);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${m.left - 6}" y="${Number(y) + 4}" text-anchor="end">${formatTick(t)}</text>`);
  }
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 14}" text-anchor="middle">${esc(o.xLabel)} (log scale)</text>`);
  parts.push(
    `<text x="18" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${m.top + ph / 2})">${esc(o.yLabel)}${o.logY ? ' (log scale)' : ''}</text>`,
  );

  // Lines, markers, legend.
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const valid = s.points.filter(([x, y]) => x > 0 && Number.isFinite(y) && (!o.logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (valid.length > 1) {
      const d = valid.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const [x, y] of valid) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.name)}: ${formatTick(x)} → ${y.toPrecision(4)}</title></circle>`);
    const ly = m.top + 10 + i * 18;
    parts.push(`<line x1="${m.left + pw + 12}" y1="${ly}" x2="${m.left + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${m.left + pw + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Series from table rows: one line per distinct `seriesOf(row)`, x and y read from columns. */
export function seriesFromRows<R>(rows: readonly R[], seriesOf: (r: R) => string | undefined, x: (r: R) => number, y: (r: R) => number): Series[] {
  const map = new Map<string, [number, number][]>();
  for (const r of rows) {
    const name = seriesOf(r);
    const yv = y(r);
    if (name === undefined || !Number.isFinite(yv)) continue;
    let list = map.get(name);
    if (!list) map.set(name, (list = []));
    list.push([x(r), yv]);
  }
  return [...map].map(([name, points]) => ({ name, points }));
}
