/**
 * Red team (wave 4), after the fix of b0b5aae: the bound of spec/discovery.md §9 over many
 * epochs, against a client that picks, at every sync, which receipt it presents (none, the
 * newest, the one right after the first charge, any one it ever got, the newest of the sync
 * before: stale by one), which book it sends (old and new elements), how many chunks it sends
 * (a cut), and when the directory rotates. The real DiscoveryServerSession over the wire, the
 * real SQLite store.
 *
 *   2 × (charged + rotations × distinct elements) ≥ evaluations
 *   and every element evaluated for the first time is charged (no enumeration).
 *
 * (quota-credit.test.ts checks the same within one epoch only; the rotation-replay repro checks
 * one rotation and one book.)
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { QuotaReceipt, QuotaStore } from '../src/protocol/discovery/quota.js';
import { MapQuotaStore, VersionedBackend, type TestUser } from './helpers/discovery.js';
import { chunkHashesOf, hostileSession, receiptOf } from './helpers/redteam-wave4-quota.js';

const tokenKey = new Uint8Array(32).fill(0x48);
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

const stepArb = fc.record({
  rotateBefore: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 6, arbitrary: fc.constant(false) }),
  present: fc.oneof(
    { weight: 1, arbitrary: fc.constant('none' as const) },
    { weight: 3, arbitrary: fc.constant('newest' as const) },
    { weight: 3, arbitrary: fc.constant('first of last sync' as const) },
    { weight: 2, arbitrary: fc.constant('stale by one' as const) },
    { weight: 1, arbitrary: fc.nat() },
  ),
  sameBook: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  book: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 10 }),
  chunk: fc.integer({ min: 1, max: 4 }),
  /** Chunks sent (the rest never reaches the server): MAX = all. */
  sent: fc.oneof({ weight: 3, arbitrary: fc.constant(Number.MAX_SAFE_INTEGER) }, { weight: 1, arbitrary: fc.nat() }),
  labels: fc.boolean(),
});

const stepsArb = fc.array(stepArb, { minLength: 2, maxLength: 16 });

describe.each(stores)('quota over many epochs, a client choosing its receipts (%s)', (_name, openStore) => {
  it('2 × (charged + rotations × distinct) ≥ evaluations, and no element is free the first time', async () => {
    // The generator reaches the replay of finding 1: after a rotation, the receipt sent right
    // after the first charge presented again in three syncs in a row, with the same book.
    const reaches = fc.sample(stepsArb, { numRuns: 200, seed: 4242 }).filter((steps) => {
      let run = 0;
      let rotated = false;
      for (const s of steps) {
        rotated ||= s.rotateBefore;
        run = rotated && !s.rotateBefore && s.present === 'first of last sync' && s.sameBook ? run + 1 : s.rotateBefore ? 0 : run;
        if (run >= 3) return true;
      }
      return false;
    }).length;
    expect(reaches).toBeGreaterThan(5);
    let seed = 1000;
    await fc.assert(
      fc.asyncProperty(stepsArb, async (steps) => {
        const store = openStore();
        const backend = new VersionedBackend(users);
        const config = { store, tokenKey, sync: BIG };
        const all: QuotaReceipt[] = [];
        const newestPerSync: (QuotaReceipt | undefined)[] = [];
        let firstOfLast: QuotaReceipt | undefined;
        const seen = new Set<number>();
        let rotations = 0;
        let evaluations = 0;
        let book: number[] = [];
        for (const step of steps) {
          if (step.rotateBefore) {
            backend.rotate();
            rotations++;
          }
          book = step.sameBook && book.length > 0 ? book : step.book;
          const chunks = chunked(book, step.chunk);
          const sentChunks = chunks.slice(0, step.sent === Number.MAX_SAFE_INTEGER ? chunks.length : 1 + (step.sent % chunks.length));
          const presented =
            step.present === 'none'
              ? undefined
              : step.present === 'newest'
                ? newestPerSync.at(-1)
                : step.present === 'first of last sync'
                  ? firstOfLast
                  : step.present === 'stale by one'
                    ? newestPerSync.at(-2)
                    : all.length === 0
                      ? undefined
                      : all[step.present % all.length];
          const before = BIG.capacity - ((await store.getBucket('sync:acct'))?.tokens ?? BIG.capacity);
          const run = await hostileSession({ backend, config, account: 'acct', presented, chunks: sentChunks, labels: step.labels && sentChunks.length === chunks.length, seed: ++seed });
          const after = BIG.capacity - ((await store.getBucket('sync:acct'))?.tokens ?? BIG.capacity);
          const evaluatedIds = sentChunks.slice(0, run.answeredChunks).flat();
          // No enumeration: what is evaluated for the first time is charged.
          const fresh = new Set(evaluatedIds.filter((e) => !seen.has(e)));
          expect(after - before).toBeGreaterThanOrEqual(fresh.size);
          sentChunks.flat().forEach((e) => seen.add(e));
          evaluations += run.evaluated;
          const hashes = chunkHashesOf(backend, sentChunks);
          const got = run.receipts.map((r) => receiptOf(run, r, presented, hashes));
          all.push(...got);
          newestPerSync.push(got.at(-1) ?? newestPerSync.at(-1));
          firstOfLast = got[0] ?? firstOfLast;
        }
        const spent = BIG.capacity - ((await store.getBucket('sync:acct'))?.tokens ?? BIG.capacity);
        expect(2 * (spent + rotations * seen.size)).toBeGreaterThanOrEqual(evaluations);
      }),
      { numRuns: 40, seed: 4242 },
    );
  });
});
