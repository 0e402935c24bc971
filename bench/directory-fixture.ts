/**
 * Synthetic directories for the server-side scenarios, built as a stream: users are made
 * batch by batch from their index (no set of 10M strings, no array of 10M users), imported,
 * precomputed and snapshotted. SQLite fixtures are cached between scenarios in cacheDir(),
 * with a JSON beside each file that records how it was built.
 *
 * User i holds one phone number, tel:+41 79 iiiiiii (then 78, 77, 76 for each further 10M),
 * so a directory of N users has exactly N tags; numbers under +41 75 are never registered.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Directory, MemoryStore, SqliteStore, type DirectoryUserInput } from '../src/directory/index.js';
import { loadGroup, type BackendName } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import type { OprfSuite } from '../src/oprf/suite.js';
import { cacheDir } from './paths.js';
import { timeMsAsync } from './timing.js';

const PREFIXES = ['+4179', '+4178', '+4177', '+4176'];
export const MAX_FIXTURE_USERS = PREFIXES.length * 10_000_000;

export function registeredIdentifier(i: number): string {
  return `tel:${PREFIXES[Math.floor(i / 10_000_000)]}${String(i % 10_000_000).padStart(7, '0')}`;
}

export function absentIdentifier(j: number): string {
  return `tel:+4175${String(j % 10_000_000).padStart(7, '0')}`;
}

export function syntheticUsers(start: number, count: number): DirectoryUserInput[] {
  const labels = randomBytes(32 * count);
  return Array.from({ length: count }, (_, k) => ({
    userId: `u${start + k}`,
    identifiers: [registeredIdentifier(start + k)],
    label: new Uint8Array(labels.buffer, labels.byteOffset + 32 * k, 32),
    discoverable: true,
  }));
}

export interface BuildFigures {
  users: number;
  store: 'memory' | 'sqlite';
  backend: string;
  importMs: number;
  precomputeMs: number;
  snapshotMs: number;
  snapshotBytes: number;
  snapshotCount: number;
  /** Worker threads that evaluated the tags (0: the calling thread). */
  poolSize: number;
}

export interface BuildOptions {
  users: number;
  store: 'memory' | 'sqlite';
  /** SQLite file (its key file is <path>.key); required for 'sqlite'. */
  path?: string;
  backend?: BackendName;
  importBatch?: number;
  log?: (line: string) => void;
  /** Precompute on this evaluator (the worker pool) instead of the calling thread. */
  evaluator?: (suite: OprfSuite) => TagEvaluator;
}

export type TagEvaluator = (secretKey: Uint8Array, inputs: readonly Uint8Array[]) => Promise<Uint8Array[]>;

export async function openBenchDirectory(
  store: 'memory' | 'sqlite',
  path: string | undefined,
  backend: BackendName = 'auto',
  evaluator?: (suite: OprfSuite) => TagEvaluator,
): Promise<Directory> {
  const group = await loadGroup('ristretto255', backend);
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  // `evaluator` (the worker pool's precompute hook) goes in only when given, so the harness
  // also runs against a Directory that has no such option.
  const options = { store: store === 'memory' ? new MemoryStore() : SqliteStore.open(path!), suite, ...(evaluator ? { evaluator: evaluator(suite) } : {}) };
  return Directory.open(options);
}

/** Import (streamed in batches), precompute every tag, build the fuse snapshot; each step timed. */
export async function buildDirectory(o: BuildOptions): Promise<{ directory: Directory; figures: BuildFigures }> {
  const log = o.log ?? (() => undefined);
  const directory = await openBenchDirectory(o.store, o.path, o.backend, o.evaluator);
  const batch = o.importBatch ?? 20_000;
  const step = Math.max(batch, Math.ceil(o.users / 10 / batch) * batch);
  const imported = await timeMsAsync(async () => {
    for (let start = 0; start < o.users; start += batch) {
      await directory.importUsers(syntheticUsers(start, Math.min(batch, o.users - start)));
      if ((start + batch) % step === 0) log(`import ${Math.min(o.users, start + batch)}/${o.users}`);
    }
  });
  let lastLog = 0;
  const precomputed = await timeMsAsync(() =>
    directory.precompute((done, total) => {
      if (done - lastLog >= step || done === total) {
        lastLog = done;
        log(`precompute ${done}/${total}`);
      }
    }),
  );
  const snap = await timeMsAsync(() => directory.snapshot('fuse'));
  return {
    directory,
    figures: {
      users: o.users,
      store: o.store,
      backend: directory.suite.group.backend,
      importMs: imported.ms,
      precomputeMs: precomputed.ms,
      snapshotMs: snap.ms,
      snapshotBytes: snap.value.bytes.length,
      snapshotCount: snap.value.count,
      poolSize: 0,
    },
  };
}

export function fixturePath(users: number, smoke: boolean): string {
  return join(cacheDir(smoke), `directory-${users}.db`);
}

export interface FixtureMeta extends BuildFigures {
  path: string;
  builtAt: string;
  /** Peak RSS of the process that built it, MiB. */
  buildMaxRssMiB: number;
  /** ANALYZE ran on the file after the build (see analyzeFixture). */
  analyzed?: boolean;
}

/**
 * Runs SQLite's ANALYZE on a built directory file, as an operator would after a bulk
 * import. Without statistics, SQLite plans SqliteStore's label lookup on the tags primary
 * key (epoch, identifier) instead of tags_by_lookup_key, i.e. it scans every tag of the
 * epoch per lookup (~0.7 s per matched contact at 1M tags on this machine): a src issue,
 * reported; `--no-analyze` keeps the files as the store leaves them, to reproduce it.
 */
export function analyzeFixture(path: string): number {
  const start = performance.now();
  const db = new Database(path);
  try {
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
  return performance.now() - start;
}

export function markAnalyzed(path: string, meta: FixtureMeta): FixtureMeta {
  const updated = { ...meta, analyzed: true };
  writeFileSync(`${path}.json`, JSON.stringify(updated, null, 2) + '\n');
  return updated;
}

export function readFixtureMeta(path: string): FixtureMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as FixtureMeta;
    return existsSync(path) && existsSync(`${path}.key`) ? meta : undefined;
  } catch {
    return undefined;
  }
}

export function removeSqlite(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '.key', '.json']) rmSync(`${path}${suffix}`, { force: true });
}

/** Moves a finished build (database and key file) into place. */
export function installSqlite(from: string, to: string): void {
  removeSqlite(to);
  for (const suffix of ['-wal', '-shm']) rmSync(`${from}${suffix}`, { force: true });
  renameSync(from, to);
  renameSync(`${from}.key`, `${to}.key`);
}
