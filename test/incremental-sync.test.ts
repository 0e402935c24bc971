/**
 * Incremental sync and epoch-bound quotas (issue 10 §3, §4), on the real client and server
 * sessions (real OPRF, sodium backend):
 * - a re-sync evaluates exactly the identifiers without an output of this epoch (property
 *   over generated books and additions), finds what a sync from scratch finds, and on an
 *   unchanged book the server sees 0 blinded elements and 0 lookup keys;
 * - a rotation re-evaluates the book once;
 * - free re-evaluation is bounded (property over generated sequences of syncs, rotations,
 *   lost output caches and replayed receipts): an element never evaluated before is never
 *   free, and at most one evaluation is free per one charged or free by a rotation;
 * - label-change markers: exactly the relabeled matches are fetched again (real SQLite
 *   directory: a label change is logged in the tag log and carried as dir.delta relabeled);
 * - two accounts or two directory identities see unrelated blinded elements (0 of N equal).
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { clientAccountOf } from '../src/client/client-account.js';
import { Directory, SqliteStore } from '../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { blindSecretFor } from '../src/protocol/discovery/blind-secret.js';
import { DiscoveryClientSession, type CachedSnapshot, type DiscoveryResult, type KnownOutputs, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import { chargeHash, hexOf, type QuotaConfig } from '../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { decodeDiscovery, directorySuite, generateUsers, tempDir } from './helpers/service.js';
import { MapQuotaStore, memoryBackend, VersionedBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const tmp = tempDir('contact-psi-incremental-');
afterAll(() => tmp.cleanup());

const universe = Array.from({ length: 48 }, (_, i) => `tel:+4179${2000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 3 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `label-${i}` }));
const secret = new Uint8Array(32).fill(4);
const tokenKey = new Uint8Array(32).fill(8);

interface Wire {
  /** Blinded elements the server received (hex), in order. */
  blinded: string[];
  /** Lookup keys the server received. */
  labelKeys: number;
  bytesToServer: number;
  bytesToClient: number;
}

interface SyncArgs {
  backend: DiscoveryBackend;
  ids: readonly string[];
  outputs?: KnownOutputs;
  cache?: CachedSnapshot;
  receipt?: QuotaReceipt;
  quota?: { account: string; config: QuotaConfig };
  blindSecret?: Uint8Array;
  blindFor?: (identity: Uint8Array) => Uint8Array | undefined;
  now?: number;
}

async function sync(args: SyncArgs) {
  const suite = args.backend.current().suite;
  const client = new DiscoveryClientSession({
    suite,
    identifiers: args.ids,
    rng: seededRng(args.ids.length + 1),
    blindSecret: args.blindSecret ?? secret,
    blindSecretFor: args.blindFor,
    outputs: args.outputs,
    cache: args.cache,
    quotaReceipt: args.receipt,
  });
  const server = new DiscoveryServerSession({ backend: args.backend, rng: seededRng(3), now: args.now ?? 0, quota: args.quota });
  const wire: Wire = { blinded: [], labelKeys: 0, bytesToServer: 0, bytesToClient: 0 };
  const size = suite.group.elementSize;
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, args.now ?? 0, {
    toServer: (bytes) => {
      wire.bytesToServer += bytes.length;
      const m = decodeDiscovery(bytes);
      if (m.t === 'dir.evaluate') for (let off = 0; off < m.blinded.length; off += size) wire.blinded.push(hexOf(m.blinded.subarray(off, off + size)));
      if (m.t === 'dir.labels.get') wire.labelKeys += m.keys.length / 8;
      return bytes;
    },
    toClient: (bytes) => {
      wire.bytesToClient += bytes.length;
      return bytes;
    },
  });
  return { ...out, wire, session: client };
}

const matchesOf = (r: DiscoveryResult) => r.matches.map((m) => `${m.identifier}=${m.userId}:${new TextDecoder().decode(m.label)}`).sort();

const dir = memoryBackend(users);

describe('incremental sync', () => {

  it('a re-sync evaluates exactly the new identifiers and finds what a fresh sync finds', async () => {
    const bookArb = fc.subarray(universe, { minLength: 0, maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(bookArb, bookArb, async (first, added) => {
        const one = await sync({ backend: dir.backend, ids: first });
        expect(one.clientError).toBeUndefined();
        const book = [...new Set([...first, ...added])];
        const again = await sync({ backend: dir.backend, ids: book, outputs: one.clientResult!.outputs, cache: one.clientResult!.snapshot });
        const fresh = await sync({ backend: dir.backend, ids: book });
        const expectedNew = book.filter((id) => !first.includes(id));
        // Exactly the new identifiers reach the server, as blinded elements.
        expect(again.clientResult!.evaluated).toBe(expectedNew.length);
        expect(again.wire.blinded.length).toBe(expectedNew.length);
        expect(matchesOf(again.clientResult!)).toEqual(matchesOf(fresh.clientResult!));
        // Labels asked: only for new identifiers that match (a cached label stands).
        const newMatches = expectedNew.filter((id) => users.some((u) => u.identifiers.includes(id)));
        expect(again.wire.labelKeys).toBe(newMatches.length);
      }),
      { numRuns: 12, examples: [[universe.slice(0, 6), []]] },
    );
  });

  it('an unchanged re-sync: the server sees 0 blinded elements and 0 lookup keys, and both sessions end done', async () => {
    const book = universe.slice(0, 30);
    const one = await sync({ backend: dir.backend, ids: book });
    const again = await sync({ backend: dir.backend, ids: book, outputs: one.clientResult!.outputs, cache: one.clientResult!.snapshot });
    expect(again.clientError).toBeUndefined();
    expect(again.serverError).toBeUndefined();
    expect(again.wire.blinded).toEqual([]);
    expect(again.wire.labelKeys).toBe(0);
    expect(again.clientResult!.labelsFetched).toBe(0);
    expect(again.server.find((e) => e.type === 'result')).toMatchObject({ result: { evaluated: 0, labelsRequested: 0 } });
    expect(matchesOf(again.clientResult!)).toEqual(matchesOf(one.clientResult!));
    // Hello, info, an empty dir.labels.get and dir.labels: a few hundred bytes.
    expect(again.wire.bytesToServer + again.wire.bytesToClient).toBeLessThan(2048);
  });

  it('outputs of another epoch, key or identity are not used: the book is evaluated again', async () => {
    const book = universe.slice(0, 10);
    const one = await sync({ backend: dir.backend, ids: book });
    const outputs = one.clientResult!.outputs;
    for (const other of [{ ...outputs, epoch: outputs.epoch + 1 }, { ...outputs, publicKey: new Uint8Array(outputs.publicKey).fill(1) }, { ...outputs, identity: new Uint8Array(32) }]) {
      const again = await sync({ backend: dir.backend, ids: book, outputs: other });
      expect(again.clientResult!.evaluated).toBe(book.length);
    }
  });

  it('a rotation re-evaluates the book once under the new key, then nothing', async () => {
    const versioned = new VersionedBackend(users);
    const book = universe.slice(0, 16);
    const one = await sync({ backend: versioned, ids: book });
    versioned.rotate();
    const rotated = await sync({ backend: versioned, ids: book, outputs: one.clientResult!.outputs, cache: one.clientResult!.snapshot });
    expect(rotated.clientResult!.evaluated).toBe(book.length);
    expect(rotated.clientResult!.outputs.epoch).toBe(2);
    const after = await sync({ backend: versioned, ids: book, outputs: rotated.clientResult!.outputs, cache: rotated.clientResult!.snapshot });
    expect(after.clientResult!.evaluated).toBe(0);
    expect(matchesOf(after.clientResult!)).toEqual(matchesOf(one.clientResult!));
  });

  it('a sync cut off by the quota keeps the outputs answered: the next sync evaluates only the rest', async () => {
    const store = new MapQuotaStore();
    const config: QuotaConfig = { store, tokenKey, sync: { capacity: 12, refillPerMs: 0 } };
    const suite = dir.suite;
    const book = universe.slice(0, 20);
    const client = new DiscoveryClientSession({ suite, identifiers: book, rng: seededRng(1), blindSecret: secret, chunkItems: 4 });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0, quota: { account: 'a', config } });
    const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0);
    expect(out.clientError).toMatchObject({ code: 'rate_limited' });
    const partial = client.partialOutputs!;
    expect(partial.entries.size).toBe(12);
    store.buckets.set('sync:a', { tokens: 12, updatedAt: 0 });
    const rest = await sync({ backend: dir.backend, ids: book, outputs: partial, receipt: client.quotaReceipt, quota: { account: 'a', config } });
    expect(rest.clientResult!.evaluated).toBe(8);
    expect(store.buckets.get('sync:a')!.tokens).toBe(4); // the 8 not answered before, nothing twice
    const fresh = await sync({ backend: dir.backend, ids: book });
    expect(matchesOf(rest.clientResult!)).toEqual(matchesOf(fresh.clientResult!));
  });
});

describe('epoch-bound quota receipts', () => {
  type Op = { t: 'sync'; book: string[]; keepOutputs: boolean } | { t: 'rotate' } | { t: 'replay' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('sync' as const), book: fc.subarray(universe.slice(0, 16), { minLength: 1, maxLength: 10 }), keepOutputs: fc.boolean() }) },
    { weight: 2, arbitrary: fc.constant({ t: 'rotate' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'replay' as const }) },
  );

  it('free re-evaluation is bounded: a never-seen element is always charged, and at most one evaluation is free per paid one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 9 }), async (ops) => {
        const versioned = new VersionedBackend(users);
        const store = new MapQuotaStore();
        const config: QuotaConfig = { store, tokenKey, sync: { capacity: 1e9, refillPerMs: 0 } };
        const spent = () => 1e9 - (store.buckets.get('sync:acct')?.tokens ?? 1e9);
        let receipt: QuotaReceipt | undefined;
        const receipts: QuotaReceipt[] = [];
        let outputs: KnownOutputs | undefined;
        let epoch = 1;
        // Elements evaluated before (any epoch): only these can ever be free.
        const seen = new Set<string>();
        let evaluated = 0;
        let rotations = 0;
        for (const op of ops) {
          if (op.t === 'rotate') {
            versioned.rotate();
            epoch++;
            rotations++;
            continue;
          }
          const present = op.t === 'replay' ? receipts[0] : receipt;
          const book = op.t === 'sync' ? op.book : universe.slice(0, 8);
          const before = spent();
          const out = await sync({ backend: versioned, ids: book, receipt: present, outputs: op.t === 'sync' && op.keepOutputs ? outputs : undefined, quota: { account: 'acct', config } });
          expect(out.clientError).toBeUndefined();
          const charged = spent() - before;
          const hashes = out.wire.blinded.map((h) => hexOf(chargeHash(Uint8Array.from(Buffer.from(h, 'hex')))));
          const free = hashes.length - charged;
          evaluated += hashes.length;
          // Enumeration: an element never evaluated before is never free.
          expect(free).toBeGreaterThanOrEqual(0);
          expect(free).toBeLessThanOrEqual(hashes.filter((h) => seen.has(h)).length);
          for (const h of hashes) seen.add(h);
          if (out.clientResult!.quotaReceipt) {
            receipt = out.clientResult!.quotaReceipt;
            receipts.push(receipt);
          }
          outputs = out.clientResult!.outputs;
          expect(out.clientResult!.outputs.epoch).toBe(epoch);
        }
        // spec/discovery.md §9: every evaluation is charged, or free once per epoch after a
        // rotation (at most 16 distinct elements here), or credited once for one of those two
        // (the chain's charged record, spec/sync-failover.md §4: a replayed previous receipt).
        expect(2 * (spent() + rotations * 16)).toBeGreaterThanOrEqual(evaluated);
      }),
      { numRuns: 10 },
    );
  });

  it('the same book re-synced without its outputs is charged again in the epoch, once free after a rotation, and a replayed receipt is refused', async () => {
    const versioned = new VersionedBackend(users);
    const store = new MapQuotaStore();
    const config: QuotaConfig = { store, tokenKey, sync: { capacity: 1000, refillPerMs: 0 } };
    const spent = () => 1000 - (store.buckets.get('sync:acct')?.tokens ?? 1000);
    const book = universe.slice(0, 10);
    const q = { account: 'acct', config };
    const first = await sync({ backend: versioned, ids: book, quota: q });
    expect(spent()).toBe(10);
    // Same epoch, outputs lost: re-evaluation is charged (it was free forever before issue 10).
    const second = await sync({ backend: versioned, ids: book, quota: q, receipt: first.clientResult!.quotaReceipt });
    expect(spent()).toBe(20);
    versioned.rotate();
    const third = await sync({ backend: versioned, ids: book, quota: q, receipt: second.clientResult!.quotaReceipt });
    expect(third.clientResult!.evaluated).toBe(10);
    expect(spent()).toBe(20); // the one free re-evaluation of the rotation
    // Again in the new epoch (outputs lost): charged.
    const fourth = await sync({ backend: versioned, ids: book, quota: q, receipt: third.clientResult!.quotaReceipt });
    expect(spent()).toBe(30);
    // The previous epoch's receipt replayed to make the set free again: refused (stale
    // generation of its chain), everything charged (two generations behind: no credit of what
    // the chain's latest session charged), and the chain goes on at the next generation with
    // its set started over.
    const replay = await sync({ backend: versioned, ids: book, quota: q, receipt: second.clientResult!.quotaReceipt });
    expect(replay.clientResult!.quotaReceipt).toMatchObject({ generation: 5 });
    expect(replay.clientResult!.quotaReceipt!.chain).toEqual(second.clientResult!.quotaReceipt!.chain);
    expect(replay.clientResult!.quotaReceipt!.set.length).toBe(10 * 8);
    expect(spent()).toBe(40);
    expect(fourth.clientResult!.quotaReceipt!.epoch).toBe(2);
  });

  it('label keys beyond what was evaluated or paid for are refused (too_large)', async () => {
    const store = new MapQuotaStore();
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(1), now: 0, quota: { account: 'x', config: { store, tokenKey } } });
    const { encodeMessage } = await import('../src/protocol/codec.js');
    server.handle(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }), 0);
    server.handle(encodeMessage({ t: 'dir.labels.get', epoch: 1, keys: new Uint8Array(8), format: 2 }), 0);
    expect(server.error?.code).toBe('too_large');
  });
});

describe('unlinkable blinding', () => {
  it('two accounts, or two directory identities, see unrelated blinded elements for the same book (0 of N equal)', async () => {
    const book = universe.slice(0, 24);
    const device = new Uint8Array(32).fill(0x5a);
    const idA = new Uint8Array(32).fill(1);
    const idB = new Uint8Array(32).fill(2);
    const blindedWith = async (identity: Uint8Array, token: string) => {
      const blindFor = (identityKey: Uint8Array) => blindSecretFor({ deviceSecret: device, identityKey, account: clientAccountOf(token), quotaApplies: true });
      // The session asks for the secret of the identity dir.info names; here, `identity`.
      const out = await sync({ backend: dir.backend, ids: book, blindSecret: blindFor(identity) });
      return new Set(out.wire.blinded);
    };
    const a1 = await blindedWith(idA, 'token-alice-000000001');
    const a1again = await blindedWith(idA, 'token-alice-000000001');
    const a2 = await blindedWith(idA, 'token-alice-000000002');
    const b1 = await blindedWith(idB, 'token-alice-000000001');
    expect(a1).toEqual(a1again); // deterministic per (identity, account): the quota recognizes it
    expect([...a2].filter((x) => a1.has(x))).toEqual([]);
    expect([...b1].filter((x) => a1.has(x))).toEqual([]);
    // Without a quota, blinds are random: two syncs share nothing either.
    const none = (identityKey: Uint8Array) => blindSecretFor({ deviceSecret: device, identityKey, account: '', quotaApplies: false });
    expect(none(idA)).toBeUndefined();
  });
});

describe('label-change markers (real SQLite directory)', () => {
  it('exactly the relabeled matches are fetched again; an unchanged re-sync fetches none', async () => {
    const suite = directorySuite();
    const directory = await Directory.open({ store: SqliteStore.open(join(tmp.path, 'relabel.db')), suite });
    try {
      const people = generateUsers(seededRng(31), 24, { hiddenPerMille: 0 });
      await directory.importUsers(people);
      await directory.precompute();
      const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse', 0);
      const book = people.flatMap((u) => u.identifiers).filter((id) => id.startsWith('tel:'));
      let state = await sync({ backend, ids: book });
      expect(state.clientResult!.matches.length).toBe(book.length);
      await fc.assert(
        fc.asyncProperty(fc.subarray(people, { minLength: 0, maxLength: 5 }), fc.integer({ min: 0, max: 1e6 }), async (changed, salt) => {
          await directory.importUsers(changed.map((u) => ({ ...u, label: new TextEncoder().encode(`relabeled-${salt}-${u.userId}`) })));
          await directory.precompute();
          await backend.refresh(0);
          const prev = state.clientResult!;
          const next = await sync({ backend, ids: book, outputs: prev.outputs, cache: prev.snapshot });
          expect(next.clientError).toBeUndefined();
          expect(next.wire.blinded).toEqual([]);
          const expectedRefetch = changed.flatMap((u) => u.identifiers).filter((id) => book.includes(id));
          expect(next.clientResult!.labelsFetched).toBe(expectedRefetch.length);
          for (const id of expectedRefetch) {
            const m = next.clientResult!.matches.find((x) => x.identifier === id)!;
            expect(new TextDecoder().decode(m.label)).toBe(`relabeled-${salt}-${m.userId}`);
          }
          // The same as a sync from scratch.
          const fresh = await sync({ backend, ids: book });
          expect(matchesOf(next.clientResult!)).toEqual(matchesOf(fresh.clientResult!));
          state = next;
        }),
        { numRuns: 6 },
      );
      const unchanged = await sync({ backend, ids: book, outputs: state.clientResult!.outputs, cache: state.clientResult!.snapshot });
      expect(unchanged.clientResult!.labelsFetched).toBe(0);
      expect(unchanged.wire.blinded).toEqual([]);
    } finally {
      await directory.close();
    }
  });
});
