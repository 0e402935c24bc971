/**
 * Top functions by self time in V8 .cpuprofile files (`node --cpu-prof`), one table per
 * file (one file per thread: the main thread and each worker):
 *
 *   node dist/bench/cpuprofile-summary.js [--top=15] file.cpuprofile ...
 *
 * Self time of a node = the sampled time deltas attributed to it; functions are merged by
 * name and source location (the same function reached through different callers).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:');

export function summarize(profile: Profile, top: number): { total: number; rows: { fn: string; where: string; ms: number; pct: number }[] } {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const frame = byNode.get(id)!.callFrame;
    const fn = frame.functionName || '(anonymous)';
    const where = frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${fn}@${where}`;
    const entry = self.get(key) ?? { fn, where, us: 0 };
    entry.us += dt;
    self.set(key, entry);
  });
  const rows = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 1000), pct: +((100 * e.us) / Math.max(1, total)).toFixed(1) }));
  return { total: total / 1000, rows };
}

/** Time of the samples with a function of this name anywhere on their stack (counted once per sample). */
export function inclusive(profile: Profile, names: readonly string[]): Map<string, number> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>(names.map((n) => [n, 0]));
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const fn = byNode.get(at)!.callFrame.functionName;
      if (out.has(fn) && !seen.has(fn)) {
        seen.add(fn);
        out.set(fn, out.get(fn)! + (profile.timeDeltas[i] ?? 0));
      }
    }
  });
  return out;
}

function main(): void {
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 15);
  const names = process.argv.find((a) => a.startsWith('--inclusive='))?.slice(12).split(',') ?? [];
  for (const file of process.argv.slice(2).filter((a) => !a.startsWith('--'))) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const { total, rows } = summarize(profile, top);
    console.log(`\n#### ${basename(file)}: ${Math.round(total)} ms sampled\n`);
    console.log('| # | function | where | self ms | self % |');
    console.log('| --- | --- | --- | --- | --- |');
    rows.forEach((r, i) => console.log(`| ${i + 1} | \`${r.fn}\` | ${r.where} | ${r.ms} | ${r.pct} |`));
    if (names.length > 0) {
      console.log('\n| function (inclusive) | ms | % |\n| --- | --- | --- |');
      for (const [fn, us] of inclusive(profile, names)) console.log(`| \`${fn}\` | ${Math.round(us / 1000)} | ${((100 * us) / Math.max(1, total * 1000)).toFixed(1)} |`);
    }
  }
}

// Run as a command only, not when scale.ts imports summarize().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
