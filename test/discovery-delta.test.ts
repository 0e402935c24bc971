import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type CachedSnapshot, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { encodeMessage } from '../src/protocol/codec.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { VersionedBackend, memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const ids = Array.from({ length: 24 }, (_, i) => `tel:+4179${2000000 + i}`);

function sync(backend: DiscoveryBackend, suite: VersionedBackend['suite'], identifiers: string[], cache?: CachedSnapshot, pinnedPublicKey?: Uint8Array) {
  const client = new DiscoveryClientSession({ suite, identifiers, rng: seededRng(3), cache, pinnedPublicKey });
  const server = new DiscoveryServerSession({ backend, rng: seededRng(4), now: 0 });
  return runSessionPairAsync<DiscoveryResult, unknown>(client, server);
}

/** Users from a bitmask over ids: bit set = registered; every third registered one opted out. */
const usersOf = (mask: boolean[]): TestUser[] =>
  ids.flatMap((id, i) => (mask[i] ? [{ userId: `u${i}`, identifiers: [id], label: `l${i}`, discoverable: i % 3 !== 1 }] : []));

describe('deltas', () => {
  it('a cached snapshot plus its deltas finds exactly what a fresh snapshot finds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length }), { minLength: 2, maxLength: 5 }), async (versions) => {
        const dir = new VersionedBackend(usersOf(versions[0]));
        let cache = (await sync(dir, dir.suite, ids)).clientResult!.snapshot;
        for (const mask of versions.slice(1)) {
          dir.publish(usersOf(mask));
          const delta = (await dir.delta(1, cache.version))!;
          // The server sends a delta unless it is not smaller than a fresh snapshot.
          const worthIt = delta.added.length + delta.removed.length < dir.current().snapshot.bytes.length;
          const viaDelta = await sync(dir, dir.suite, ids, cache);
          const fresh = await sync(dir, dir.suite, ids);
          expect(viaDelta.clientError).toBeUndefined();
          expect(viaDelta.clientResult!.deltaApplied).toBe(worthIt);
          expect(viaDelta.clientResult!.downloadedBytes === 0).toBe(worthIt);
          const names = (r: DiscoveryResult) => r.matches.map((m) => m.identifier).sort();
          expect(names(viaDelta.clientResult!)).toEqual(names(fresh.clientResult!));
          cache = viaDelta.clientResult!.snapshot;
        }
      }),
      { numRuns: 8 },
    );
  });

  it('a new user is found after the next delta fetch, and the tag part is 8 bytes per change', async () => {
    const dir = new VersionedBackend(usersOf(ids.map((_, i) => i < 5)));
    const first = (await sync(dir, dir.suite, [ids[10]])).clientResult!;
    expect(first.matches).toEqual([]);
    dir.publish([...usersOf(ids.map((_, i) => i < 5)), { userId: 'new', identifiers: [ids[10]], label: 'hi' }]);
    const d = (await dir.delta(1, first.snapshot.version))!;
    expect(d.added.length).toBe(8);
    expect(d.removed.length).toBe(0);
    const second = (await sync(dir, dir.suite, [ids[10]], first.snapshot)).clientResult!;
    expect(second.matches.map((m) => m.userId)).toEqual(['new']);
  });
});

describe('epochs and rotation', () => {
  it('clients detect a new epoch and download again; rotating mid-sync still gives correct results', async () => {
    const dir = new VersionedBackend(usersOf(ids.map((_, i) => i % 2 === 0)));
    const before = (await sync(dir, dir.suite, ids)).clientResult!;
    const expected = before.matches.map((m) => m.identifier).sort();

    // Mid-sync rotation: the client got dir.info of epoch 1; the server rotates before its
    // evaluations arrive. The old epoch is still served (grace period), so the sync completes.
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ids, rng: seededRng(9) });
    const server = new DiscoveryServerSession({ backend: dir, rng: seededRng(10), now: 0 });
    const out = (await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
      toServer: (b, i) => {
        if (i === 1) dir.rotate();
        return b;
      },
    }));
    expect(out.clientError).toBeUndefined();
    expect(out.clientResult!.matches.map((m) => m.identifier).sort()).toEqual(expected);

    const after = (await sync(dir, dir.suite, ids, before.snapshot)).clientResult!;
    expect(after.snapshot.epoch).toBe(2);
    expect(after.cacheHit).toBe(false);
    expect(after.downloadedBytes).toBeGreaterThan(0);
    expect(after.matches.map((m) => m.identifier).sort()).toEqual(expected);

    // After the grace period the old epoch is gone: a client still on it gets `unsupported`.
    dir.retire(1);
    const stale = new DiscoveryServerSession({ backend: dir, rng: seededRng(1), now: 0 });
    stale.handle(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }), 0);
    stale.handle(encodeMessage({ t: 'dir.evaluate', epoch: 1, seq: 0, blinded: dir.suite.group.generator }), 0);
    expect(stale.error?.code).toBe('unsupported');
  });
});

describe('malicious directories are detected', () => {
  const users = usersOf(ids.map((_, i) => i % 2 === 0));

  it('one that evaluates some clients with another key fails the proof against the pinned key', async () => {
    const honest = memoryBackend(users, { seed: 1 });
    const pinned = honest.keys.publicKey;
    const other = memoryBackend(users, { seed: 2 });
    // The attacker announces the honest key but evaluates this client under another one.
    const lyingView = { ...honest.view, keys: { secretKey: other.keys.secretKey, publicKey: pinned } };
    const lying: DiscoveryBackend = { ...honest.backend, current: () => lyingView, epoch: () => lyingView };
    expect((await sync(lying, honest.suite, ids, undefined, pinned)).clientError?.code).toBe('proof_invalid');
    // And if it also announces its other key, pinning catches it before any evaluation.
    expect((await sync(other.backend, honest.suite, ids, undefined, pinned)).clientError?.code).toBe('proof_invalid');
  });

  it('one that serves a different snapshot to one client is caught by the digest check (split view)', async () => {
    const dir = memoryBackend(users, { seed: 1 });
    const cached = (await sync(dir.backend, dir.suite, ids)).clientResult!.snapshot;
    // The same epoch, key and version, but a snapshot with one extra user: a different digest.
    const forked = memoryBackend([...users, { userId: 'x', identifiers: [ids[1]], label: 'x' }], { suite: dir.suite, keys: dir.keys, seed: 1 });
    const out = await sync(forked.backend, dir.suite, ids, cached);
    expect(out.clientError?.code).toBe('split_view');
  });
});
