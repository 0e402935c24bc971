/**
 * Issue 9 §3: `directory rotate` while a server owned the directory was accepted, and an
 * epoch key later went missing from the key file. One owner at a time (serve, rotate), a
 * clear error naming the holder, a dead holder's lock free at once; and a key ring never
 * overwrites a key file that another process changed under it.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDirectory, lockHolder } from '../src/directory/directory-lock.js';
import { EpochKeyRing } from '../src/directory/epoch-keys.js';
import { createKeyFile, loadKeyFile } from '../src/directory/keyfile.js';
import { fileKeyStorage } from '../src/directory/key-storage.js';
import { voprfSuite } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const root = mkdtempSync(join(tmpdir(), 'cpsi-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `dir-${n++}.db`);
const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process holding the lock the way lockDirectory does (owner row, then BEGIN
 * IMMEDIATE), so the test can kill it: prints "locked" once it holds it.
 */
async function foreignHolder(db: string) {
  const script = `
    const Database = require(${JSON.stringify(sqlitePath)});
    const c = new Database(${JSON.stringify(`${db}.lock`)}, { timeout: 0 });
    c.exec('CREATE TABLE IF NOT EXISTS owner (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, command TEXT NOT NULL, since INTEGER NOT NULL)');
    c.prepare('INSERT INTO owner VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, command = excluded.command, since = excluded.since').run(process.pid, 'serve', 0);
    c.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  expect(chunk.toString()).toBe('locked\n');
  return child;
}

describe('the directory lock', () => {
  it('one owner at a time; the second is refused naming the holder; release frees it', () => {
    const db = fresh();
    const first = lockDirectory(db, 'serve', 1_700_000_000_000);
    expect(statSync(first.path).mode & 0o077).toBe(0);
    let error: { code?: string; message?: string } | undefined;
    try {
      lockDirectory(db, 'directory rotate');
    } catch (err) {
      error = err as typeof error;
    }
    expect(error?.code).toBe('directory_locked');
    expect(error?.message).toContain(`process ${process.pid} (serve, since 2023-11-14T22:13:20.000Z)`);
    expect(lockHolder(db)).toMatchObject({ pid: process.pid, command: 'serve' });
    first.release();
    first.release(); // idempotent
    const second = lockDirectory(db, 'directory rotate');
    expect(lockHolder(db)).toMatchObject({ pid: process.pid, command: 'directory rotate' });
    second.release();
  });

  it('a lock held by another process is refused with its pid, and is free the moment that process is killed (-9)', async () => {
    const db = fresh();
    const child = await foreignHolder(db);
    try {
      expect(() => lockDirectory(db, 'directory rotate')).toThrow(expect.objectContaining({ code: 'directory_locked', message: expect.stringContaining(`process ${child.pid} (serve`) }));
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // The dead owner's record is still in the file; it is not a holder, and the lock is free.
    expect(lockHolder(db)).toBeUndefined();
    const lock = lockDirectory(db, 'directory rotate');
    expect(lockHolder(db)).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('`directory rotate` is refused while a server owns the directory, before it opens anything', async () => {
    const { directoryRotate } = await import('../src/cli/commands/directory-import.js');
    const db = fresh();
    const serve = lockDirectory(db, 'serve');
    try {
      await expect(directoryRotate({ db, graceHours: '1' })).rejects.toMatchObject({ code: 'directory_locked' });
    } finally {
      serve.release();
    }
  });

  it('directories are locked independently', () => {
    const a = lockDirectory(fresh(), 'serve');
    const b = lockDirectory(fresh(), 'serve');
    a.release();
    b.release();
  });
});

describe('key file updates', () => {
  const suite = voprfSuite();

  it('a key ring refuses to overwrite a key file another process changed (the lost-epoch bug)', async () => {
    const path = join(root, `keys-${n++}`);
    const rng = seededRng(7);
    createKeyFile(path, { suite: suite.id, epochs: [{ epoch: 1, secretKey: suite.generateKeyPair(rng).secretKey, createdAt: 1 }] });
    // The server's ring, loaded at start.
    const server = new EpochKeyRing(suite, fileKeyStorage(path), loadKeyFile(path).epochs);
    // `directory rotate` in another process adds epoch 2.
    const rotation = new EpochKeyRing(suite, fileKeyStorage(path), loadKeyFile(path).epochs);
    await rotation.generate(2, rng, 2);
    expect(loadKeyFile(path).epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // The server retiring epochs from its stale view used to write [1] and lose epoch 2's key.
    await expect(server.setRetiresAt(1, 3)).rejects.toThrow(expect.objectContaining({ code: 'key_file_changed' }));
    expect(loadKeyFile(path).epochs.map((e) => e.epoch)).toEqual([1, 2]);
    // The up-to-date ring keeps working.
    await rotation.setRetiresAt(1, 3);
    expect(loadKeyFile(path).epochs.map((e) => [e.epoch, e.retiresAt])).toEqual([
      [1, 3],
      [2, undefined],
    ]);
  });

  it('an update leaves a 0600 file and no temporary file behind', async () => {
    const path = join(root, `keys-${n++}`);
    const rng = seededRng(8);
    createKeyFile(path, { suite: suite.id, epochs: [{ epoch: 1, secretKey: suite.generateKeyPair(rng).secretKey, createdAt: 1 }] });
    const ring = new EpochKeyRing(suite, fileKeyStorage(path), loadKeyFile(path).epochs);
    await ring.generate(2, rng, 2);
    await ring.remove([1]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8')).epochs.map((e: { epoch: number }) => e.epoch)).toEqual([2]);
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
