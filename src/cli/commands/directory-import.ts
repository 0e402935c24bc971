/**
 * `contact-psi directory import <file.csv|file.json> --db <sqlite path | postgres://...>`:
 * create or update the directory. The file is read in batches into a stage file
 * (src/directory/import-stage.ts) while the worker pool computes the tags of each batch, then
 * applied to the store in one transaction, then precomputed (what is left) and snapshotted.
 * Memory stays bounded at any size; a run killed at any point resumes from its last
 * committed batch when run again with the same file and options (spec/directory.md, import).
 */
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CountryCode } from '../../contacts/index.js';
import { lockDirectory } from '../../directory/directory-lock.js';
import { ImportStage } from '../../directory/import-stage.js';
import { stageDirectoryFile, type StageSummary } from '../../directory/import-stream.js';
import { isPostgresUrl } from '../../directory/open-store.js';
import { FleetNode } from '../../directory/postgres/fleet-node.js';
import { applyStagePostgres } from '../../directory/postgres/import-apply.js';
import { PostgresKeyVault } from '../../directory/postgres/key-vault.js';
import { sharedFill } from '../../directory/postgres/shared-fill.js';
import { PostgresStore } from '../../directory/postgres/store.js';
import { SqliteStore } from '../../directory/sqlite-store.js';
import { loadKek } from '../../directory/kek.js';
import { poolEvaluator } from '../../parallel/index.js';
import { directorySuite, openDirectory, startWorkerPool } from '../open-directory.js';
import { progressBar } from '../progress.js';
import { batchLine, rejectedRowLine } from '../import-report.js';
import { regionValue } from '../option-values.js';
import { ContactPsiError } from '../../errors.js';

export interface ImportOptions {
  db: string;
  region?: string;
  kekFile?: string;
  /** With PostgreSQL: identifiers per precompute range claimed (default 4096). */
  fillRange?: string;
  /** Refuse the whole file (nothing imported, exit 1) when any row is rejected. */
  strict?: boolean;
  /** Records per staged batch (default 4096). */
  batchRows?: string;
  /** The stage file (default `<db>.import` for SQLite, one in the temp directory per PostgreSQL URL). */
  stage?: string;
  /** A line on stderr per committed batch (for scripts that follow the import, and the kill -9 test). */
  logBatches?: boolean;
  /**
   * With PostgreSQL: the stage holds no tags; after the apply, the fleet's nodes (told by the
   * change feed) and this process split the tags by claimed ranges (issue 11 §4: the precompute
   * of a large import is shared). Without it this process computes them while staging.
   */
  fleetPrecompute?: boolean;
}

/** Where an import into `db` stages its file: beside a SQLite file, else in the temp directory (keyed by the URL's hash: no password in a file name). */
export function defaultStagePath(db: string): string {
  if (!isPostgresUrl(db)) return `${db}.import`;
  return join(tmpdir(), `contact-psi-import-${createHash('sha256').update(db).digest('hex').slice(0, 16)}.stage`);
}

export async function directoryImport(file: string, options: ImportOptions): Promise<void> {
  if (options.fleetPrecompute && !isPostgresUrl(options.db)) {
    throw new ContactPsiError('invalid_option', '--fleet-precompute needs a PostgreSQL directory (--db postgres://...): a fleet shares one database');
  }
  const region = options.region === undefined ? undefined : (regionValue(options.region) as CountryCode);
  const stagePath = options.stage ?? defaultStagePath(options.db);
  // One import per stage file at a time: a second run would reset the stage under the first
  // (another file) or append the same rows again, and the first would then apply a mix of
  // both files. An OS lock (<stage>.lock), released when this process ends however it ends.
  const lock = lockDirectory(stagePath, 'directory import');
  try {
    await importLocked(file, options, region, stagePath);
  } finally {
    lock.release();
  }
}

async function importLocked(file: string, options: ImportOptions, region: CountryCode | undefined, stagePath: string): Promise<void> {
  const batchRows = options.batchRows === undefined ? undefined : Number(options.batchRows);
  const printError = (e: Parameters<typeof rejectedRowLine>[1]) => console.error(rejectedRowLine(file, e)); // escaped: row contents come from the file
  const onBatch = options.logBatches ? (p: Parameters<typeof batchLine>[0]) => console.error(batchLine(p)) : undefined;
  let printed = false;
  if (options.strict) {
    // Checked before the store is opened (the stage holds no tags yet): with --strict a bad file changes nothing.
    const stage = ImportStage.open(stagePath);
    let checked: StageSummary;
    try {
      checked = await stageDirectoryFile({ file, stage, defaultRegion: region, batchRows, onError: printError, onBatch });
    } finally {
      stage.close();
    }
    if (checked.rejected > 0) {
      ImportStage.remove(stagePath);
      throw new ContactPsiError('rejected_entries', `${file}: ${checked.rejected} rows rejected (--strict: nothing was imported)`);
    }
    printed = true;
  }
  const phases = phaseClock();
  const opened = await openDirectory(options.db, 'auto', true, { kekFile: options.kekFile });
  const { directory } = opened;
  try {
    const { suite } = directory;
    const epoch = directory.currentEpoch;
    const { secretKey, publicKey } = directory.epochKeyPair(epoch);
    const publicHex = Buffer.from(publicKey).toString('hex');
    const stage = ImportStage.open(stagePath);
    let staged: StageSummary;
    try {
      const tagging = { suite, secretKey, epoch, publicKey: publicHex, evaluator: opened.pool ? poolEvaluator(opened.pool, suite) : undefined, leaveToFleet: options.fleetPrecompute === true };
      staged = await stageDirectoryFile({ file, stage, defaultRegion: region, batchRows, tagging, onError: printed ? undefined : printError, onBatch });
    } finally {
      stage.close();
    }
    phases.mark('stage');
    const tagEpoch = epoch; // the stage was re-tagged for this epoch if it held another's tags
    const store = directory.store;
    let applied: { changes: number; version: number; tagsStored: number };
    if (store instanceof SqliteStore) applied = await store.applyImportStage(stagePath, tagEpoch);
    else if (store instanceof PostgresStore) applied = await applyStagePostgres(store.pool, stagePath, tagEpoch);
    else throw new ContactPsiError('invalid_option', `directory import streams into SQLite or PostgreSQL, not ${store.backend}`);
    phases.mark('apply');
    if (store instanceof PostgresStore) {
      // The nodes of a running fleet heard of the change and claim ranges of the new tags
      // too: this process takes its share, and the pass below finds the rest done.
      const fill = await sharedFill({
        pool: store.pool,
        store,
        suite,
        secretKey,
        epoch,
        node: `import@${hostname()}:${process.pid}`,
        evaluator: opened.pool ? poolEvaluator(opened.pool, suite) : undefined,
        rangeSize: options.fillRange === undefined ? undefined : Number(options.fillRange),
      });
      console.error(`shared precompute: this process computed ${fill.computed} tags in ${fill.ranges} claimed ranges`);
    }
    const precomputeBar = progressBar('precompute');
    const { computed, pruned } = await directory.precompute((done, total) => precomputeBar.update(done, total));
    precomputeBar.done();
    phases.mark('precompute');
    const snapshot = await directory.snapshot('fuse');
    phases.mark('snapshot');
    // Applied and precomputed: the stage has done its job (a kill before this line re-applies it, which changes nothing).
    ImportStage.remove(stagePath);
    const resumedNote = staged.tagsStaged > 0 ? `, ${staged.tagsStaged} staged by an earlier run` : '';
    console.log(
      `imported ${staged.users} users (${applied.changes} changes, ${staged.rejected} rejected rows); ` +
        `tags: ${staged.tagsComputed + computed} computed${resumedNote}, ${pruned} pruned; epoch ${directory.epoch} version ${applied.version}; ` +
        `snapshot ${snapshot.count} entries, ${snapshot.bytes.length} bytes, digest ${snapshot.digest}`,
    );
    if (options.logBatches) console.error(phases.line());
  } finally {
    await opened.close();
  }
}

/**
 * Wall and CPU (the whole process: every thread, so the worker pool's share is in it) of each
 * step, for `--log-batches`' last line: where an import's time goes (bench/import.ts reads it).
 */
function phaseClock(): { mark(name: string): void; line(): string } {
  const parts: string[] = [];
  let wall = performance.now();
  let cpu = process.cpuUsage();
  return {
    mark(name) {
      const used = process.cpuUsage(cpu);
      parts.push(`${name} ${((performance.now() - wall) / 1000).toFixed(2)} s wall ${((used.user + used.system) / 1e6).toFixed(2)} s CPU`);
      wall = performance.now();
      cpu = process.cpuUsage();
    },
    line: () => `import: phases: ${parts.join(', ')}`,
  };
}

/** `contact-psi directory rotate --db <path | postgres://...>`: next epoch precomputed, then switched to. */
export async function directoryRotate(options: { db: string; graceHours: string; kekFile?: string }): Promise<void> {
  const graceMs = Number(options.graceHours) * 3600_000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new Error('--grace-hours must be a non-negative number');
  if (isPostgresUrl(options.db)) return rotateFleet(options.db, graceMs, options.kekFile);
  // Refused while a server owns the directory: it holds the keys in memory and would later
  // rewrite the key file without the new epoch (send the server SIGUSR2 instead).
  const lock = lockDirectory(options.db, 'directory rotate');
  try {
    const opened = await openDirectory(options.db);
    const { directory } = opened;
    try {
      const bar = progressBar('precompute next epoch');
      const r = await directory.rotateEpoch({ graceMs, onProgress: (d, t) => bar.update(d, t) });
      bar.done();
      console.log(`rotated to epoch ${r.epoch} (${r.computed} tags); epoch ${r.previous} served until ${new Date(r.retiresAt).toISOString()}`);
    } finally {
      await opened.close();
    }
  } finally {
    lock.release();
  }
}

/**
 * On PostgreSQL, rotation is the leader's: this process joins as a node and rotates if the
 * leader lock is free (no fleet running); with a fleet running it is refused, naming the way
 * (SIGUSR2 to the leader, whose followers then help precompute the new epoch).
 */
async function rotateFleet(db: string, graceMs: number, kekFile: string | undefined): Promise<void> {
  const kek = loadKek({ file: kekFile });
  const store = await PostgresStore.open(db);
  const suite = await directorySuite();
  const pool = startWorkerPool();
  try {
    const node = await FleetNode.start({
      store,
      vault: new PostgresKeyVault(store.pool, kek),
      suite,
      node: `rotate@${hostname()}:${process.pid}`,
      evaluator: pool ? poolEvaluator(pool, suite) : undefined,
    });
    try {
      if (!node.isLeader) throw Object.assign(new Error('a fleet node leads this directory: rotate with SIGUSR2 to the leader (its followers help precompute)'), { code: 'directory_locked' });
      const r = await node.rotate(graceMs);
      console.log(`rotated to epoch ${r.epoch}; epoch ${r.previous} served until ${new Date(r.retiresAt).toISOString()}`);
    } finally {
      await node.close();
    }
  } finally {
    await store.close();
    await pool?.close();
  }
}
