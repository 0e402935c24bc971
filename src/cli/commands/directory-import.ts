/** `contact-psi directory import <file.csv|file.json> --db <path>`: create or update the directory. */
import { readFileSync } from 'node:fs';
import type { CountryCode } from '../../contacts/index.js';
import { parseDirectoryFile } from '../../directory/index.js';
import { lockDirectory } from '../../directory/directory-lock.js';
import { openDirectory } from '../open-directory.js';
import { progressBar } from '../progress.js';
import { rejectedRowLine } from '../import-report.js';

export interface ImportOptions {
  db: string;
  region?: string;
}

export async function directoryImport(file: string, options: ImportOptions): Promise<void> {
  const parsed = parseDirectoryFile(readFileSync(file, 'utf8'), { defaultRegion: options.region as CountryCode | undefined });
  for (const e of parsed.errors) {
    console.error(rejectedRowLine(file, e)); // escaped: row contents come from the file
  }
  const opened = await openDirectory(options.db);
  const { directory } = opened;
  try {
    const importBar = progressBar('import');
    const { changes, version } = await directory.importUsers(parsed.users, (done, total) => importBar.update(done, total));
    importBar.done();
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

/** `contact-psi directory rotate --db <path>`: next epoch precomputed, then switched to. */
export async function directoryRotate(options: { db: string; graceHours: string }): Promise<void> {
  const graceMs = Number(options.graceHours) * 3600_000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new Error('--grace-hours must be a non-negative number');
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
