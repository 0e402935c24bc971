/**
 * Quota bucket state in both stores: per-account { tokens, updatedAt }, durable across a
 * reopen (SQLite), checked account ids and values, and an atomic read-modify-write. The
 * policy that fills and drains buckets lives in src/protocol; here it is only state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { BucketState, DirectoryStore } from '../src/directory/types.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-quota-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(join(tmp, `quota-${files++}.db`))],
];

const accountArb = fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme-composite' }).filter((s) => s.length <= 256);
// Negative zero is stored as zero (SQLite has none), so the model uses +0 too.
const stateArb = fc.record({ tokens: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).map((t) => t + 0), updatedAt: fc.integer({ min: 0, max: 2 ** 48 }) });

describe.each(stores)('quota buckets on the %s store', (_name, open) => {
  it('stores the last state written per account', async () => {
    const store = open();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(accountArb, stateArb), { maxLength: 20 }), async (writes) => {
        const model = new Map<string, BucketState>();
        for (const [account, state] of writes) {
          await store.putBucket(account, state);
          model.set(account, state);
        }
        for (const [account, state] of model) expect(await store.getBucket(account)).toEqual(state);
      }),
      { numRuns: 30 },
    );
    expect(await store.getBucket('nobody')).toBeUndefined();
    await store.close();
  });

  it('checks account ids and states', async () => {
    const store = open();
    const ok = { tokens: 5, updatedAt: 1 };
    await store.putBucket('a'.repeat(256), ok);
    expect(await store.getBucket('a'.repeat(256))).toEqual(ok);
    for (const account of ['', 'a'.repeat(257), 7 as unknown as string]) {
      await expect(store.putBucket(account, ok)).rejects.toThrow(expect.objectContaining({ code: 'invalid_account' }));
      await expect(store.getBucket(account)).rejects.toThrow(expect.objectContaining({ code: 'invalid_account' }));
    }
    for (const state of [{ tokens: Number.NaN, updatedAt: 1 }, { tokens: Infinity, updatedAt: 1 }, { tokens: 1, updatedAt: 1.5 }, null]) {
      await expect(store.putBucket('x', state as BucketState)).rejects.toThrow(expect.objectContaining({ code: 'invalid_bucket' }));
    }
    expect(await store.getBucket('x')).toBeUndefined();
    await store.close();
  });

  it('updates a bucket read-modify-write in one step; a failing update writes nothing', async () => {
    const store = open();
    const spend = (n: number, now: number) => (s: BucketState | undefined): BucketState => ({ tokens: (s?.tokens ?? 100) - n, updatedAt: now });
    expect(await store.updateBucket('acct', spend(10, 1))).toEqual({ tokens: 90, updatedAt: 1 });
    expect(await store.updateBucket('acct', spend(5, 2))).toEqual({ tokens: 85, updatedAt: 2 });
    await expect(
      store.updateBucket('acct', () => {
        throw new Error('policy refused');
      }),
    ).rejects.toThrow('policy refused');
    await expect(store.updateBucket('acct', () => ({ tokens: Number.NaN, updatedAt: 3 }))).rejects.toThrow(expect.objectContaining({ code: 'invalid_bucket' }));
    expect(await store.getBucket('acct')).toEqual({ tokens: 85, updatedAt: 2 });
    await store.close();
  });
});

it('SQLite keeps buckets across a reopen in quota_buckets, and a Directory passes them through', async () => {
  const path = join(tmp, 'durable.db');
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  const first = await Directory.open({ store: SqliteStore.open(path), suite });
  await first.putBucket('device-1', { tokens: 49_000.5, updatedAt: 1_700_000_000_000 });
  await first.putBucket('device-2', { tokens: 0, updatedAt: 1 });
  expect(await first.updateBucket('device-2', (s) => ({ tokens: s!.tokens + 1, updatedAt: 2 }))).toEqual({ tokens: 1, updatedAt: 2 });
  await first.close();

  const db = new Database(path, { readonly: true });
  expect(db.prepare('SELECT account, tokens, updated_at FROM quota_buckets ORDER BY account').all()).toEqual([
    { account: 'device-1', tokens: 49_000.5, updated_at: 1_700_000_000_000 },
    { account: 'device-2', tokens: 1, updated_at: 2 },
  ]);
  db.close();

  const second = await Directory.open({ store: SqliteStore.open(path), suite });
  expect(await second.getBucket('device-1')).toEqual({ tokens: 49_000.5, updatedAt: 1_700_000_000_000 });
  expect(await second.getBucket('device-2')).toEqual({ tokens: 1, updatedAt: 2 });
  await second.close();
});
