/**
 * Every scenario writes <results>/<name>.json (machine, parameters, rows), <name>.md (the
 * same as a table, with the machine and the command) and, when it sweeps a size, <name>.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo, machineLine } from './machine.js';
import { svgLinePlot, type PlotOptions } from './plot.js';

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

function fmt(v: Cell | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const abs = Math.abs(v);
  return abs >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(4);
}

export function markdownTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols: string[] = [];
  for (const r of rows) for (const c of Object.keys(r)) if (!cols.includes(c)) cols.push(c);
  return (
    [
      `| ${cols.join(' | ')} |`,
      `| ${cols.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${cols.map((c) => fmt(r[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
    ].join('\n') + '\n'
  );
}

export interface ReportSection {
  readonly title: string;
  readonly rows: readonly Row[];
  /** Lines printed under the table (what was skipped and why, how to read it). */
  readonly notes?: readonly string[];
}

export interface Report {
  readonly name: string;
  readonly title: string;
  readonly smoke: boolean;
  readonly sections: readonly ReportSection[];
  readonly parameters?: Record<string, unknown>;
  readonly notes?: readonly string[];
  /** Machine-readable figures for `targets` (kept in the JSON only). */
  readonly data?: Record<string, unknown>;
  /** Written to <name>.svg (or <name>-<suffix>.svg for several). */
  readonly plots?: readonly (PlotOptions & { suffix?: string })[];
}

export function writeReport(dir: string, r: Report): void {
  mkdirSync(dir, { recursive: true });
  const machine = machineInfo();
  const command = `npm run bench -- ${r.name}${r.smoke ? ' --smoke' : ''}`;
  writeFileSync(
    join(dir, `${r.name}.json`),
    JSON.stringify({ scenario: r.name, title: r.title, smoke: r.smoke, command, machine, parameters: r.parameters ?? {}, notes: r.notes ?? [], data: r.data ?? {}, sections: r.sections }, null, 2) + '\n',
  );
  const md: string[] = [`## ${r.title}`, '', `Command: \`${command}\``, '', `Machine: ${machineLine(machine)}`, ''];
  for (const n of r.notes ?? []) md.push(`- ${n}`);
  if (r.notes?.length) md.push('');
  const svgs: string[] = [];
  for (const p of r.plots ?? []) {
    const file = `${r.name}${p.suffix ? `-${p.suffix}` : ''}.svg`;
    writeFileSync(join(dir, file), svgLinePlot(p));
    svgs.push(file);
  }
  for (const s of r.sections) {
    md.push(`### ${s.title}`, '', markdownTable(s.rows));
    for (const n of s.notes ?? []) md.push(`- ${n}`);
    if (s.notes?.length) md.push('');
  }
  for (const f of svgs) md.push(`![${f}](${f})`, '');
  const text = md.join('\n');
  writeFileSync(join(dir, `${r.name}.md`), text);
  console.log(text);
  console.log(`wrote ${join(dir, r.name)}.{json,md${svgs.length ? ',svg' : ''}}`);
}
