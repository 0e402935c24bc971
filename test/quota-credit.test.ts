/**
 * The chain's charged record (spec/sync-failover.md §4), on the QuotaLedger itself, over the
 * real SQLite store (its writeQuota transaction) and the protocol-level test store:
 *
 * - an honest client cut off at any point (fast-check: how many chunks were charged before
 *   the cut, how many answers and which receipts reached it), then retried with the newest
 *   receipt it holds and the elements it has no answer for, pays once per element;
 * - an adversarial client (fast-check: any receipt ever issued presented again, or none, any
 *   book of old and new elements, cuts anywhere) never gets a new element free (enumeration),
 *   and gets at most one free evaluation per paid one (a credit is taken once: cleared by
 *   the next session's first write, never recorded again).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { chargeHashesHex, nextReceiptSets, type QuotaReceipt, type QuotaStore } from '../src/protocol/discovery/quota.js';
import { QuotaLedger } from '../src/protocol/discovery/quota-ledger.js';
import { MapQuotaStore } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const SIZE = 32;
const EPOCH = 1;
const tokenKey = new Uint8Array(32).fill(11);
const BIG = { capacity: 1e9, refillPerMs: 0 };
const opened: SqliteStore[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

/** A stand-in blinded element per index (the ledger hashes bytes; validity is the session's job). */
function packed(elements: readonly number[]): Uint8Array {
  const out = new Uint8Array(elements.length * SIZE);
  elements.forEach((e, i) => {
    new DataView(out.buffer).setUint32(i * SIZE, e);
    out[i * SIZE + SIZE - 1] = 0x5c;
  });
  return out;
}

const spentOf = async (store: QuotaStore) => BIG.capacity - ((await store.getBucket('sync:acct'))?.tokens ?? BIG.capacity);

interface Cut {
  /** Chunks charged before the cut (the rest never reached the server, or the node died first). */
  charged: number;
  /** Chunks whose answers reached the client (at most `charged`). */
  answered: number;
  /** Whether the receipt the server sends right after the first charge reached the client. */
  heardFirst: boolean;
}

/**
 * One session of the ledger as the discovery server drives it (server.ts): the new chain
 * announced before the first charge, chunks charged in order, a receipt after the first
 * charge and one over the chunks answered. Returns the receipts the client holds after it,
 * in order, as the client computes them (nextReceiptSets) from what reached it.
 */
async function session(store: QuotaStore, presented: QuotaReceipt | undefined, chunks: readonly number[][], cut: Cut, seed: number) {
  const ledger = new QuotaLedger({ store, tokenKey, sync: BIG }, 'acct', 'sync', EPOCH, seededRng(seed));
  if (presented) ledger.presentToken(presented);
  const received: QuotaReceipt[] = [];
  const hashesOf = (k: number) => chunks.slice(0, k).flatMap((c) => chargeHashesHex(packed(c), SIZE));
  const receiptAt = (issued: { token: Uint8Array; generation: number; chain: Uint8Array } | undefined, k: number) => {
    if (!issued) return;
    const accepted = ledger.tokenAccepted === true;
    received.push({ ...issued, epoch: EPOCH, ...nextReceiptSets(presented, accepted, EPOCH, hashesOf(k)) });
  };
  if (cut.charged > 0) receiptAt(ledger.openChain(), 0);
  for (let i = 0; i < cut.charged; i++) {
    await ledger.charge(packed(chunks[i]!), SIZE, 0);
    if (i === 0 && cut.heardFirst) receiptAt(ledger.issueToken(0), 0);
  }
  if (cut.answered > 0) receiptAt(ledger.issueToken(cut.answered), cut.answered);
  return { received, counts: ledger.counts };
}

const chunked = (elements: readonly number[], size: number): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i < elements.length; i += size) out.push(elements.slice(i, i + size));
  return out;
};

const cutArb = (chunks: number) =>
  fc
    .record({ charged: fc.integer({ min: 0, max: chunks }), answeredFraction: fc.double({ min: 0, max: 1, noNaN: true }), heardFirst: fc.boolean() })
    .map(({ charged, answeredFraction, heardFirst }) => ({ charged, answered: Math.floor(answeredFraction * charged), heardFirst }));

const stores: [string, () => QuotaStore][] = [
  ['SQLite', () => {
    const s = SqliteStore.open(':memory:');
    opened.push(s);
    return s;
  }],
  ['the protocol test store', () => new MapQuotaStore()],
];

describe.each(stores)('a chain charged record (%s)', (_name, openStore) => {
  it('an honest client cut off anywhere, then retried with what it holds, pays once per element', async () => {
    const scenarioArb = fc
      .record({ book: fc.integer({ min: 1, max: 40 }), chunk: fc.integer({ min: 1, max: 8 }), returning: fc.boolean() })
      .chain(({ book, chunk, returning }) => fc.record({ book: fc.constant(book), chunk: fc.constant(chunk), returning: fc.constant(returning), cut: cutArb(Math.ceil(book / chunk)) }));
    // The generator reaches cuts before any charge, between charge and answer, and after answers.
    const kinds = new Set(fc.sample(scenarioArb, { numRuns: 300, seed: 3 }).map((s) => (s.cut.charged === 0 ? 'none charged' : s.cut.answered < s.cut.charged ? 'charged, unanswered' : 'all answered')));
    expect([...kinds].sort()).toEqual(['all answered', 'charged, unanswered', 'none charged']);
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ book, chunk, returning, cut }) => {
        const store = openStore();
        let held: QuotaReceipt | undefined;
        const paid = new Set<number>();
        // A returning device: an earlier complete sync of other elements, receipted.
        if (returning) {
          const earlier = [1000, 1001, 1002];
          const done = await session(store, undefined, [earlier], { charged: 1, answered: 1, heardFirst: true }, ++seed);
          held = done.received.at(-1);
          earlier.forEach((e) => paid.add(e));
        }
        const elements = Array.from({ length: book }, (_, i) => i);
        const chunks = chunked(elements, chunk);
        const first = await session(store, held, chunks, cut, ++seed);
        held = first.received.at(-1) ?? held;
        // The retry: the elements with no answer, presenting the newest receipt held.
        const answered = new Set(chunks.slice(0, cut.answered).flat());
        const rest = elements.filter((e) => !answered.has(e));
        const retryChunks = chunked(rest, chunk);
        await session(store, held, retryChunks, { charged: retryChunks.length, answered: retryChunks.length, heardFirst: true }, ++seed);
        elements.forEach((e) => paid.add(e));
        // Each element charged once: the dead session's charges were credited to the retry.
        expect(await spentOf(store)).toBe(paid.size);
      }),
      { numRuns: 60, seed: 20261202 },
    );
  });

  it('an adversarial client gets no new element free, and at most one free evaluation per paid one', async () => {
    const stepArb = fc.record({
      // Which receipt to present: none, any receipt it ever held (an index, modulo), or the
      // newest of the session before the last (stale by one: the credit's own case, replayed).
      // (Weighted toward the replay: four such sessions in a row are what a credit taken
      // twice would take to show.)
      present: fc.oneof(
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.nat() },
        { weight: 3, arbitrary: fc.constant('latest' as const) },
        { weight: 4, arbitrary: fc.constant('stale by one' as const) },
      ),
      // Elements: the last session's book again, or old ones again (low numbers) and new ones.
      sameBook: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      book: fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 12 }),
      chunk: fc.integer({ min: 1, max: 4 }),
      cut: fc.record({ charged: fc.oneof({ weight: 2, arbitrary: fc.constant(Number.MAX_SAFE_INTEGER) }, { weight: 1, arbitrary: fc.nat() }), answered: fc.nat(), heardFirst: fc.boolean() }),
    });
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const store = openStore();
        const receipts: QuotaReceipt[] = [];
        const newestPerSession: (QuotaReceipt | undefined)[] = [];
        const evaluatedBefore = new Set<number>();
        let evaluations = 0;
        let credited = 0;
        let lastBook: number[] = [];
        for (const step of steps) {
          const book = step.sameBook && lastBook.length > 0 ? lastBook : step.book;
          lastBook = book;
          const chunks = chunked(book, step.chunk);
          const charged = step.cut.charged === Number.MAX_SAFE_INTEGER ? chunks.length : step.cut.charged % (chunks.length + 1);
          const cut = { charged, answered: charged === 0 ? 0 : step.cut.answered % (charged + 1), heardFirst: step.cut.heardFirst };
          const presented =
            step.present === 'stale by one'
              ? newestPerSession.at(-2)
              : step.present === 'latest'
                ? newestPerSession.at(-1)
                : step.present === undefined || receipts.length === 0
                ? undefined
                : receipts[step.present % receipts.length];
          const before = await spentOf(store);
          const out = await session(store, presented, chunks, cut, ++seed);
          const sent = chunks.slice(0, charged).flat();
          const fresh = sent.filter((e) => !evaluatedBefore.has(e));
          // Enumeration: every element evaluated for the first time is charged.
          expect((await spentOf(store)) - before).toBeGreaterThanOrEqual(fresh.length);
          sent.forEach((e) => evaluatedBefore.add(e));
          evaluations += sent.length;
          credited += out.counts.credited;
          receipts.push(...out.received);
          newestPerSession.push(out.received.at(-1));
        }
        // One epoch (no rotation-free evaluations): free ones are credits, at most one per charge.
        const spent = await spentOf(store);
        expect(evaluations - spent).toBe(credited);
        expect(credited).toBeLessThanOrEqual(spent);
      }),
      { numRuns: 80, seed: 7 },
    );
  });
});
