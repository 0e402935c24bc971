/**
 * Red team (wave 4) on the chain's charged record: FAILS on the code as of 739e8b4
 * (finding 5 of the report).
 *
 * Every chunk's writeQuota appends to the chain's record by reading the whole stored blob and
 * writing it back grown (appendedRecord in src/directory/buckets.ts; the SQLite and PostgreSQL
 * stores UPSERT the full `hashes`). A client decides the chunk size: a session of n one-item
 * chunks makes the store read and rewrite 8·n²/2 bytes, with the SQLite write lock (IMMEDIATE,
 * one per directory file, every account's charges wait on it) or a PostgreSQL row (WAL, TOAST,
 * network both ways) held for each. maxQueryItems = 100,000 one-item chunks: ~40 GB through
 * the store for one session. Measured (SQLite file, ledger only, load ~12-13 on 2 cores):
 * 5,000 / 10,000 / 20,000 one-item chunks take 5.1 / 15.5 / 32.6 s with the record against
 * 1.6 / 2.0 / 3.8 s with a bucket update per chunk (as before 1882de5): the ratio grows with n.
 *
 * The property: the record bytes a session makes the store materialize grow linearly with
 * the elements it charged (here at most 64 bytes per element), whatever the chunking.
 * Counted at the helpers every store goes through (see the mock), so the test needs no
 * clock; a fix that stores appends as rows of their own passes it.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';

const materialized = { bytes: 0 };
/**
 * Counts the record bytes the stores materialize, at the helpers every store goes through:
 * appendedRecord (739e8b4: the stored blob read back and the grown blob written, per write)
 * and joinRecord (a record assembled from parts, if the stores keep it so). Whichever exists.
 */
vi.mock('../src/directory/buckets.js', async (importOriginal) => {
  const original = (await importOriginal()) as Record<string, unknown>;
  const wrapped: Record<string, unknown> = { ...original };
  const append = original.appendedRecord as ((stored: { hashes: Uint8Array } | undefined, ...rest: unknown[]) => { hashes: Uint8Array } | undefined) | undefined;
  if (typeof append === 'function') {
    wrapped.appendedRecord = (stored: { hashes: Uint8Array } | undefined, ...rest: unknown[]) => {
      const out = append(stored, ...rest);
      materialized.bytes += (stored?.hashes.length ?? 0) + (out?.hashes.length ?? 0);
      return out;
    };
  }
  const join = original.joinRecord as ((...args: unknown[]) => { hashes: Uint8Array }) | undefined;
  if (typeof join === 'function') {
    wrapped.joinRecord = (...args: unknown[]) => {
      const out = join(...args);
      materialized.bytes += out.hashes.length;
      return out;
    };
  }
  return wrapped;
});

const { SqliteStore } = await import('../src/directory/sqlite-store.js');
const { MemoryStore } = await import('../src/directory/memory-store.js');
const QuotaLedger = await (await import('./helpers/redteam-wave4-quota.js')).loadQuotaLedger();
const { seededRng } = await import('./helpers/rng.js');
type QuotaStore = import('../src/protocol/discovery/quota.js').QuotaStore;

const SIZE = 32;
const BIG = { capacity: 1e9, refillPerMs: 0 };
const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

const stores: [string, () => QuotaStore][] = [
  ['SQLite', () => {
    const s = SqliteStore.open(':memory:');
    opened.push(s);
    return s;
  }],
  ['memory', () => new MemoryStore()],
];

describe.each(stores)('the charged record of one session (%s store)', (_name, openStore) => {
  it('costs the store record bytes linear in the elements charged, even in one-item chunks (2,000 chunks)', async () => {
    const store = openStore();
    const ledger = new QuotaLedger({ store, tokenKey: new Uint8Array(32).fill(0x47), sync: BIG }, 'acct', 'sync', 1, seededRng(9));
    ledger.openChain();
    const n = 2000;
    materialized.bytes = 0;
    for (let i = 0; i < n; i++) {
      const element = new Uint8Array(SIZE);
      new DataView(element.buffer).setUint32(0, i);
      await ledger.charge(element, SIZE, 0);
    }
    expect(ledger.counts.charged).toBe(n);
    // Linear: 64 bytes per element charged (8 for the hash, generously rounded). Today
    // ~8·n² = 32,000,000 bytes for n = 2,000 (16 MB read back, 16 MB written).
    expect(materialized.bytes, `record bytes materialized for ${n} one-item chunks`).toBeLessThanOrEqual(64 * n);
  });
});
