/**
 * Red team (wave 4) on the quota ledger's charged record (cb0308e, 1882de5): FAILS on the
 * code as of 739e8b4 (finding 1 of the report).
 *
 * The receipt the server now sends right after a session's first charge (server.ts charge():
 * `if (seq === 0 && !this.ended) this.sendReceipt()`) covers no answered chunk: it restates
 * the presented receipt's set and `evaluated` bits, signed at the BUMPED generation. After a
 * rotation those bits are all clear (an earlier epoch's receipt), so a client that keeps that
 * receipt and drops the later ones presents, at its next sync, a receipt that is current and
 * still says "nothing of the set evaluated in this epoch": the whole set is free again, and
 * the next session hands out the same receipt again. Zero tokens, without end.
 *
 * Spec sentences this contradicts (spec/discovery.md §9): "an element paid for in an
 * earlier epoch is free once in each later epoch", and the bound "2 × (charged + rotations ×
 * distinct elements) ≥ evaluations"; quota.ts header: a replayed receipt "with fewer
 * `evaluated` bits) is refused".
 *
 * The client here speaks the wire by hand to the real DiscoveryServerSession (only the
 * receipt it keeps is its choice); the charges go to the real SQLite store's writeQuota.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { QuotaReceipt, QuotaStore } from '../src/protocol/discovery/quota.js';
import { MapQuotaStore, VersionedBackend, type TestUser } from './helpers/discovery.js';
import { chunkHashesOf, hostileSession, receiptOf } from './helpers/redteam-wave4-quota.js';

const tokenKey = new Uint8Array(32).fill(0x44);
const BIG = { capacity: 1e9, refillPerMs: 0 };
const users: TestUser[] = [{ userId: 'u0', identifiers: ['tel:+41791234567'], label: 'l0' }];
const opened: SqliteStore[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});
const stores: [string, () => QuotaStore][] = [
  ['SQLite', () => {
    const s = SqliteStore.open(':memory:');
    opened.push(s);
    return s;
  }],
  ['the protocol test store', () => new MapQuotaStore()],
];

const chunked = (ids: readonly number[], size: number): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
};
const spentOf = async (store: QuotaStore) => BIG.capacity - ((await store.getBucket('sync:acct'))?.tokens ?? BIG.capacity);

/** A book paid for in epoch 1 (one full sync, the receipt of dir.labels kept), then a rotation. */
async function paidThenRotated(store: QuotaStore, book: readonly number[], chunk: number) {
  const backend = new VersionedBackend(users);
  const config = { store, tokenKey, sync: BIG };
  const chunks = chunked(book, chunk);
  const hashes = chunkHashesOf(backend, chunks);
  const first = await hostileSession({ backend, config, account: 'acct', chunks, labels: true, seed: 1 });
  expect(first.error).toBeUndefined();
  const held = receiptOf(first, first.receipts.at(-1)!, undefined, hashes);
  expect(await spentOf(store)).toBe(book.length);
  backend.rotate();
  return { backend, config, chunks, hashes, held, evaluations: first.evaluated };
}

describe.each(stores)('after a rotation, the receipt sent right after the first charge (%s)', (_name, openStore) => {
  it('re-presented every time, makes the paid book free in every session of the epoch (0 tokens for 10 re-syncs)', async () => {
    const store = openStore();
    const book = Array.from({ length: 40 }, (_, i) => i);
    const setup = await paidThenRotated(store, book, 16);
    let held: QuotaReceipt = setup.held;
    let evaluations = setup.evaluations;
    for (let k = 0; k < 10; k++) {
      const run = await hostileSession({ backend: setup.backend, config: setup.config, account: 'acct', presented: held, chunks: setup.chunks, labels: true, seed: 10 + k });
      expect(run.error).toBeUndefined();
      evaluations += run.evaluated;
      // The hostile client keeps the first dir.receipt (sent before any answer) and drops the rest.
      const kept = run.receipts.find((r) => r.type === 'dir.receipt')!;
      held = receiptOf(run, kept, held, setup.hashes);
    }
    const spent = await spentOf(store);
    // 440 evaluations (40 in epoch 1, 10 × 40 in epoch 2). The spec's bound (§9, one
    // rotation, 40 distinct): 2 × (spent + 40) ≥ 440, so at least 180 tokens. Fails today:
    // spent is 40 (nothing at all was charged in epoch 2).
    expect(evaluations).toBe(440);
    expect(spent, `spent ${spent} tokens for ${evaluations} evaluations over one rotation`).toBeGreaterThanOrEqual(180);
  });

  it('the bound of spec/discovery.md §9 holds whatever receipt the client keeps: 2 × (charged + rotations × distinct) ≥ evaluations', async () => {
    const keepArb = fc.oneof(
      { weight: 3, arbitrary: fc.constant('first receipt' as const) },
      { weight: 1, arbitrary: fc.constant('last receipt' as const) },
      { weight: 1, arbitrary: fc.nat() },
    );
    const scenarioArb = fc.record({
      size: fc.integer({ min: 1, max: 24 }),
      chunk: fc.integer({ min: 1, max: 8 }),
      keeps: fc.array(keepArb, { minLength: 2, maxLength: 6 }),
    });
    // The generator reaches the attack (the first receipt kept several times in a row).
    expect(fc.sample(scenarioArb, { numRuns: 100, seed: 4 }).some((s) => s.keeps.filter((k) => k === 'first receipt').length >= 3)).toBe(true);
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ size, chunk, keeps }) => {
        const store = openStore();
        const book = Array.from({ length: size }, (_, i) => i);
        const setup = await paidThenRotated(store, book, chunk);
        let held: QuotaReceipt = setup.held;
        let evaluations = setup.evaluations;
        for (const keep of keeps) {
          const run = await hostileSession({ backend: setup.backend, config: setup.config, account: 'acct', presented: held, chunks: setup.chunks, labels: true, seed: ++seed });
          evaluations += run.evaluated;
          const kept = keep === 'first receipt' ? run.receipts[0] : keep === 'last receipt' ? run.receipts.at(-1) : run.receipts[keep % Math.max(1, run.receipts.length)];
          if (kept) held = receiptOf(run, kept, held, setup.hashes);
        }
        const spent = await spentOf(store);
        expect(2 * (spent + 1 * book.length)).toBeGreaterThanOrEqual(evaluations);
      }),
      { numRuns: 25, seed: 20261202 },
    );
  });
});
