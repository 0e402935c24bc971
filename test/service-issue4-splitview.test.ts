/**
 * Issue 4, verifiability against split views (spec/discovery.md §8) over loopback sockets.
 * Two servers share one key, epoch and version but hold different directories: a SQLite
 * directory copied (database and key file) and then changed differently on each side, one
 * extra user each, so both are at version v+1 with different snapshots. A client that asks
 * the other server as a witness fails with `split_view`; an honest witness passes; a client
 * whose cache holds the digest of (epoch, version) from one server and then meets the other
 * (through a proxy re-pointed behind the same URL) fails with `split_view` too.
 */
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import type { DirectoryUser } from '../src/directory/index.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { expectedRows, generateUsers, openSqliteDirectory, outcomeRows, parsePlanned, smallBook, sync, tempDir, type PlannedContact } from './helpers/service.js';
import { copyDirectoryFiles, hex, tcpProxy } from './helpers/service-issue4.js';

const tmp = tempDir('contact-psi-issue4-splitview-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(1717), 700);
const extra = (name: string): DirectoryUser => ({ userId: name, identifiers: [`mailto:${name}@fork.example.org`], label: new TextEncoder().encode(`pk:${name}`), discoverable: true });
const extraA = extra('only-on-a');
const extraB = extra('only-on-b');
const usersA = [...users, extraA];
const usersB = [...users, extraB];
const contact = (u: DirectoryUser, i: number): PlannedContact => ({ name: `Forked ${i}`, phones: [], emails: [u.identifiers[0]!.slice(7)], identifiers: new Set(u.identifiers) });
const planned = [...smallBook(seededRng(17), users, { contacts: 6, registered: 8, unregistered: 3 }), contact(extraA, 0), contact(extraB, 1)];
const book = parsePlanned(planned, 'vcard-3.0', 'CH');

/** A and B: forked at version v, each one user more (v+1). C: the common ancestor at v. */
let a: RunningServer;
let b: RunningServer;
let c: RunningServer;
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);

beforeAll(async () => {
  const dbA = join(tmp.path, 'a.db');
  const base = await openSqliteDirectory(dbA);
  await base.importUsers(users);
  await base.precompute();
  // One operator's log up to here (key statement, announcement of this version): the copies
  // share it, so c is a witness behind, and a and b fork it at the next version.
  await DirectoryDiscoveryBackend.open(base, 'fuse');
  await base.close();
  copyDirectoryFiles(dbA, join(tmp.path, 'b.db'));
  copyDirectoryFiles(dbA, join(tmp.path, 'c.db'));
  const dirA = await openSqliteDirectory(dbA);
  const dirB = await openSqliteDirectory(join(tmp.path, 'b.db'));
  const dirC = await openSqliteDirectory(join(tmp.path, 'c.db'));
  await dirA.importUsers([extraA]);
  await dirB.importUsers([extraB]);
  [a, b, c] = await Promise.all([dirA, dirB, dirC].map((d) => serveDirectory(d, { host: '127.0.0.1', port: 0 })));
});
afterAll(() => Promise.all([a, b, c].map((s) => s?.close())));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('split views', () => {
  it('the forks really are one (epoch, key, version) with two snapshots', () => {
    const [va, vb, vc] = [a, b, c].map((s) => s.backend.current());
    expect(vb.epoch).toBe(va.epoch);
    expect(hex(vb.keys.publicKey)).toBe(hex(va.keys.publicKey));
    expect(vb.snapshot.version).toBe(va.snapshot.version);
    expect(hex(vb.snapshot.digest)).not.toBe(hex(va.snapshot.digest));
    expect(vc.epoch).toBe(va.epoch);
    expect(vc.snapshot.version).toBe(va.snapshot.version - 1);
  });

  it('a witness serving another snapshot for the same (epoch, version) fails the sync with split_view; an honest witness passes', async () => {
    const cacheDir = freshCache();
    const lied = await failure(sync(a.server.url, book, cacheDir, { witnesses: [b.server.url] }));
    expect(lied).toBeInstanceOf(ProtocolError);
    expect(lied).toMatchObject({ code: 'split_view', remote: false });
    expect((lied as Error).message).toContain(b.server.url);
    // Nothing from the refused sync is kept: no snapshot, no pinned key.
    const cache = new SnapshotCache(cacheDir, a.server.url);
    expect(cache.load()).toBeUndefined();
    expect(cache.pinned()).toBeUndefined();

    // The same server as its own witness: the same view.
    const honest = await sync(a.server.url, book, cacheDir, { witnesses: [a.server.url] });
    expect(outcomeRows(honest)).toEqual(expectedRows(planned, usersA));
    expect(honest.matches.some((m) => m.userId === extraA.userId)).toBe(true);
    expect(honest.matches.some((m) => m.userId === extraB.userId)).toBe(false);

    // Either side, any position in the witness list.
    expect(await failure(sync(b.server.url, book, freshCache(), { witnesses: [a.server.url] }))).toMatchObject({ code: 'split_view' });
    expect(await failure(sync(a.server.url, book, freshCache(), { witnesses: [a.server.url, b.server.url] }))).toMatchObject({ code: 'split_view' });
    // A witness at another version proves nothing either way: not a split view.
    const stale = await sync(a.server.url, book, freshCache(), { witnesses: [c.server.url] });
    expect(outcomeRows(stale)).toEqual(expectedRows(planned, usersA));
  });

  it('a cache holding digest D for (epoch, version) refuses another digest for the same (epoch, version): split_view', async () => {
    const proxy = await tcpProxy(a.server.url);
    try {
      const cacheDir = freshCache();
      const first = await sync(proxy.url, book, cacheDir);
      expect(outcomeRows(first)).toEqual(expectedRows(planned, usersA));
      const cache = new SnapshotCache(cacheDir, proxy.url);
      const digestA = hex(cache.load()!.digest);
      expect(digestA).toBe(hex(a.backend.current().snapshot.digest));

      // Same URL, same pinned key, same (epoch, version): another snapshot.
      proxy.setTarget(b.server.url);
      const error = await failure(sync(proxy.url, book, cacheDir));
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ code: 'split_view', remote: false });
      expect(hex(cache.load()!.digest)).toBe(digestA);

      // Back on A: the cache is still good.
      proxy.setTarget(a.server.url);
      const back = await sync(proxy.url, book, cacheDir);
      expect(back.result.cacheHit).toBe(true);
      expect(outcomeRows(back)).toEqual(outcomeRows(first));
    } finally {
      await proxy.close();
    }
  });

  // After a delta the cache's version has no base digest of its own; the client keeps the
  // digest dir.info announced for it (infoDigest), so a witness or a later server can
  // still be checked at that version.
  it('a client brought to v+1 by a delta notices a witness with another snapshot at v+1', async () => {
    const proxy = await tcpProxy(c.server.url);
    try {
      const cacheDir = freshCache();
      await sync(proxy.url, book, cacheDir);
      proxy.setTarget(a.server.url);
      const error = await failure(sync(proxy.url, book, cacheDir, { witnesses: [b.server.url] }));
      expect(error).toMatchObject({ code: 'split_view' });
    } finally {
      await proxy.close();
    }
  });

  it('a cache brought to v+1 by a delta from A refuses B\'s different snapshot for v+1', async () => {
    const proxy = await tcpProxy(c.server.url);
    try {
      const cacheDir = freshCache();
      await sync(proxy.url, book, cacheDir);
      proxy.setTarget(a.server.url);
      const viaDelta = await sync(proxy.url, book, cacheDir);
      expect(viaDelta.result.deltaApplied).toBe(true);
      proxy.setTarget(b.server.url);
      const error = await failure(sync(proxy.url, book, cacheDir));
      expect(error).toMatchObject({ code: 'split_view' });
    } finally {
      await proxy.close();
    }
  });
});
