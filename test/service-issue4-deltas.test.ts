/**
 * Issue 4, deltas (spec/discovery.md §6) over a loopback socket against a SQLite directory
 * of 2,000 users: after imports, opt-outs and removals (and a refresh of the backend) a
 * client with a cached snapshot is brought up to date by a delta, finds a new user at once
 * and no longer finds the ones who left, exactly as a fresh client does; and the delta on
 * the wire costs 8 bytes per changed tag plus a small fixed overhead.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import type { DirectoryUser } from '../src/directory/index.js';
import { encodeMessage } from '../src/protocol/codec.js';
import type { DirDelta } from '../src/protocol/discovery/messages.js';
import { buildDirectory, decodeDiscovery, expectedRows, generateUsers, outcomeRows, parsePlanned, phoneWritings, smallBook, sync, tempDir, waitFor, type PlannedContact } from './helpers/service.js';
import { greet, hex, tcpProxy } from './helpers/service-issue4.js';

const tmp = tempDir('contact-psi-issue4-deltas-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(404), 2000);
/** The directory as it is now (the model every sync is checked against). */
const model = new Map<string, DirectoryUser>(users.map((u) => [u.userId, u]));
/** Discoverable users with exactly one identifier: opting one out or removing it changes exactly one tag. */
const singles = users.filter((u) => u.discoverable && u.identifiers.length === 1);
let running: RunningServer;
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);
const enc = new TextEncoder();

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
});
afterAll(() => running?.close());

/** One contact per user holding every identifier of the user, in a couple of writings. */
function contactsOf(people: readonly DirectoryUser[], tag: string): PlannedContact[] {
  return people.map((u, i) => ({
    name: `${tag} ${i} (${u.userId})`,
    phones: u.identifiers.filter((id) => id.startsWith('tel:')).flatMap((id) => phoneWritings(id.slice(4), 'CH').slice(0, 2)),
    emails: u.identifiers.filter((id) => id.startsWith('mailto:')).map((id) => id.slice(7).toUpperCase()),
    identifiers: new Set(u.identifiers),
  }));
}

const newUser = (userId: string): DirectoryUser => ({ userId, identifiers: [`mailto:${userId}@new.example.net`], label: enc.encode(`pk:${userId}`), discoverable: true });

async function optOut(people: readonly DirectoryUser[]): Promise<void> {
  const hidden = people.map((u) => ({ ...u, discoverable: false }));
  await running.directory.importUsers(hidden);
  for (const u of hidden) model.set(u.userId, u);
}

async function remove(people: readonly DirectoryUser[]): Promise<void> {
  for (const u of people) {
    expect(await running.directory.removeUser(u.userId)).toBe(true);
    model.delete(u.userId);
  }
}

async function add(people: readonly DirectoryUser[]): Promise<void> {
  await running.directory.importUsers(people);
  for (const u of people) model.set(u.userId, u);
}

/** A raw client's dir.delta from `fromVersion` of the current epoch: the bytes as received, decoded. */
async function fetchDelta(fromVersion: number): Promise<{ bytes: Uint8Array; delta: DirDelta }> {
  const { peer, info } = await greet(running.server.url);
  peer.send({ t: 'dir.delta.get', epoch: info.epoch, fromVersion });
  await peer.received(2);
  const bytes = peer.messages[1]!;
  const delta = decodeDiscovery(bytes) as DirDelta;
  expect(delta).toMatchObject({ t: 'dir.delta', epoch: info.epoch, fromVersion, toVersion: info.version });
  peer.ws.close();
  await peer.closed;
  return { bytes, delta };
}

describe('deltas over a socket', () => {
  it('a new user is found at the next sync via a delta (no download); opted-out and removed users are gone; same as a fresh client', async () => {
    const url = running.server.url;
    const pool = singles.slice(0, 40);
    const leaverOptOut = users.find((u) => u.discoverable && u.identifiers.length >= 2 && !pool.includes(u))!;
    const leaverRemoved = pool[0]!;
    const relabelled = pool[1]!;
    const newcomer = newUser('newcomer-1');
    const planned = [
      ...smallBook(seededRng(8), users, { contacts: 8, registered: 12, unregistered: 6 }),
      ...contactsOf([leaverOptOut, leaverRemoved, relabelled, newcomer], 'Watched'),
    ];
    const book = parsePlanned(planned, 'vcard-4.0', 'CH');
    const cacheDir = freshCache();
    const view0 = running.backend.current();

    const first = await sync(url, book, cacheDir);
    expect(first.result.cacheHit).toBe(false);
    expect(first.result.downloadedBytes).toBe(view0.snapshot.bytes.length);
    expect(outcomeRows(first)).toEqual(expectedRows(planned, [...model.values()]));
    const found0 = new Set(first.matches.map((m) => m.userId));
    expect(found0.has(newcomer.userId)).toBe(false);
    expect(found0.has(leaverOptOut.userId) && found0.has(leaverRemoved.userId) && found0.has(relabelled.userId)).toBe(true);

    // Changes: a registration, an opt-out (two tags or more), a removal, a label-only change.
    await add([newcomer]);
    await optOut([leaverOptOut]);
    await remove([leaverRemoved]);
    const newLabel = { ...relabelled, label: enc.encode('pk:relabelled') };
    await running.directory.importUsers([newLabel]);
    model.set(relabelled.userId, newLabel);
    const view1 = await running.backend.refresh();
    expect(view1.epoch).toBe(view0.epoch);
    expect(view1.snapshot.version).toBe(view0.snapshot.version + 4);
    const tagChanges = 1 + leaverOptOut.identifiers.length + 1;
    const { delta } = await fetchDelta(view0.snapshot.version);
    expect(delta.available).toBe(true);
    expect(delta.added.length).toBe(8);
    expect(delta.removed.length).toBe(8 * (tagChanges - 1));

    const second = await sync(url, book, cacheDir);
    expect(second.result.deltaApplied).toBe(true);
    expect(second.result.cacheHit).toBe(true);
    expect(second.result.downloadedBytes).toBe(0);
    expect(second.result.falsePositives).toBe(0);
    expect(second.result.snapshot).toMatchObject({ epoch: view0.epoch, version: view1.snapshot.version, baseVersion: view0.snapshot.version });
    const found1 = new Map(second.matches.map((m) => [m.userId, m]));
    expect(found1.get(newcomer.userId)?.label).toBe('pk:newcomer-1');
    expect(found1.has(leaverOptOut.userId)).toBe(false);
    expect(found1.has(leaverRemoved.userId)).toBe(false);
    expect(found1.get(relabelled.userId)?.label).toBe('pk:relabelled');
    const want = expectedRows(planned, [...model.values()]);
    expect(outcomeRows(second)).toEqual(want);

    // A fresh client (new cache) downloads the new snapshot and sees exactly the same.
    const fresh = await sync(url, book, freshCache());
    expect(fresh.result.cacheHit).toBe(false);
    expect(fresh.result.downloadedBytes).toBe(view1.snapshot.bytes.length);
    expect(outcomeRows(fresh)).toEqual(outcomeRows(second));

    // The delta was saved: the next sync is a plain cache hit at the new version.
    const saved = new SnapshotCache(cacheDir, url).load()!;
    expect(saved).toMatchObject({ epoch: view0.epoch, version: view1.snapshot.version, baseVersion: view0.snapshot.version });
    expect(hex(saved.digest)).toBe(hex(view0.snapshot.digest));
    expect(saved.added!.length).toBe(8);
    expect(saved.removed!.length).toBe(8 * (tagChanges - 1));
    const third = await sync(url, book, cacheDir);
    expect(third.result.cacheHit).toBe(true);
    expect(third.result.deltaApplied).toBe(false);
    expect(third.result.downloadedBytes).toBe(0);
    expect(outcomeRows(third)).toEqual(want);
  });

  it('delta size on the wire: 8 bytes per changed tag plus a fixed overhead, for 1, 10, 100 and 1000 changes', async () => {
    // Plan every step up front so one address book watches all of them.
    const sizes = [1, 10, 100, 1000];
    const pool = singles.filter((u) => model.get(u.userId) === u);
    const steps = sizes.map((n) => {
      const adds = Math.ceil(n / 2);
      const optOuts = Math.floor((n - adds) / 2);
      const removals = n - adds - optOuts;
      return {
        n,
        add: Array.from({ length: adds }, (_, i) => newUser(`new-${n}-${i}`)),
        optOut: pool.splice(0, optOuts),
        remove: pool.splice(0, removals),
      };
    });
    expect(steps.at(-1)!.remove).toHaveLength(250);
    const watched = steps.flatMap((s) => [...s.add.slice(0, 3), ...s.optOut.slice(0, 3), ...s.remove.slice(0, 3)]);
    const planned = [...smallBook(seededRng(9), users, { contacts: 6, registered: 8, unregistered: 4 }), ...contactsOf(watched, 'Watched')];
    const book = parsePlanned(planned, 'csv', 'CH');

    // Every sync goes through a proxy that counts the bytes of each connection.
    const proxy = await tcpProxy(running.server.url);
    const counted = async (cacheDir: string) => {
      const index = proxy.connections.length;
      const outcome = await sync(proxy.url, book, cacheDir);
      return { outcome, down: proxy.connections[index]!.down };
    };
    try {
      const cacheDir = freshCache();
      const base = await counted(cacheDir);
      expect(base.outcome.result.cacheHit).toBe(false);
      const initialCache = new SnapshotCache(cacheDir, proxy.url).load()!;
      const rows: Record<string, number | string>[] = [];

      for (const step of steps) {
        const from = running.backend.current().snapshot.version;
        await add(step.add);
        await optOut(step.optOut);
        await remove(step.remove);
        const view = await running.backend.refresh();
        const snapshotBytes = view.snapshot.bytes.length;

        const { bytes, delta } = await fetchDelta(from);
        expect(delta.available).toBe(true);
        expect(delta.added.length).toBe(8 * step.add.length);
        expect(delta.removed.length).toBe(8 * (step.optOut.length + step.remove.length));
        const tagBytes = delta.added.length + delta.removed.length;
        expect(tagBytes).toBe(8 * step.n);
        // The rest of the message does not grow with the change: at most the bin headers widen.
        const empty = encodeMessage({ ...delta, added: new Uint8Array(0), removed: new Uint8Array(0) }).length;
        const overhead = bytes.length - tagBytes;
        expect(overhead).toBeGreaterThanOrEqual(empty);
        expect(overhead).toBeLessThanOrEqual(empty + 8);
        expect(bytes.length).toBeLessThanOrEqual(8 * step.n + 128);

        const viaDelta = await counted(cacheDir);
        expect(viaDelta.outcome.result.deltaApplied).toBe(true);
        expect(viaDelta.outcome.result.downloadedBytes).toBe(0);
        const want = expectedRows(planned, [...model.values()]);
        expect(outcomeRows(viaDelta.outcome)).toEqual(want);
        const fresh = await counted(freshCache());
        expect(fresh.outcome.result.downloadedBytes).toBe(snapshotBytes);
        expect(outcomeRows(fresh.outcome)).toEqual(want);
        rows.push({
          changes: step.n,
          'dir.delta bytes': bytes.length,
          'tag bytes': tagBytes,
          overhead,
          snapshot: snapshotBytes,
          'delta/snapshot': `${((100 * bytes.length) / snapshotBytes).toFixed(1)}%`,
          'sync s→c (delta)': viaDelta.down,
          'sync s→c (fresh)': fresh.down,
        });
        expect(viaDelta.down).toBeLessThan(fresh.down);
      }
      console.log(`delta vs snapshot, ${users.length}-user directory:`);
      console.table(rows);

      // A cache from before every step catches up in one delta, or downloads when the delta
      // would not be smaller than the snapshot.
      const total = sizes.reduce((a, b) => a + b, 0);
      const view = running.backend.current();
      const { delta } = await fetchDelta(initialCache.version);
      const worthIt = 8 * total < view.snapshot.bytes.length;
      expect(delta.available).toBe(worthIt);
      if (worthIt) expect(delta.added.length + delta.removed.length).toBe(8 * total);
      const oldDir = freshCache();
      new SnapshotCache(oldDir, running.server.url).save(initialCache);
      const late = await sync(running.server.url, book, oldDir);
      expect(late.result.deltaApplied).toBe(worthIt);
      expect(late.result.downloadedBytes).toBe(worthIt ? 0 : view.snapshot.bytes.length);
      expect(outcomeRows(late)).toEqual(expectedRows(planned, [...model.values()]));
      console.log(`one delta over all ${total} changes: ${worthIt ? 'sent' : 'not smaller than the snapshot, downloaded instead'} (${8 * total} tag bytes vs ${view.snapshot.bytes.length} snapshot bytes)`);
    } finally {
      await proxy.close();
    }
  });

  // A session keeps the view it announced in dir.info while that epoch is served, so a
  // backend.refresh() between a client's dir.info and its next request does not break the
  // sync (a download of the announced version completes; a delta is declined and the
  // announced snapshot downloaded instead).
  it('a fresh client told version v completes its download when the server refreshes to v+1 meanwhile', async () => {
    const proxy = await tcpProxy(running.server.url, { holdAfterFirstFrame: true });
    try {
      const pending = sync(proxy.url, parsePlanned(contactsOf(singles.slice(-3), 'Late'), 'csv', 'CH'), freshCache());
      pending.catch(() => {});
      await waitFor(() => proxy.held === 1);
      await add([newUser('mid-download')]);
      await running.backend.refresh();
      proxy.release();
      const outcome = await pending;
      expect(outcome.result.cacheHit).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('a cached client told version v gets its delta when the server refreshes to v+1 meanwhile', async () => {
    const book = parsePlanned(contactsOf(singles.slice(-3), 'Late'), 'csv', 'CH');
    const cacheDir = freshCache();
    await sync(running.server.url, book, cacheDir);
    await add([newUser('before-info')]);
    await running.backend.refresh();
    // The cache (one version behind) under the URL of a proxy that holds clients after dir.info.
    const proxy = await tcpProxy(running.server.url, { holdAfterFirstFrame: true });
    try {
      new SnapshotCache(cacheDir, proxy.url).save(new SnapshotCache(cacheDir, running.server.url).load()!);
      const pending = sync(proxy.url, book, cacheDir);
      pending.catch(() => {});
      await waitFor(() => proxy.held === 1);
      await add([newUser('mid-delta')]);
      await running.backend.refresh();
      proxy.release();
      const outcome = await pending;
      expect(outcome.result.deltaApplied || outcome.result.downloadedBytes > 0).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
