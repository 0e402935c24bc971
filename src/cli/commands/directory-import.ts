/** `contact-psi directory import <file.csv|file.json> --db <sqlite path | postgres://...>`: create or update the directory. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CountryCode } from '../../contacts/index.js';
import { parseDirectoryFile } from '../../directory/index.js';
import { lockDirectory } from '../../directory/directory-lock.js';
import { isPostgresUrl } from '../../directory/open-store.js';
import { FleetNode } from '../../directory/postgres/fleet-node.js';
import { PostgresKeyVault } from '../../directory/postgres/key-vault.js';
import { sharedFill } from '../../directory/postgres/shared-fill.js';
import { PostgresStore } from '../../directory/postgres/store.js';
import { loadKek } from '../../directory/kek.js';
import { poolEvaluator } from '../../parallel/index.js';
import { directorySuite, openDirectory, startWorkerPool } from '../open-directory.js';
import { progressBar } from '../progress.js';
import { rejectedRowLine } from '../import-report.js';
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
}

export async function directoryImport(file: string, options: ImportOptions): Promise<void> {
  const region = options.region === undefined ? undefined : (regionValue(options.region) as CountryCode);
  const parsed = parseDirectoryFile(readFileSync(file, 'utf8'), { defaultRegion: region });
  for (const e of parsed.errors) {
    console.error(rejectedRowLine(file, e)); // escaped: row contents come from the file
  }
  // Checked before the store is opened: with --strict a bad file changes nothing.
  if (options.strict && parsed.errors.length > 0) {
    throw new ContactPsiError('rejected_entries', `${file}: ${parsed.errors.length} rows rejected (--strict: nothing was imported)`);
  }
  const opened = await openDirectory(options.db, 'auto', true, { kekFile: options.kekFile });
  const { directory } = opened;
  try {
    const importBar = progressBar('import');
    const { changes, version } = await directory.importUsers(parsed.users, (done, total) => importBar.update(done, total));
    importBar.done();
    if (directory.store instanceof PostgresStore) {
      // The nodes of a running fleet heard of the change and claim ranges of the new tags
      // too: this process takes its share, and the pass below finds the rest done.
      const fill = await sharedFill({
        pool: directory.store.pool,
        store: directory.store,
        suite: directory.suite,
        secretKey: directory.epochKeyPair().secretKey,
        epoch: directory.currentEpoch,
        node: `import@${hostname()}:${process.pid}`,
        evaluator: opened.pool ? poolEvaluator(opened.pool, directory.suite) : undefined,
        rangeSize: options.fillRange === undefined ? undefined : Number(options.fillRange),
      });
      console.error(`shared precompute: this process computed ${fill.computed} tags in ${fill.ranges} claimed ranges`);
    }
    const precomputeBar = progressBar('precompute');
    const { computed, pruned } = await directory.precompute((done, total) => precomputeBar.update(done, total));
    precomputeBar.done();
    const snapshot = await directory.snapshot('fuse');
    console.log(
      `imported ${parsed.users.length} users (${changes} changes, ${parsed.errors.length} rejected rows); ` +
        `tags: ${computed} computed, ${pruned} pruned; epoch ${directory.epoch} version ${version}; ` +
        `snapshot ${snapshot.count} entries, ${snapshot.bytes.length} bytes, digest ${snapshot.digest}`,
    );
  } finally {
    await opened.close();
  }
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
