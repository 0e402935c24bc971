/**
 * Issue 9 §3: the SQLite directory and its -wal and -shm hold every registered identifier
 * in clear; they were created 0644. They are 0600 whatever the umask, and a directory file
 * that group or others can access is refused, as key files are.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'cpsi-mode-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `dir-${n++}.db`);
const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Opens, writes a row (so SQLite has its WAL and shared memory), and returns the modes while open. */
async function modesWhileOpen(path: string): Promise<Record<string, number>> {
  const store = SqliteStore.open(path);
  try {
    await store.setMeta({ probe: '1' });
    const modes: Record<string, number> = {};
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) modes[suffix || 'db'] = modeOf(path + suffix);
    return modes;
  } finally {
    await store.close();
  }
}

describe.skipIf(process.platform === 'win32')('directory file modes', () => {
  it('the database, -wal and -shm are 0600 whatever the umask', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0o000, 0o002, 0o022, 0o027, 0o077), async (umask) => {
        const previous = process.umask(umask);
        try {
          const modes = await modesWhileOpen(fresh());
          expect(modes).toEqual({ db: 0o600, '-wal': 0o600, '-shm': 0o600 });
        } finally {
          process.umask(previous);
        }
      }),
      { numRuns: 5 },
    );
  });

  it('a database group or others can read is refused with directory_file_permissions, and opened on request', async () => {
    for (const loose of [0o640, 0o604, 0o644, 0o660]) {
      const path = fresh();
      await modesWhileOpen(path);
      chmodSync(path, loose);
      expect(() => SqliteStore.open(path)).toThrow(expect.objectContaining({ code: 'directory_file_permissions' }));
      const store = SqliteStore.open(path, { allowInsecurePermissions: true });
      await store.close();
    }
  });

  it('a readable -wal or -shm left by an older version is refused too', async () => {
    for (const suffix of ['-wal', '-shm']) {
      const path = fresh();
      await modesWhileOpen(path);
      writeFileSync(path + suffix, '', { mode: 0o644 });
      chmodSync(path + suffix, 0o644);
      expect(() => SqliteStore.open(path)).toThrow(expect.objectContaining({ code: 'directory_file_permissions', message: expect.stringContaining(suffix) }));
    }
  });

  it('a private database stays private, and an in-memory one is not touched', async () => {
    const path = fresh();
    await modesWhileOpen(path);
    expect(await modesWhileOpen(path)).toMatchObject({ db: 0o600 });
    const memory = SqliteStore.open(':memory:');
    await memory.close();
    expect(existsSync(':memory:')).toBe(false);
  });
});
