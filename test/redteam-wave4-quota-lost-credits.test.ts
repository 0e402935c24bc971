/**
 * Red team (wave 4) on the chain's charged record: two ways an HONEST device still pays
 * twice for what a dead node charged, neither listed in spec/sync-failover.md §4 ("What can
 * still be charged twice"). Both FAIL on the code as of 739e8b4 (findings 3 and 4 of the
 * report). On the QuotaLedger as server.ts drives it, over the real SQLite store and the
 * protocol test store.
 *
 * (3) The retry's first charge is refused (rate_limited: the retry also brings new contacts
 *     and the bucket is nearly empty). claim() already bumped the chain's generation in a
 *     transaction of its own; the record (of the cut session's generation) is left as it was,
 *     so at the next retry the record is no longer "the chain's latest" and nothing is
 *     credited: what the dead node charged is charged again. "credits are taken once: the
 *     session's first write replaces the record" is not what happens: there was no write.
 *
 * (4) Two sessions of one chain at once (the device syncs twice: a background sync and the
 *     one the user started). The later one (B, generation g+2) writes its record; the earlier
 *     one (A, generation g+1) charges another chunk and appendedRecord() REPLACES B's record
 *     with its own (a record "of another generation is replaced", even an older one). B's
 *     node dies; B's retry, presenting B's receipt (current), finds a record of generation
 *     g+1 and is credited nothing.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { chargeHashesHex, nextReceiptSets, type BucketPolicy, type QuotaReceipt, type QuotaStore } from '../src/protocol/discovery/quota.js';
import { MapQuotaStore } from './helpers/discovery.js';
import { loadQuotaLedger, type LedgerLike } from './helpers/redteam-wave4-quota.js';
import { seededRng } from './helpers/rng.js';

const QuotaLedger = await loadQuotaLedger();
const SIZE = 32;
const EPOCH = 1;
const tokenKey = new Uint8Array(32).fill(0x46);
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

function packed(elements: readonly number[]): Uint8Array {
  const out = new Uint8Array(elements.length * SIZE);
  elements.forEach((e, i) => {
    new DataView(out.buffer).setUint32(i * SIZE, e);
    out[i * SIZE + SIZE - 1] = 0x5d;
  });
  return out;
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** A session of the ledger as server.ts drives it: claim with the first charge, a receipt right after it. */
class Session {
  readonly ledger: LedgerLike;
  private readonly answered: number[][] = [];
  constructor(store: QuotaStore, policy: BucketPolicy, readonly presented: QuotaReceipt | undefined, seed: number) {
    this.ledger = new QuotaLedger({ store, tokenKey, sync: policy }, 'acct', 'sync', EPOCH, seededRng(seed));
    if (presented) this.ledger.presentToken(presented);
    this.ledger.openChain();
  }
  /** Charges a chunk; true if it went through (false: refused, rate_limited). */
  async charge(chunk: readonly number[], now = 0): Promise<boolean> {
    try {
      await this.ledger.charge(packed(chunk), SIZE, now);
      return true;
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe('rate_limited');
      return false;
    }
  }
  /** The chunk's answer reached the client. */
  answer(chunk: readonly number[]): void {
    this.answered.push([...chunk]);
  }
  /**
   * The receipt the server issues now (over the answered chunks), as the client holds it;
   * undefined when the server issues none (the client keeps the one it has).
   */
  receipt(): QuotaReceipt | undefined {
    const issued = this.ledger.issueToken(this.answered.length);
    if (!issued) return undefined;
    const hashes = this.answered.flatMap((c) => chargeHashesHex(packed(c), SIZE));
    return { ...issued, epoch: EPOCH, ...nextReceiptSets(this.presented, this.ledger.tokenAccepted === true, EPOCH, hashes) };
  }
}

describe.each(stores)('what a dead node charged, for an honest device (%s)', (_name, openStore) => {
  it('(3) is credited at the retry after a retry refused for quota (not charged a second time)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), async (before, cut, fresh) => {
        const store = openStore();
        // The bucket holds what the first two syncs take and fresh - 1 more; it refills later.
        const policy = { capacity: before + cut + fresh - 1, refillPerMs: 1 };
        let charged = 0;
        // A complete sync: receipted.
        const s0 = new Session(store, policy, undefined, 1);
        expect(await s0.charge(range(0, before))).toBe(true);
        s0.answer(range(0, before));
        const r0 = s0.receipt()!;
        charged += s0.ledger.counts.charged;
        // The next sync: `cut` contacts charged, the node dies before their answers; the client
        // holds the receipt sent right after the first charge.
        const s1 = new Session(store, policy, r0, 2);
        expect(await s1.charge(range(1000, cut))).toBe(true);
        const r1 = s1.receipt()!;
        charged += s1.ledger.counts.charged;
        // The retry brings `fresh` new contacts too, one more than the balance: refused as a whole.
        const s2 = new Session(store, policy, r1, 3);
        const retry = [...range(1000, cut), ...range(5000, fresh)];
        expect(policy.capacity - charged).toBe(fresh - 1);
        expect(await s2.charge(retry)).toBe(false);
        // Sent before the error when the first charge bumped the generation; else the client keeps r1.
        const r2 = s2.receipt() ?? r1;
        // Later, the bucket refilled: the retry again.
        const s3 = new Session(store, policy, r2, 4);
        expect(await s3.charge(retry, 10 * policy.capacity)).toBe(true);
        charged += s3.ledger.counts.charged;
        // Each contact paid once: the `cut` ones by s1 (credited now), the fresh ones here.
        // Fails today: s3 charges the `cut` contacts again.
        expect(charged, `s3 charged ${s3.ledger.counts.charged}, credited ${s3.ledger.counts.credited}`).toBe(before + cut + fresh);
      }),
      { numRuns: 30, seed: 11 },
    );
  });

  it('(4) is credited at the retry of the later of two concurrent sessions of one chain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }), async (a1, b, a2) => {
        const store = openStore();
        const policy = { capacity: 1e6, refillPerMs: 0 };
        const s0 = new Session(store, policy, undefined, 1);
        await s0.charge(range(0, 5));
        s0.answer(range(0, 5));
        const r0 = s0.receipt()!;
        // Session A and session B of the same device, both presenting r0.
        const A = new Session(store, policy, r0, 2);
        expect(await A.charge(range(100, a1))).toBe(true);
        const B = new Session(store, policy, r0, 3);
        expect(await B.charge(range(200, b))).toBe(true);
        const rB = B.receipt()!; // right after B's first charge: B's chain, generation g+2
        // A goes on (its chunks answered); B's node dies before B's answers.
        expect(await A.charge(range(300, a2))).toBe(true);
        // B's retry presents the newest receipt it holds, with the contacts it has no answer for.
        const C = new Session(store, policy, rB, 4);
        expect(await C.charge(range(200, b))).toBe(true);
        // Fails today: A's later chunk replaced B's record, C is credited nothing and pays again.
        expect(C.ledger.counts.charged, `credited ${C.ledger.counts.credited}`).toBe(0);
      }),
      { numRuns: 20, seed: 12 },
    );
  });
});
