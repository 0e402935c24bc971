/**
 * Issue 4, epochs and key rotation (spec/discovery.md §7, §8) over loopback sockets on a
 * SQLite directory: rotating while 20 clients sync (some held by a proxy right after
 * they got the old epoch's dir.info) loses none of them; a client with an old-epoch cache
 * downloads again and reports the key change as a rotation, not an error; the old epoch is
 * served through its grace period and refused (`unsupported`, 4501) once retired.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import { ProtocolError } from '../src/protocol/errors.js';
import type { DirSnapshotPart } from '../src/protocol/discovery/messages.js';
import { ErrorCloseCodes, type SessionReport } from '../src/transport/ws/index.js';
import { buildDirectory, expectedRows, generateUsers, outcomeRows, parsePlanned, sessionReports, smallBook, sync, tempDir, waitFor } from './helpers/service.js';
import { greet, hex, tcpProxy } from './helpers/service-issue4.js';

const tmp = tempDir('contact-psi-issue4-rotation-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(4242), 1200);
const GRACE_MS = 10 * 60_000;
let running: RunningServer;
let reports: SessionReport[];
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);

const clients = Array.from({ length: 20 }, (_, i) => {
  const planned = smallBook(seededRng(500 + i), users, { contacts: 5, registered: 5, unregistered: 3 }, (['CH', 'DE', 'US'] as const)[i % 3]);
  return { planned, book: parsePlanned(planned, i % 2 ? 'csv' : 'vcard-3.0', (['CH', 'DE', 'US'] as const)[i % 3]), expected: expectedRows(planned, users) };
});

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
  reports = sessionReports(running.server);
});
afterAll(() => running?.close());

describe('rotation while clients sync', () => {
  it('20 concurrent syncs across a rotation all finish correctly; held ones finish under the old epoch', async () => {
    const { directory, backend, server } = running;
    const url = server.url;
    const old = backend.current();
    // A client that synced before the rotation: its cache and pinned key are of the old epoch.
    const veteranCache = freshCache();
    const veteranPlan = clients[0]!;
    const before = await sync(url, veteranPlan.book, veteranCache);
    expect(before.result.snapshot.epoch).toBe(old.epoch);
    expect(outcomeRows(before)).toEqual(veteranPlan.expected);

    // 6 clients get the old epoch's dir.info, then the proxy holds their next messages.
    const HELD = 6;
    const proxy = await tcpProxy(url, { holdAfterFirstFrame: true });
    const held = clients.slice(0, HELD).map((c) => sync(proxy.url, c.book, freshCache()));
    held.forEach((p) => p.catch(() => {}));
    await waitFor(() => proxy.held === HELD);

    // The other 14 start now, unhindered, and race the rotation: it starts once a few of them have their dir.info.
    const open = await tcpProxy(url);
    const racing = clients.slice(HELD).map((c) => sync(open.url, c.book, freshCache()));
    racing.forEach((p) => p.catch(() => {}));
    await waitFor(() => open.connections.filter((c) => c.sawFirstFrame).length >= 4);
    const rotation = await directory.rotateEpoch({ graceMs: GRACE_MS });
    expect(rotation).toMatchObject({ epoch: old.epoch + 1, previous: old.epoch });
    const fresh = await backend.refresh();
    expect(fresh.epoch).toBe(old.epoch + 1);
    expect(hex(fresh.keys.publicKey)).not.toBe(hex(old.keys.publicKey));
    expect(directory.servedEpochs()).toEqual([old.epoch, fresh.epoch]);
    // The old epoch's view is still served, unchanged.
    expect(hex(backend.epoch(old.epoch)!.snapshot.digest)).toBe(hex(old.snapshot.digest));

    proxy.release();
    const heldOutcomes = await Promise.all(held);
    const racingOutcomes = await Promise.all(racing);
    await proxy.close();
    await open.close();
    heldOutcomes.forEach((o, i) => {
      // They were told the old epoch before the switch and completed under it.
      expect(o.result.snapshot.epoch, `held ${i}`).toBe(old.epoch);
      expect(hex(o.result.snapshot.digest)).toBe(hex(old.snapshot.digest));
      expect(outcomeRows(o), `held ${i}`).toEqual(clients[i]!.expected);
      expect(o.result.falsePositives).toBe(0);
    });
    const onOld = racingOutcomes.filter((o) => o.result.snapshot.epoch === old.epoch).length;
    console.log(`racing the rotation: ${onOld} of ${racingOutcomes.length} synced under epoch ${old.epoch}, the rest under ${fresh.epoch}`);
    racingOutcomes.forEach((o, i) => {
      expect([old.epoch, fresh.epoch]).toContain(o.result.snapshot.epoch);
      expect(outcomeRows(o), `racing ${i}`).toEqual(clients[HELD + i]!.expected);
      expect(o.result.falsePositives).toBe(0);
    });
    await waitFor(() => server.connections === 0);
    expect(reports.filter((r) => r.outcome === 'failed')).toEqual([]);

    // The veteran's cache is of the old epoch: it downloads the new snapshot, and the new
    // key is reported as a rotation (a warning), not refused.
    const onKeyChange = vi.fn();
    const after = await sync(url, veteranPlan.book, veteranCache, { onKeyChange });
    expect(after.result.cacheHit).toBe(false);
    expect(after.result.deltaApplied).toBe(false);
    expect(after.result.downloadedBytes).toBe(fresh.snapshot.bytes.length);
    expect(after.result.snapshot.epoch).toBe(fresh.epoch);
    expect(hex(after.result.snapshot.publicKey)).toBe(hex(fresh.keys.publicKey));
    expect(outcomeRows(after)).toEqual(veteranPlan.expected);
    expect(onKeyChange).toHaveBeenCalledTimes(1);
    expect(onKeyChange).toHaveBeenCalledWith({ epoch: old.epoch }, { epoch: fresh.epoch });
    const pinned = new SnapshotCache(veteranCache, url).pinned()!;
    expect(pinned.epoch).toBe(fresh.epoch);
    expect(hex(pinned.publicKey)).toBe(hex(fresh.keys.publicKey));
    // And from now on it is a plain cache hit, no warning.
    const again = await sync(url, veteranPlan.book, veteranCache, { onKeyChange });
    expect(again.result.cacheHit).toBe(true);
    expect(onKeyChange).toHaveBeenCalledTimes(1);

    // A key pinned from configuration is the old one: refused at dir.info, before anything is evaluated.
    await expect(sync(url, veteranPlan.book, freshCache(), { pinnedPublicKey: old.keys.publicKey })).rejects.toMatchObject({ code: 'proof_invalid', remote: false });
  });

  it('the old epoch is served until its grace ends, then refused with unsupported (4501)', async () => {
    const { directory, backend, server } = running;
    const url = server.url;
    const current = backend.current();
    const previous = directory.servedEpochs().find((e) => e < current.epoch)!;
    expect(previous).toBeDefined();
    const oldView = backend.epoch(previous)!;
    const retiresAt = directory.epochInfo(previous)!.retiresAt!;
    expect(retiresAt).toBeGreaterThan(Date.now());

    // Within the grace period a raw client may still read the old epoch's snapshot.
    const within = await greet(url);
    expect(within.info.epoch).toBe(current.epoch);
    within.peer.send({ t: 'dir.snapshot.get', epoch: previous, version: oldView.snapshot.version, offset: 0, length: 64 });
    await within.peer.received(2);
    const part = within.peer.decoded()[1] as DirSnapshotPart;
    expect(part.t).toBe('dir.snapshot.part');
    expect(hex(part.data)).toBe(hex(oldView.snapshot.bytes.subarray(0, 64)));
    within.peer.ws.close();

    // A client of the current epoch, connected and held across the retirement, is unaffected.
    const proxy = await tcpProxy(url, { holdAfterFirstFrame: true });
    const heldNew = sync(proxy.url, clients[1]!.book, freshCache());
    await waitFor(() => proxy.held === 1);

    // Grace over: retire and refresh as the server's timer does.
    const later = retiresAt + 1;
    expect(await directory.retireExpired(retiresAt - 1)).toEqual([]);
    expect(await directory.retireExpired(later)).toEqual([previous]);
    await backend.refresh(later);
    expect(directory.servedEpochs(later)).toEqual([current.epoch]);
    expect(backend.epoch(previous)).toBeUndefined();
    expect(directory.epochInfo(previous)).toBeUndefined();

    proxy.release();
    const outcome = await heldNew;
    await proxy.close();
    expect(outcome.result.snapshot.epoch).toBe(current.epoch);
    expect(outcomeRows(outcome)).toEqual(clients[1]!.expected);

    // Every request naming the old epoch is now refused: an error message, then close 4501.
    const requests = [
      { t: 'dir.snapshot.get', epoch: previous, version: oldView.snapshot.version, offset: 0, length: 64 },
      { t: 'dir.evaluate', epoch: previous, seq: 0, blinded: current.suite.group.generator },
      { t: 'dir.labels.get', epoch: previous, keys: new Uint8Array(0), format: 2 },
      { t: 'dir.delta.get', epoch: previous, fromVersion: oldView.snapshot.version },
    ];
    for (const request of requests) {
      const { peer } = await greet(url);
      peer.send(request);
      const closed = await peer.closed;
      const error = peer.decoded().at(-1) as { t: string; code: string; message: string };
      expect(error, request.t).toMatchObject({ t: 'error', code: 'unsupported' });
      expect(error.message).toContain(`epoch ${previous}`);
      expect(closed).toEqual({ code: ErrorCloseCodes.unsupported, reason: 'unsupported' });
    }
  });

  it('a client that got the old dir.info but is still running when the old epoch retires fails with a remote unsupported', async () => {
    const { directory, backend, server } = running;
    const url = server.url;
    const before = backend.current();
    const proxy = await tcpProxy(url, { holdAfterFirstFrame: true });
    const late = sync(proxy.url, clients[2]!.book, freshCache());
    late.catch(() => {});
    await waitFor(() => proxy.held === 1);
    const r = await directory.rotateEpoch({ graceMs: 0 });
    expect(r.previous).toBe(before.epoch);
    expect(await directory.retireExpired(r.retiresAt)).toEqual([before.epoch]);
    await backend.refresh();
    proxy.release();
    const error = await late.then(
      () => undefined,
      (e: unknown) => e,
    );
    await proxy.close();
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'unsupported', remote: true });
    // The directory keeps serving the new epoch.
    const ok = await sync(url, clients[2]!.book, freshCache());
    expect(ok.result.snapshot.epoch).toBe(r.epoch);
    expect(outcomeRows(ok)).toEqual(clients[2]!.expected);
  });

  // An import after the last refresh moves the old epoch's frozen snapshot to a newer
  // version at the switch; a client told the old epoch's previous version before the
  // switch still completes, because its session keeps the view it announced (spec §7).
  it('with an import just before the rotation, a client told the old epoch before the switch still completes', async () => {
    const { directory, backend, server } = running;
    const proxy = await tcpProxy(server.url, { holdAfterFirstFrame: true });
    try {
      const pending = sync(proxy.url, clients[3]!.book, freshCache());
      pending.catch(() => {});
      await waitFor(() => proxy.held === 1);
      await directory.importUsers([{ userId: 'late-import', identifiers: ['mailto:late@import.example.org'] }]);
      await directory.rotateEpoch({ graceMs: GRACE_MS });
      await backend.refresh();
      proxy.release();
      const outcome = await pending;
      expect(outcomeRows(outcome)).toEqual(clients[3]!.expected);
    } finally {
      await proxy.close();
    }
  });
});
