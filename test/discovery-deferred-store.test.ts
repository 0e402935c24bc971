/**
 * The discovery server session does no storage I/O inside handle() (issue 11 §1): label
 * lookups, tag deltas and quota charges are deferred work the driver runs. Whatever order
 * and latency the store answers with, the session answers in order and exactly as over a
 * store that answers at once; a charge that fails fails the session with today's receipt
 * rules. Also the snapshot download limits of issue 9 §2: a per-session cap of about twice
 * the snapshot, and a per-account budget across sessions with a refill.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type CachedSnapshot, type DiscoveryResult, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import type { DiscoveryBackend, EpochView } from '../src/protocol/discovery/backend.js';
import { DownloadBudget } from '../src/protocol/discovery/download-budget.js';
import type { BucketState, QuotaStore, QuotaWrite } from '../src/protocol/discovery/quota.js';
import { DEFAULT_SNAPSHOT_DOWNLOAD_FACTOR, DiscoveryServerSession, MIN_SNAPSHOT_DOWNLOAD_BYTES } from '../src/protocol/discovery/server.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { runSessionPair, runSessionPairAsync } from '../src/protocol/session-pair.js';
import { MapQuotaStore, memoryBackend, VersionedBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const ids = Array.from({ length: 30 }, (_, i) => `tel:+4179${4000000 + i}`);
const usersOf = (mask: readonly boolean[]): TestUser[] =>
  ids.flatMap((id, i) => (mask[i] ? [{ userId: `u${i}`, identifiers: [id], label: `l${i}`, discoverable: i % 4 !== 1 }] : []));
const tokenKey = new Uint8Array(32).fill(5);
const secret = new Uint8Array(32).fill(8);
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const typeOf = (bytes: Uint8Array) => decodeMessage<{ t: string }>(bytes, schemas, 1 << 30).t;

/** Set while the server is inside handle(): a store touched then is I/O inside the session. */
let inHandle = false;
const noIoInHandle = () => {
  if (inHandle) throw new Error('the store was called inside handle()');
};

/** The backend's store reads, each answered when the scheduler decides (in any order). */
function scheduledBackend(inner: VersionedBackend, s: fc.Scheduler): DiscoveryBackend {
  return {
    current: () => inner.current(),
    epoch: (e) => inner.epoch(e),
    sealedLabels: s.scheduleFunction(async function sealedLabels(e: number, keys: readonly Uint8Array[]) {
      noIoInHandle();
      return inner.sealedLabels(e, keys);
    }),
    delta: s.scheduleFunction(async function delta(e: number, from: number) {
      noIoInHandle();
      return inner.delta(e, from);
    }),
  };
}

/** Quota buckets read and written separately (no atomic update), each answer scheduled. */
function scheduledStore(inner: MapQuotaStore, s: fc.Scheduler): QuotaStore {
  return {
    getBucket: s.scheduleFunction(async function getBucket(account: string) {
      noIoInHandle();
      return inner.getBucket(account);
    }),
    putBucket: s.scheduleFunction(async function putBucket(account: string, state: BucketState) {
      noIoInHandle();
      return inner.putBucket(account, state);
    }),
    // The ledger's charge with the chain's record (spec/sync-failover.md §4), scheduled too.
    writeQuota: s.scheduleFunction(async function writeQuota(write: QuotaWrite) {
      noIoInHandle();
      return inner.writeQuota(write);
    }),
    chargedRecord: s.scheduleFunction(async function chargedRecord(key: string) {
      noIoInHandle();
      return inner.chargedRecord(key);
    }),
  };
}

interface Run {
  backend: DiscoveryBackend;
  store: QuotaStore;
  contacts: string[];
  chunk: number;
  cache?: CachedSnapshot;
  receipt?: QuotaReceipt;
}

/** One sync; returns the client's outcome and every message the server sent, in order. */
async function syncRecorded(run: Run, drive: (p: Promise<unknown>) => Promise<unknown> = (p) => p) {
  const client = new DiscoveryClientSession({ suite: run.backend.current().suite, identifiers: run.contacts, rng: seededRng(21), blindSecret: secret, cache: run.cache, quotaReceipt: run.receipt, chunkItems: run.chunk });
  const server = new DiscoveryServerSession({
    backend: run.backend,
    rng: seededRng(22),
    now: 0,
    limits: { maxChunkItems: run.chunk },
    quota: { account: 'alice', config: { store: run.store, tokenKey, sync: { capacity: 10_000, refillPerMs: 0 } } },
  });
  const handle = server.handle.bind(server);
  server.handle = (bytes, now) => {
    inHandle = true;
    try {
      handle(bytes, now);
    } finally {
      inHandle = false;
    }
  };
  const sent: string[] = [];
  const outcome = runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toClient: (bytes) => (sent.push(Buffer.from(bytes).toString('hex')), bytes),
  });
  await drive(outcome);
  return { ...(await outcome), sent };
}

describe('the discovery server reads its store only as deferred work', () => {
  it('answers in order and exactly as over a store that answers at once, whatever order the store answers in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length }),
        fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length }),
        fc.subarray(ids, { minLength: 1 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.scheduler(),
        async (before, after, contacts, chunk, withCache, s) => {
          // A cached snapshot of an older version makes the client ask for a delta.
          const dir = new VersionedBackend(usersOf(before));
          const warmStore = new MapQuotaStore();
          const first = await syncRecorded({ backend: dir, store: warmStore, contacts: ids.slice(0, 3), chunk });
          expect(first.clientError).toBeUndefined();
          dir.publish(usersOf(after));
          const base = { contacts, chunk, cache: withCache ? first.clientResult!.snapshot : undefined };

          const atOnce = new MapQuotaStore();
          const expected = await syncRecorded({ ...base, backend: dir, store: atOnce });
          expect(expected.clientError).toBeUndefined();

          const later = new MapQuotaStore();
          const got = await syncRecorded({ ...base, backend: scheduledBackend(dir, s), store: scheduledStore(later, s) }, (p) => s.waitFor(p));
          expect(got.clientError).toBeUndefined();
          expect(got.serverError).toBeUndefined();
          // Byte for byte: same messages, same order (evaluations, receipts, delta, labels).
          expect(got.sent).toEqual(expected.sent);
          expect(got.clientResult!.matches).toEqual(expected.clientResult!.matches);
          expect(later.buckets).toEqual(atOnce.buckets);
          expect(got.clientResult!.quotaReceipt).toEqual(expected.clientResult!.quotaReceipt);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('runSessionPair (which runs no deferred work) refuses a discovery server session', () => {
    const dir = new VersionedBackend(usersOf(ids.map((_, i) => i % 2 === 0)));
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ids.slice(0, 2), rng: seededRng(1) });
    const server = new DiscoveryServerSession({ backend: dir, rng: seededRng(2), now: 0 });
    expect(() => runSessionPair(client, server)).toThrowError(/runSessionPairAsync/);
  });

  it('a charge the store fails fails the session (internal), after answering the chunks charged before it, with their receipt', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5 }), fc.scheduler(), async (chunk, failAt, s) => {
        const dir = new VersionedBackend(usersOf(ids.map(() => true)));
        const inner = new MapQuotaStore();
        let charges = 0;
        // The store fails the charge of chunk `failAt` (a lost connection, a full disk).
        const failing: QuotaStore = {
          getBucket: (a) => inner.getBucket(a),
          putBucket: s.scheduleFunction(async function putBucket(a: string, state: BucketState) {
            // Charges only: the receipt generation (`receipt:` row, quota.ts) is written too.
            if (a.startsWith('sync:') && charges++ === failAt) throw new Error('disk I/O error');
            return inner.putBucket(a, state);
          }),
        };
        const contacts = ids.slice(0, 6 * chunk);
        const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: contacts, rng: seededRng(3), blindSecret: secret, chunkItems: chunk });
        const server = new DiscoveryServerSession({
          backend: dir,
          rng: seededRng(4),
          now: 0,
          limits: { maxChunkItems: chunk },
          quota: { account: 'alice', config: { store: failing, tokenKey, sync: { capacity: 10_000, refillPerMs: 0 } } },
        });
        const types: string[] = [];
        const run = runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, { toClient: (b) => (types.push(typeOf(b)), b) });
        const out = await s.waitFor(run);
        // Never echo the store's message to the peer: a coded `internal`.
        expect(out.serverError).toMatchObject({ code: 'internal' });
        expect(out.clientError).toMatchObject({ code: 'internal', remote: true });
        expect(out.clientError!.message).not.toMatch(/disk/);
        // Exactly the chunks before the failed one were charged, answered and covered by a receipt.
        expect(types.filter((t) => t === 'dir.evaluated')).toHaveLength(failAt);
        expect(10_000 - (inner.buckets.get('sync:alice')?.tokens ?? 10_000)).toBe(failAt * chunk);
        if (failAt > 0) {
          expect(types.slice(-2)).toEqual(['dir.receipt', 'error']);
          expect(client.quotaReceipt!.set.length / 8).toBe(failAt * chunk);
        } else {
          // No receipt presented and nothing charged: no receipt chain was started (quota.ts).
          expect(types.slice(-1)).toEqual(['error']);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('while a delta is read nothing else is taken (unexpected_message); input after dir.labels.get is ignored', async () => {
    const dir = new VersionedBackend(usersOf(ids.map(() => true)));
    const hello = encodeMessage({ t: 'dir.hello', suite: dir.suite.id });
    const delta = new DiscoveryServerSession({ backend: dir, rng: seededRng(1), now: 0 });
    delta.handle(hello, 0);
    delta.handle(encodeMessage({ t: 'dir.delta.get', epoch: 1, fromVersion: 1 }), 0);
    expect(delta.currentState).toBe('reading');
    const work = delta.pollWork!()!;
    delta.handle(encodeMessage({ t: 'dir.snapshot.get', epoch: 1, version: 1, offset: 0, length: 1 }), 0);
    expect(delta.error?.code).toBe('unexpected_message');
    await work(() => 0); // settles after the failure: dropped

    // Labels: one chunk, then dir.labels.get twice; the second, sent while the first is read, is ignored.
    const labels = new DiscoveryServerSession({ backend: dir, rng: seededRng(1), now: 0 });
    labels.handle(hello, 0);
    labels.handle(encodeMessage({ t: 'dir.evaluate', epoch: 1, seq: 0, blinded: dir.suite.group.generator }), 0);
    await labels.pollWork!()!(() => 0);
    const get = encodeMessage({ t: 'dir.labels.get', epoch: 1, keys: new Uint8Array(8), format: 2 });
    labels.handle(get, 0);
    const lookup = labels.pollWork!()!;
    labels.handle(get, 0);
    expect(labels.pollWork!()).toBeUndefined();
    await lookup(() => 0);
    expect(labels.error).toBeUndefined();
    expect(labels.isFinished()).toBe(true);
    const sent: string[] = [];
    for (let b = labels.pollTransmit(); b; b = labels.pollTransmit()) sent.push(typeOf(b));
    expect(sent).toEqual(['dir.info', 'dir.evaluated', 'dir.labels']);
  });

  it('a refused charge (rate_limited) keeps its retry-after and is refused as a whole', async () => {
    const dir = new VersionedBackend(usersOf(ids.map(() => true)));
    const store = new MapQuotaStore();
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ids.slice(0, 8), rng: seededRng(3), blindSecret: secret, chunkItems: 2 });
    const server = new DiscoveryServerSession({
      backend: dir,
      rng: seededRng(4),
      now: 0,
      limits: { maxChunkItems: 2 },
      quota: { account: 'alice', config: { store, tokenKey, sync: { capacity: 5, refillPerMs: 1 / 1000 } } },
    });
    const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server);
    // Chunks 0 and 1 (4 tokens) pass; chunk 2 needs 2 with 1 left: 1 more token at 1/s.
    expect(out.clientError).toMatchObject({ code: 'rate_limited', retryAfterMs: 1000, remote: true });
    expect(store.buckets.get('sync:alice')!.tokens).toBe(1);
    expect(client.quotaReceipt!.set.length / 8).toBe(4);
  });
});

/** A server session for `view` past dir.hello, for download limits. */
function downloadSession(view: EpochView, opts: { account?: string; downloads?: DownloadBudget; factor?: number } = {}) {
  const backend: DiscoveryBackend = { current: () => view, epoch: (e) => (e === view.epoch ? view : undefined), sealedLabels: async (_e, keys) => keys.map(() => undefined) };
  const server = new DiscoveryServerSession({
    backend,
    rng: seededRng(1),
    now: 0,
    downloads: opts.downloads,
    snapshotDownloadFactor: opts.factor,
    quota: opts.account ? { account: opts.account, config: { store: new MapQuotaStore(), tokenKey } } : undefined,
  });
  server.handle(encodeMessage({ t: 'dir.hello', suite: view.suite.id }), 0);
  server.pollTransmit();
  const get = (offset: number, length: number, now = 0): number | undefined => {
    server.handle(encodeMessage({ t: 'dir.snapshot.get', epoch: view.epoch, version: view.snapshot.version, offset, length }), now);
    const bytes = server.pollTransmit();
    if (!bytes || server.error) return undefined;
    return decodeMessage<{ t: string; data: Uint8Array }>(bytes, schemas, 1 << 30).data.length;
  };
  return { server, get };
}

const base = memoryBackend(usersOf(ids.map(() => true)));
const viewOfSize = (size: number): EpochView => ({ ...base.view, snapshot: { ...base.view.snapshot, bytes: seededRng(size)(size) } });

describe('snapshot download limits', () => {
  it(`one session downloads at most ${DEFAULT_SNAPSHOT_DOWNLOAD_FACTOR}x the snapshot: one byte more is too_large`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_SNAPSHOT_DOWNLOAD_BYTES / 2 + 1, max: 40_000 }),
        fc.array(fc.integer({ min: 1, max: 1 << 14 }), { minLength: 1, maxLength: 12 }),
        (size, partLengths) => {
          const { server, get } = downloadSession(viewOfSize(size));
          const cap = 2 * size;
          // Parts of any lengths and offsets (a re-download, a retried part) up to exactly the cap.
          let sent = 0;
          for (let i = 0; sent < cap; i++) {
            const length = Math.min(partLengths[i % partLengths.length], cap - sent, size);
            const offset = (i * 7919) % (size - length + 1);
            expect(get(offset, length)).toBe(length);
            sent += length;
          }
          expect(server.error).toBeUndefined();
          expect(get(0, 1)).toBeUndefined();
          expect(server.error).toMatchObject({ code: 'too_large' });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('200 pipelined requests for the whole snapshot get two answers, not 200 (the 156x amplification)', () => {
    const size = 100_000;
    const { server, get } = downloadSession(viewOfSize(size));
    let bytes = 0;
    for (let i = 0; i < 200 && !server.error; i++) bytes += get(0, size) ?? 0;
    expect(bytes).toBe(2 * size);
    expect(server.error?.code).toBe('too_large');
  });

  it('a tiny or empty snapshot still allows MIN_SNAPSHOT_DOWNLOAD_BYTES; the factor is an option, checked', () => {
    const { get } = downloadSession(viewOfSize(0));
    for (let i = 0; i < MIN_SNAPSHOT_DOWNLOAD_BYTES; i++) expect(get(0, 1)).toBe(0); // an empty part still counts as 1
    expect(get(0, 1)).toBeUndefined();
    const three = downloadSession(viewOfSize(10_000), { factor: 3 });
    expect(three.get(0, 10_000)! + three.get(0, 10_000)! + three.get(0, 10_000)!).toBe(30_000);
    expect(three.get(0, 1)).toBeUndefined();
    for (const factor of [0.5, Number.NaN, Infinity]) expect(() => downloadSession(viewOfSize(10), { factor })).toThrowError(expect.objectContaining({ code: 'invalid_option' }));
  });

  it('the account budget holds across sessions: just past it is rate_limited with retry-after, and it refills with the clock', () => {
    fc.assert(
      // A power of two of ms per byte: the refill rate and the wait are exact in floating point.
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 10 }).map((k) => 2 ** k), (capacity, msPerByte) => {
        const downloads = new DownloadBudget({ policy: { capacity, refillPerMs: 1 / msPerByte } });
        const view = viewOfSize(capacity); // the per-session cap (2x) is never what refuses here
        // Two sessions of one account take the whole budget between them.
        const first = downloadSession(view, { account: 'alice', downloads });
        const half = Math.floor(capacity / 2);
        if (half > 0) expect(first.get(0, half)).toBe(half);
        const second = downloadSession(view, { account: 'alice', downloads });
        if (capacity - half > 0) expect(second.get(half, capacity - half)).toBe(capacity - half);
        expect(downloads.remaining('alice', 0)).toBe(0);
        // One byte more, in a third session: refused, with the time until one byte is back.
        const third = downloadSession(view, { account: 'alice', downloads });
        expect(third.get(0, 1)).toBeUndefined();
        expect(third.server.error).toMatchObject({ code: 'rate_limited', retryAfterMs: msPerByte });
        // Another account is not affected; after the wait (the injected clock) the byte is there.
        expect(downloadSession(view, { account: 'bob', downloads }).get(0, 1)).toBe(1);
        const fourth = downloadSession(view, { account: 'alice', downloads });
        expect(fourth.get(0, 1, msPerByte - 1)).toBeUndefined();
        const fifth = downloadSession(view, { account: 'alice', downloads });
        expect(fifth.get(0, 1, msPerByte)).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  it('a session without an account is bounded by the session cap only; the budget keeps at most maxAccounts', () => {
    const downloads = new DownloadBudget({ policy: { capacity: 10, refillPerMs: 0 }, maxAccounts: 3 });
    const anonymous = downloadSession(viewOfSize(1000), { downloads });
    expect(anonymous.get(0, 1000)).toBe(1000);
    expect(downloads.size).toBe(0);
    for (const account of ['a', 'b', 'c', 'd']) downloadSession(viewOfSize(1000), { account, downloads }).get(0, 10);
    expect(downloads.size).toBe(3);
    // 'a' was charged longest ago and forgotten: a fresh budget; 'd' is still spent.
    expect(downloads.remaining('a', 0)).toBe(10);
    expect(downloads.remaining('d', 0)).toBe(0);
    expect(() => new DownloadBudget({ maxAccounts: 0 })).toThrowError(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => new DownloadBudget({ policy: { capacity: Number.NaN, refillPerMs: 0 } })).toThrowError(expect.objectContaining({ code: 'invalid_option' }));
  });
});
