/**
 * The library server is the CLI's server (issue 12 §1): `serveDirectory` from the package.
 *
 * - threads: one worker pool for the whole server, whatever the number of connections (the
 *   README's old snippet started two threads per connection: 11 -> 31 after 10 syncs);
 * - exit: a process that starts it, syncs and calls close() ends by itself (no pool thread,
 *   timer or socket keeps it alive) — a child process on the built package;
 * - refresh: a user imported by another process while the server runs is found once the
 *   refresh loop ran (waited on the server's 'refresh' event, not on a clock);
 * - quotas and tokens: with a Map of accounts, an unknown token is refused at the upgrade and
 *   a known one is charged per new contact (the quota types come from the package entry);
 *   close() stops the timers (no refresh after close) and the server is not ready any more.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { serveDirectory, type BucketPolicy, type DirectoryRefreshEvent, type DirectoryServer } from '../src/index.js';
import { seededRng } from '../src/contacts/generate.js';
import { parseAddressBook } from '../src/contacts/index.js';
import { generateUsers, openSqliteDirectory, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-server-library-');
afterAll(() => tmp.cleanup());

async function buildDirectory(db: string, users: Parameters<Awaited<ReturnType<typeof openSqliteDirectory>>['importUsers']>[0]): Promise<void> {
  const directory = await openSqliteDirectory(db);
  await directory.importUsers(users);
  await directory.precompute();
  await directory.close();
}

const book = (phones: string[]) => parseAddressBook(`name,phone\n${phones.map((p, i) => `C${i},${p}`).join('\n')}\n`, { defaultRegion: 'CH' });

describe('serveDirectory (library)', () => {
  it('keeps one pool for all connections, and a process that closes it exits by itself', async () => {
    const db = join(tmp.path, 'child.db');
    await buildDirectory(db, [
      { userId: 'ada', identifiers: ['tel:+41791230001'], label: new TextEncoder().encode('Ada') },
      { userId: 'eve', identifiers: ['tel:+41791230009'], label: new TextEncoder().encode('Eve') },
    ]);
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'server-library-child.mjs'), db, '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    // The child never calls process.exit: reaching 'exit' at all is the test (vitest's timeout bounds it).
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, err).toBe(0);
    const { first, last, counts } = JSON.parse(out.trim()) as { first: number; last: number; counts: number[] };
    expect(counts).toHaveLength(10);
    // Flat: the 10th sync runs on exactly the threads the 1st did (2 workers, not 2 per connection).
    expect(last, `threads after each sync: ${counts.join(', ')}`).toBe(first);
  });

  it('picks up a user imported by another process on its own refresh, and stops refreshing at close()', async () => {
    const db = join(tmp.path, 'refresh.db');
    await buildDirectory(db, generateUsers(seededRng(7), 20));
    const server = await serveDirectory({ store: db, host: '127.0.0.1', port: 0, workers: 0, refreshMs: 20 });
    try {
      const newcomer = '+41791239999';
      const before = await sync(server.url, book([newcomer]), join(tmp.path, 'cache-refresh'));
      expect(before.matches).toHaveLength(0);
      const version = server.backend.current().snapshot.version;

      // Another process (`contact-psi directory import`) adds the user to the same file.
      const importer = await openSqliteDirectory(db);
      await importer.importUsers([{ userId: 'newcomer', identifiers: [`tel:${newcomer}`], label: new TextEncoder().encode('New') }]);
      await importer.precompute();
      await importer.close();

      let event: DirectoryRefreshEvent;
      do [event] = (await once(server, 'refresh')) as [DirectoryRefreshEvent];
      while (event.version === version);
      const after = await sync(server.url, book([newcomer]), join(tmp.path, 'cache-refresh'));
      expect(after.matches.map((m) => m.userId)).toEqual(['newcomer']);
    } finally {
      await server.close();
    }
    expect(server.ready).toBe(false);
    // No refresh runs after close: refresh() now would be the caller's, and the timer is gone.
    let refreshed = false;
    server.on('refresh', () => (refreshed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(refreshed).toBe(false);
  });

  it('rotates on rotate(), and a rotation period past 24.8 days (2^31-1 ms, where Node timers overflow) does not fire at once', async () => {
    const db = join(tmp.path, 'rotate.db');
    await buildDirectory(db, generateUsers(seededRng(8), 10));
    const server = await serveDirectory({ store: db, host: '127.0.0.1', port: 0, workers: 0, refreshMs: 10, rotate: { everyMs: 30 * 86_400_000, graceMs: 3_600_000 } });
    let rotations = 0;
    server.on('rotation', () => rotations++);
    try {
      // Three refreshes: a 30-day timer that overflowed would have fired (after 1 ms) long before.
      for (let i = 0; i < 3; i++) await once(server, 'refresh');
      expect(rotations).toBe(0);
      expect(server.backend.current().epoch).toBe(1);
      const rotated = await server.rotate();
      expect(rotated).toMatchObject({ epoch: 2, previous: 1 });
      expect(server.backend.current().epoch).toBe(2);
      expect(await server.metrics.text()).toMatch(/^contact_psi_directory_epoch 2$/m);
    } finally {
      await server.close();
    }
  });

  it('wires quotas and tokens: an unknown token is refused, new contacts are charged once each', async () => {
    const db = join(tmp.path, 'quota.db');
    const users = generateUsers(seededRng(9), 30);
    await buildDirectory(db, users);
    const sync_: BucketPolicy = { capacity: 100, refillPerMs: 0 };
    const token = 'token-of-dora-0123456789';
    let server: DirectoryServer | undefined;
    try {
      server = await serveDirectory({ store: db, host: '127.0.0.1', port: 0, workers: 0, accounts: new Map([[token, 'dora']]), quota: { sync: sync_ } });
      const phones = ['+41791231001', '+41791231002', '+41791231003'];
      await expect(sync(server.url, book(phones), join(tmp.path, 'cache-q0'), { token: 'not-a-token-0123456789' })).rejects.toBeInstanceOf(Error);
      await sync(server.url, book(phones), join(tmp.path, 'cache-q'), { token });
      expect((await server.directory.getBucket('sync:dora'))?.tokens).toBe(97);
      // The server's own metrics saw the same charge.
      expect(await server.metrics.text()).toMatch(/^contact_psi_quota_tokens_charged_total\{purpose="sync"\} 3$/m);
    } finally {
      await server?.close();
    }
  });

  it('refuses bad options with invalid_option', async () => {
    await expect(serveDirectory({ host: '127.0.0.1', port: 0, workers: 0 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(serveDirectory({ store: join(tmp.path, 'x.db'), workers: -1 })).rejects.toBeInstanceOf(ContactPsiError);
    await expect(serveDirectory({ store: join(tmp.path, 'x.db'), workers: 0, refreshMs: 1.5 })).rejects.toMatchObject({ code: 'invalid_option' });
  });
});
