/**
 * `npm run bench -- import`: the whole `contact-psi directory import` process (streaming,
 * src/cli/commands/directory-import.ts) of one generated CSV into a fresh SQLite file and
 * into a fresh PostgreSQL database (embedded), in the same run, one after the other: wall
 * time, CPU of all threads, peak RSS, the load average around each; then
 * @openmined/psi.js's setup per element right after (issue 13 §1: ours per identifier at
 * least 12x faster). 10,000,000 users by extrapolation from the measured µs per identifier,
 * marked as such, unless --users says 10000000.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/cli/embedded-postgres.js';
import { createKekFile } from '../src/directory/index.js';
import { runCli, type CliRun } from './cli-run.js';
import { registeredIdentifier, removeSqlite } from './directory-fixture.js';
import { loadOpenMined, openMinedSession, OPENMINED_INSTALL } from './peers/openmined.js';
import type { Report, Row } from './report.js';
import { writeDirectoryCsv } from './scale.js';

export interface ImportBenchOptions {
  users: number;
  postgres: boolean;
  peerElements: number;
  smoke: boolean;
}

const TARGET_USERS = 10_000_000;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ');

interface Measured {
  store: string;
  run: CliRun;
  loadBefore: string;
  loadAfter: string;
  snapshotEntries: number;
  /** Wall and CPU seconds per step, from the import's `--log-batches` phase line. */
  phases: Record<string, { wall: number; cpu: number }>;
}

const PHASES = ['stage', 'apply', 'precompute', 'snapshot'] as const;

/** `import: phases: stage 1.20 s wall 2.10 s CPU, apply ...` (src/cli/commands/directory-import.ts). */
function parsePhases(stderr: string): Record<string, { wall: number; cpu: number }> {
  const line = /import: phases: (.*)/.exec(stderr)?.[1] ?? '';
  const out: Record<string, { wall: number; cpu: number }> = {};
  for (const m of line.matchAll(/(\w+) ([\d.]+) s wall ([\d.]+) s CPU/g)) out[m[1]] = { wall: Number(m[2]), cpu: Number(m[3]) };
  return out;
}

/** One column per step: 'wall / CPU' seconds (staging overlaps the pool's F_k; the rest runs on one thread). */
function phaseColumns(phases: Record<string, { wall: number; cpu: number }>): Row {
  const row: Row = {};
  for (const name of PHASES) {
    const p = phases[name];
    row[`${name} s (wall / CPU)`] = p === undefined ? null : `${round(p.wall)} / ${round(p.cpu)}`;
  }
  return row;
}

function figures(m: Measured, users: number, identifiers: number): Row {
  return {
    store: m.store,
    source: 'measured',
    users,
    identifiers,
    'wall s': round(m.run.wallMs / 1000),
    'µs per identifier (wall)': round((m.run.wallMs * 1000) / identifiers),
    'CPU s (all threads)': round(m.run.cpuMs / 1000),
    'µs per identifier (CPU)': round((m.run.cpuMs * 1000) / identifiers),
    'wall s on 2 idle cores at least (CPU / 2)': round(m.run.cpuMs / 2000),
    'peak RSS MiB': round(m.run.maxRssMiB),
    'snapshot entries': m.snapshotEntries,
    ...phaseColumns(m.phases),
    'load before': m.loadBefore,
    'load after': m.loadAfter,
  };
}

async function importOnce(store: string, args: string[]): Promise<Measured> {
  const loadBefore = load();
  // --log-batches: a line per batch, and the phase line last (kept in the stderr tail).
  const run = await runCli(['directory', 'import', ...args, '--log-batches']);
  if (run.code !== 0) throw new Error(`directory import into ${store} exited ${run.code}: ${run.stderrTail.slice(-1500)}`);
  const m = /snapshot (\d+) entries/.exec(run.stdout);
  return { store, run, loadBefore, loadAfter: load(), snapshotEntries: m ? Number(m[1]) : NaN, phases: parsePhases(run.stderrTail) };
}

export async function importScenario(o: ImportBenchOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-bench-import-'));
  const notes: string[] = [];
  const data: Record<string, unknown> = {};
  const rows: Row[] = [];
  try {
    const csv = join(work, 'directory.csv');
    console.log(`import: writing the CSV of ${o.users.toLocaleString('en-US')} users ...`);
    const identifiers = await writeDirectoryCsv(csv, o.users);
    const db = join(work, 'directory.sqlite');
    removeSqlite(db);
    console.log('import: into SQLite ...');
    const lite = await importOnce('SQLite', [csv, '--db', db]);
    rows.push(figures(lite, o.users, identifiers));
    data.sqlite = { wallMs: lite.run.wallMs, cpuMs: lite.run.cpuMs, maxRssMiB: lite.run.maxRssMiB, identifiers, phases: lite.phases };
    removeSqlite(db);
    if (o.postgres) {
      console.log('import: into PostgreSQL (embedded) ...');
      const server = await startEmbeddedPostgres();
      try {
        const admin = new pg.Client({ connectionString: server.url });
        await admin.connect();
        await admin.query('CREATE DATABASE bench_import');
        await admin.end();
        const url = new URL(server.url);
        url.pathname = '/bench_import';
        const kek = join(work, 'kek');
        createKekFile(kek);
        const pgRun = await importOnce('PostgreSQL', [csv, '--db', url.toString(), '--kek-file', kek, '--stage', join(work, 'pg.stage')]);
        rows.push(figures(pgRun, o.users, identifiers));
        data.postgres = { wallMs: pgRun.run.wallMs, cpuMs: pgRun.run.cpuMs, maxRssMiB: pgRun.run.maxRssMiB, identifiers, phases: pgRun.phases };
        data.postgresOverSqliteWall = pgRun.run.wallMs / lite.run.wallMs;
        data.postgresOverSqliteCpu = pgRun.run.cpuMs / lite.run.cpuMs;
        notes.push(
          `PostgreSQL / SQLite in this run: wall ${round(pgRun.run.wallMs / lite.run.wallMs, 2)}x, CPU of the import process ${round(pgRun.run.cpuMs / lite.run.cpuMs, 2)}x (the PostgreSQL server's own CPU is not in the import process's figure; goal of issue 11 §5: no slower than SQLite).`,
        );
      } finally {
        await server.stop();
      }
    }
    rmSync(csv, { force: true });
    if (o.users < TARGET_USERS) {
      const usWall = (lite.run.wallMs * 1000) / identifiers;
      const usCpu = (lite.run.cpuMs * 1000) / identifiers;
      const targetIds = Math.round(identifiers * (TARGET_USERS / o.users));
      rows.push({
        store: 'SQLite',
        source: `EXTRAPOLATED linearly from ${o.users.toLocaleString('en-US')} users`,
        users: TARGET_USERS,
        identifiers: targetIds,
        'wall s': round((usWall * targetIds) / 1e6),
        'µs per identifier (wall)': round(usWall),
        'CPU s (all threads)': round((usCpu * targetIds) / 1e6),
        'µs per identifier (CPU)': round(usCpu),
        'wall s on 2 idle cores at least (CPU / 2)': round((usCpu * targetIds) / 2e6),
        'peak RSS MiB': null,
        'snapshot entries': targetIds,
      });
      data.extrapolated10M = { wallS: (usWall * targetIds) / 1e6, cpuS: (usCpu * targetIds) / 1e6 };
    }
    const peer = await loadOpenMined();
    if (!peer) notes.push(`@openmined/psi.js not installed (${OPENMINED_INSTALL}): no same-run comparison.`);
    else {
      const server = Array.from({ length: o.peerElements }, (_, i) => registeredIdentifier(i));
      const client = Array.from({ length: 1024 }, (_, i) => registeredIdentifier(i * 3));
      const loadBefore = load();
      const f = openMinedSession(peer, server, client, 1e-6, 'GCS');
      const s = peer.psi.server.createWithNewKey(true);
      const cpu0 = process.cpuUsage();
      s.createSetupMessage(1e-6, 1024, server, peer.psi.dataStructure.GCS).serializeBinary();
      const cpu1 = process.cpuUsage(cpu0);
      s.delete();
      const peerWallUs = (f.setupMs * 1000) / o.peerElements;
      const peerCpuUs = (cpu1.user + cpu1.system) / o.peerElements;
      const oursWallUs = (lite.run.wallMs * 1000) / identifiers;
      const oursCpuUs = (lite.run.cpuMs * 1000) / identifiers;
      data.peer = { version: peer.version, setupWallUsPerElement: peerWallUs, setupCpuUsPerElement: peerCpuUs, wallRatio: peerWallUs / oursWallUs, cpuRatio: peerCpuUs / oursCpuUs };
      rows.push({
        store: `${peer.label} setup (GCS, fpr 1e-6, one thread), ${o.peerElements.toLocaleString('en-US')} elements`,
        source: 'measured, right after',
        'µs per identifier (wall)': round(peerWallUs),
        'µs per identifier (CPU)': round(peerCpuUs),
        'load before': loadBefore,
        'load after': load(),
      });
      notes.push(
        `Per identifier, ours (SQLite, whole process) vs the peer's setup per element: ${round(peerWallUs / oursWallUs, 2)}x faster by wall, ${round(peerCpuUs / oursCpuUs, 2)}x by CPU (ours: all threads of the import; the peer: its one thread). Goal (issue 13 §1): at least 12x.`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    name: 'import',
    title: `\`directory import\` of ${o.users.toLocaleString('en-US')} users: SQLite and PostgreSQL in one run`,
    smoke: o.smoke,
    parameters: { users: o.users, postgres: o.postgres, peerElements: o.peerElements },
    notes: [
      'Each import is the real `contact-psi directory import <csv> --db <store>` process (dist/src/cli/main.js, its default worker pool): streaming, batches of 4,096 records staged with their tags, one apply transaction, precompute of what is left, the fuse snapshot. Fresh store each time, the same CSV (bench/scale.ts writeDirectoryCsv: every user a phone number and a 32-byte label, 40% an e-mail address: 1.4 identifiers per user).',
      'Per step (the import\'s `--log-batches` phase line, wall / CPU of the whole process): stage = read, check, F_k and seals on the worker pool, stage commits (the one step on several threads); apply, precompute and snapshot run on one thread, so their wall is at least their CPU.',
      'Wall from spawn to exit; CPU and peak RSS of the whole process (all threads) from rusage at exit. The machine is shared: the load average before and after each import is in its row. The PostgreSQL server (embedded, same machine) is a separate process: its CPU is not counted.',
      ...notes,
    ],
    data,
    sections: [{ title: 'Import', rows }],
  };
}
