import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo } from './machine.js';

export type Row = Record<string, string | number>;

export function markdownTable(rows: Row[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toPrecision(4)) : v);
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => fmt(r[c] ?? '')).join(' | ')} |`),
  ].join('\n') + '\n';
}

/** Writes bench/results/<name>.json and .md (with the machine) and prints the table. */
export function writeReport(dir: string, name: string, title: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const machine = machineInfo();
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ scenario: name, machine, ...extra, rows }, null, 2) + '\n');
  const md = `## ${title}\n\nMachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.date}\n\n${markdownTable(rows)}`;
  writeFileSync(join(dir, `${name}.md`), md);
  console.log(md);
}
