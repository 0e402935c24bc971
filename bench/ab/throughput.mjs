// Server throughput, OLD vs NEW checkouts interleaved (bench/ab/README.md): each checkout's
// `bench -- throughput` (one client count, a short run) against its own copy of the
// directory fixture (a newer checkout may migrate the file to a schema the older cannot
// open), alternating OLD, NEW, OLD, NEW... so both see the same load. Prints contacts per
// server CPU-second per run and the ratio of the medians.
//
//   node bench/ab/throughput.mjs OLD_CHECKOUT NEW_CHECKOUT [users=100000] [clients=1] [seconds=6] [rounds=3]
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const [oldRoot, newRoot, users = '100000', clients = '1', seconds = '6', rounds = '3'] = process.argv.slice(2);
if (!oldRoot || !newRoot) throw new Error('usage: node bench/ab/throughput.mjs OLD_CHECKOUT NEW_CHECKOUT [users] [clients] [seconds] [rounds]');
const shared = process.env.BENCH_CACHE ?? join(tmpdir(), 'contact-psi-bench-cache');
const fixture = `directory-${users}.db`;
if (!existsSync(join(shared, fixture))) throw new Error(`no fixture ${join(shared, fixture)}: build it first (npm run bench -- throughput --directory=${users})`);

/** A private copy of the fixture (and its key, identity and metadata files) for one checkout. */
function cacheFor(name) {
  const dir = join(tmpdir(), `contact-psi-ab-throughput-${name}`);
  if (!existsSync(join(dir, fixture))) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(shared).filter((f) => f.startsWith(fixture))) copyFileSync(join(shared, f), join(dir, f));
    // The metadata names the file by its absolute path: point it at the copy.
    const meta = JSON.parse(readFileSync(join(dir, `${fixture}.json`), 'utf8'));
    writeFileSync(join(dir, `${fixture}.json`), JSON.stringify({ ...meta, path: join(dir, fixture) }, null, 2));
  }
  return dir;
}

const sides = { old: { root: oldRoot, cache: cacheFor('old'), runs: [] }, new: { root: newRoot, cache: cacheFor('new'), runs: [] } };
for (let r = 0; r < +rounds; r++) {
  for (const [name, side] of Object.entries(sides)) {
    const load = loadavg()[0];
    const out = execFileSync(process.execPath, [join(side.root, 'dist/bench/run.js'), 'throughput', `--directory=${users}`, `--clients=${clients}`, `--seconds=${seconds}`], {
      cwd: side.root,
      env: { ...process.env, BENCH_CACHE: side.cache, BENCH_RESULTS: join(side.cache, 'results') },
      encoding: 'utf8',
    });
    const row = JSON.parse(out.split('\n').filter((l) => l.startsWith('{')).at(-1));
    side.runs.push(row['contacts/s per server core']);
    console.log(`${name} run ${r + 1}: ${row['contacts/s per server core']} contacts per server CPU-s (${row.contacts} contacts, ${row['server CPU s']} CPU s, load ${load.toFixed(2)})`);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`median old ${median(sides.old.runs)}, new ${median(sides.new.runs)}: new/old ${(median(sides.new.runs) / median(sides.old.runs)).toFixed(3)}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
