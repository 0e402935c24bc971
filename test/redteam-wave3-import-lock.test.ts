/**
 * Red team (wave 3): `directory import` runs one at a time per stage file. Two runs at once
 * shared <db>.import: the second reset the stage under the first (or appended the same rows
 * again and died on a UNIQUE constraint), and the first then applied a mix of both files
 * (shown by staging a.csv and b.csv concurrently: 250 rows of a, 50 of b, reported as 300).
 * Now the stage is held by an OS lock (<stage>.lock) for the whole run: a second run is
 * refused with `directory_locked` before it reads or writes anything.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStagePath, directoryImport } from '../src/cli/commands/directory-import.js';
import { lockDirectory } from '../src/directory/directory-lock.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-rt3-import-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('directory import: one run per stage file', () => {
  it('is refused (directory_locked) while another run holds the stage, touching neither the stage nor the directory', async () => {
    const db = join(work, 'held.db');
    const stage = defaultStagePath(db);
    const other = lockDirectory(stage, 'directory import');
    try {
      await expect(directoryImport(join(work, 'users.csv'), { db, strict: true })).rejects.toMatchObject({ code: 'directory_locked' });
      expect(existsSync(stage)).toBe(false);
      expect(existsSync(db)).toBe(false);
    } finally {
      other.release();
    }
  });

  it('releases the stage when a run fails, so the next run can take it', async () => {
    const db = join(work, 'failing.db');
    const stage = join(work, 'custom.stage');
    // --strict stages before opening the store: a missing file fails there.
    await expect(directoryImport(join(work, 'missing.csv'), { db, strict: true, stage })).rejects.toMatchObject({ code: 'ENOENT' });
    const next = lockDirectory(stage, 'directory import');
    next.release();
    expect(existsSync(db)).toBe(false);
  });
});
