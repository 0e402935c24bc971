/**
 * Restarting the server on the same SQLite directory: the epoch key comes back from
 * `<db>.key`, the tags and the snapshot from the database, so the epoch, public key and
 * snapshot digest are unchanged, nothing is re-evaluated, and a client's cached snapshot
 * from before the restart is used as is (no download) and gives the same matches.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { serveDirectory } from '../src/cli/commands/serve.js';
import { openDirectory as openWithPool } from '../src/cli/open-directory.js';

// The directory as the CLI opens it, without the worker pool (these tests measure no speed).
const openDirectory = async (db: string, backend: 'sodium') => (await openWithPool(db, backend, false)).directory;
import { seededRng } from '../src/contacts/generate.js';
import { uniqueIdentifiers } from '../src/contacts/index.js';
import { ContactPsiError } from '../src/errors.js';
import { DiscoveryClientSession, type DiscoveryMatch } from '../src/protocol/discovery/client.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { directorySuite, expectedRows, generateUsers, outcomeRows, parsePlanned, smallBook, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-restart-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(91), 800);
const planned = smallBook(seededRng(3), users, { contacts: 10, registered: 14, unregistered: 5 });
const book = parsePlanned(planned, 'vcard-3.0', 'CH');
const expected = expectedRows(planned, users);
const discoverableIds = users.filter((u) => u.discoverable).reduce((n, u) => n + u.identifiers.length, 0);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const byIdentifier = (ms: readonly DiscoveryMatch[]) => [...ms].sort((a, b) => a.identifier.localeCompare(b.identifier));

describe('restart', () => {
  it('same epoch, key and digest after reopening; no tags recomputed; a cached client hits and matches the same', async () => {
    const db = join(tmp.path, 'directory.db');
    const cacheDir = join(tmp.path, 'cache');
    expect(expected.length).toBeGreaterThan(0);

    // First run: build, serve, sync.
    const dir1 = await openDirectory(db, 'sodium');
    expect(dir1.keyPath).toBe(`${db}.key`);
    expect(statSync(`${db}.key`).mode & 0o077).toBe(0);
    await dir1.importUsers(users);
    expect(await dir1.precompute()).toEqual({ computed: discoverableIds, pruned: 0 });
    const run1 = await serveDirectory(dir1, { host: '127.0.0.1', port: 0 });
    const view1 = run1.backend.current();
    const url1 = run1.server.url;
    const out1 = await sync(url1, book, cacheDir);
    expect(outcomeRows(out1)).toEqual(expected);
    expect(out1.result.cacheHit).toBe(false);
    const seen = out1.result.snapshot;
    expect(hex(seen.digest)).toBe(hex(view1.snapshot.digest));
    expect(hex(seen.publicKey)).toBe(hex(view1.keys.publicKey));
    expect(hex(seen.publicKey)).toBe(hex(dir1.publicKey));
    expect(seen.epoch).toBe(view1.epoch);
    expect(seen.version).toBe(view1.snapshot.version);
    await run1.close();

    // Second run, on a new ephemeral port: everything comes back from the files.
    const dir2 = await openDirectory(db, 'sodium');
    expect(dir2.epoch).toBe(view1.epoch);
    expect(hex(dir2.publicKey)).toBe(hex(view1.keys.publicKey));
    expect(await dir2.precompute()).toEqual({ computed: 0, pruned: 0 });
    const run2 = await serveDirectory(dir2, { host: '127.0.0.1', port: 0 });
    try {
      const view2 = run2.backend.current();
      expect(view2.epoch).toBe(view1.epoch);
      expect(hex(view2.keys.publicKey)).toBe(hex(view1.keys.publicKey));
      expect(hex(view2.snapshot.digest)).toBe(hex(view1.snapshot.digest));
      expect(view2.snapshot.version).toBe(view1.snapshot.version);
      expect(view2.snapshot.count).toBe(discoverableIds);
      expect(Buffer.from(view2.snapshot.bytes).equals(Buffer.from(view1.snapshot.bytes))).toBe(true);
      expect(await dir2.precompute()).toEqual({ computed: 0, pruned: 0 });

      // The first run's cached snapshot (the SDK files it under the old URL), pinned key included.
      const cached = new SnapshotCache(cacheDir, url1).load();
      expect(cached).toBeDefined();
      const session = new DiscoveryClientSession({
        suite: directorySuite(),
        identifiers: uniqueIdentifiers(book),
        rng: (n) => new Uint8Array(randomBytes(n)),
        cache: cached,
        pinnedPublicKey: seen.publicKey,
      });
      const result = await runClientSession(run2.server.url, session);
      expect(result.cacheHit).toBe(true);
      expect(result.downloadedBytes).toBe(0);
      expect(hex(result.snapshot.digest)).toBe(hex(seen.digest));
      expect(byIdentifier(result.matches)).toEqual(byIdentifier(out1.result.matches));
    } finally {
      await run2.close();
    }

    // Third run, back on the first port: the SDK finds its cache and pinned key by URL.
    const dir3 = await openDirectory(db, 'sodium');
    expect(await dir3.precompute()).toEqual({ computed: 0, pruned: 0 });
    const run3 = await serveDirectory(dir3, { host: '127.0.0.1', port: Number(new URL(url1).port) });
    try {
      expect(run3.server.url).toBe(url1);
      const onKeyChange = vi.fn();
      const out3 = await sync(run3.server.url, book, cacheDir, { onKeyChange, pinnedPublicKey: seen.publicKey });
      expect(out3.result.cacheHit).toBe(true);
      expect(out3.result.downloadedBytes).toBe(0);
      expect(outcomeRows(out3)).toEqual(outcomeRows(out1));
      expect(onKeyChange).not.toHaveBeenCalled();
    } finally {
      await run3.close();
    }
  });

  it('a change while the server was down: only the new tags are computed, same epoch and key, a new snapshot', async () => {
    const db = join(tmp.path, 'changed.db');
    const cacheDir = join(tmp.path, 'cache-changed');
    const dir1 = await openDirectory(db, 'sodium');
    await dir1.importUsers(users);
    await dir1.precompute();
    const run1 = await serveDirectory(dir1, { host: '127.0.0.1', port: 0 });
    const view1 = run1.backend.current();
    await sync(run1.server.url, book, cacheDir);
    await run1.close();

    // Offline: one new user holding an address from the book, one user opted out.
    const newcomer = { userId: 'user-new', identifiers: ['mailto:newcomer@example.org'], label: new TextEncoder().encode('pk:new'), discoverable: true };
    const leaver = users.find((u) => u.discoverable && expected.some((r) => r.userId === u.userId))!;
    const dir2 = await openDirectory(db, 'sodium');
    await dir2.importUsers([newcomer, { ...leaver, discoverable: false }]);
    await dir2.close();

    const dir3 = await openDirectory(db, 'sodium');
    expect(await dir3.precompute()).toEqual({ computed: 1, pruned: leaver.identifiers.length });
    const run3 = await serveDirectory(dir3, { host: '127.0.0.1', port: 0 });
    try {
      const view3 = run3.backend.current();
      expect(view3.epoch).toBe(view1.epoch);
      expect(hex(view3.keys.publicKey)).toBe(hex(view1.keys.publicKey));
      expect(hex(view3.snapshot.digest)).not.toBe(hex(view1.snapshot.digest));
      expect(view3.snapshot.count).toBe(discoverableIds + 1 - leaver.identifiers.length);
      const withNewcomer = [...planned, { name: 'Newcomer', phones: [], emails: ['NewComer@Example.org'], identifiers: new Set(['mailto:newcomer@example.org']) }];
      const now = users.map((u) => (u === leaver ? { ...u, discoverable: false } : u)).concat(newcomer);
      const out = await sync(run3.server.url, parsePlanned(withNewcomer, 'csv', 'CH'), cacheDir);
      expect(out.result.cacheHit).toBe(false);
      expect(outcomeRows(out)).toEqual(expectedRows(withNewcomer, now));
      expect(out.matches.some((m) => m.userId === 'user-new' && m.label === 'pk:new')).toBe(true);
      expect(out.matches.some((m) => m.userId === leaver.userId)).toBe(false);
    } finally {
      await run3.close();
    }
  });

  it('a directory whose key file is gone is refused, not silently re-keyed', async () => {
    const db = join(tmp.path, 'keyless.db');
    const dir = await openDirectory(db, 'sodium');
    await dir.importUsers(users.slice(0, 10));
    await dir.close();
    renameSync(`${db}.key`, `${db}.key.bak`);
    await expect(openDirectory(db, 'sodium')).rejects.toSatisfy((e: unknown) => e instanceof ContactPsiError && e.code === 'key_file_missing');
    expect(existsSync(`${db}.key`)).toBe(false);
    renameSync(`${db}.key.bak`, `${db}.key`);
    await (await openDirectory(db, 'sodium')).close();
  });
});
