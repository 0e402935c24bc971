/**
 * Red team (wave 4) on the quota ledger's new chains: FAILS on the code as of 739e8b4
 * (finding 2 of the report).
 *
 * openChain (quota.ts) hands a session without a receipt a MAC'd receipt of a new chain
 * (generation 1, empty set) BEFORE anything is charged; the chain's row is meant to be
 * written only with the first charge ("rows cost tokens", quota.ts header and
 * spec/discovery.md §9: "written with it (so a chain row costs at least one token)"). But
 * when that receipt is presented in a later session, claim() bumps the chain with
 * updateBucket in a transaction of its own, before (and whether or not) the charge goes
 * through: a row `receipt:<account>:<chain>` is created for a chain no charge ever paid for.
 * With the account's bucket empty every charge is refused, so each pair of sessions (get an
 * openChain receipt, present it) leaves one more row, at zero tokens: the rows of an account
 * grow without bound (the brief's "a refused charge that still writes a chain row").
 *
 * Real DiscoveryServerSession driven over the wire by a hostile client; the real SQLite
 * store's writeQuota and updateBucket.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { hexOf, nextReceiptSets, RECEIPT_GENERATION_PREFIX, type QuotaReceipt, type QuotaStore } from '../src/protocol/discovery/quota.js';
import { MapQuotaStore, memoryBackend, type TestUser } from './helpers/discovery.js';
import { hostileSession } from './helpers/redteam-wave4-quota.js';

const tokenKey = new Uint8Array(32).fill(0x45);
const users: TestUser[] = [{ userId: 'u0', identifiers: ['tel:+41791234567'], label: 'l0' }];
const { backend } = memoryBackend(users);
/** One token, never refilled: the first charge takes it, every later charge is refused. */
const ONE = { capacity: 1, refillPerMs: 0 };
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

const chainRow = (chain: Uint8Array) => `${RECEIPT_GENERATION_PREFIX}acct:${hexOf(chain)}`;

describe.each(stores)('chain rows of an account whose bucket is empty (%s)', (_name, openStore) => {
  it('an openChain receipt presented in a refused session leaves no chain row (rows cost tokens)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1000 }), async (rounds, seed0) => {
        const store = openStore();
        const config = { store, tokenKey, sync: ONE };
        // The only token: spent by an honest first sync (its chain's row is paid for).
        const paid = await hostileSession({ backend, config, account: 'acct', chunks: [[1]], seed: seed0 });
        expect(paid.error).toBeUndefined();
        const unpaid: Uint8Array[] = [];
        for (let i = 0; i < rounds; i++) {
          // A session without a receipt: the new chain is announced, then the charge is refused.
          const ask = await hostileSession({ backend, config, account: 'acct', chunks: [[100 + i]], seed: seed0 + 10 * i + 1 });
          expect(ask.error?.code).toBe('rate_limited');
          const announced = ask.receipts[0]!;
          expect(announced.generation).toBe(1);
          const receipt: QuotaReceipt = { token: announced.token, chain: announced.chain, generation: 1, epoch: ask.epoch, ...nextReceiptSets(undefined, false, ask.epoch, []) };
          // Presented: the charge is refused again (no token), yet claim() wrote the chain's row.
          const present = await hostileSession({ backend, config, account: 'acct', presented: receipt, chunks: [[200 + i]], seed: seed0 + 10 * i + 2 });
          expect(present.error?.code).toBe('rate_limited');
          unpaid.push(announced.chain);
        }
        // Nothing was charged after the first sync...
        expect((await store.getBucket('sync:acct'))?.tokens).toBe(0);
        // ...so no chain row beyond the one it paid for. Fails today: one row per round.
        const rows = await Promise.all(unpaid.map((c) => store.getBucket(chainRow(c))));
        expect(rows.filter((r) => r !== undefined).length, 'chain rows written without any charge').toBe(0);
      }),
      { numRuns: 10, seed: 5 },
    );
  });
});
