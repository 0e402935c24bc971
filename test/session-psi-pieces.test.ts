/**
 * The session-PSI setup on a pool, deduplicated and sent in pieces (src/parallel/server-set.ts,
 * DistinctItems in src/protocol/server-set.ts): the pieces joined are distinctItems (also
 * when the probe budget runs out in the middle of a piece), and the prepared set equals
 * prepareServerSet's (items, key, elements) plus suite.evaluate's outputs, for set sizes
 * at, below and above the piece boundaries, with duplicates across pieces; a bad item in a
 * later piece fails as the one-batch path failed (same code, same index among the distinct
 * items), after the pieces already sent have settled.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OprfError } from '../src/errors.js';
import { loadGroup } from '../src/group/select.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { FIRST_PIECE, LAST_PIECE, PIECE, pieceSize, prepareServerSetParallel } from '../src/parallel/server-set.js';
import { DistinctItems, distinctItems, prepareServerSet } from '../src/protocol/server-set.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Items from a small pool (duplicates common, also across pieces). */
const itemsArb = (maxLength: number) =>
  fc.array(fc.uint8Array({ minLength: 0, maxLength: 6 }), { minLength: 1, maxLength: 10 }).chain((pool) => fc.array(fc.nat({ max: pool.length - 1 }).map((i) => pool[i].slice()), { maxLength }));

describe('DistinctItems: distinctItems in pieces', () => {
  const cuts = fc.record({ items: itemsArb(60), cuts: fc.array(fc.nat({ max: 70 }), { maxLength: 8 }), budget: fc.oneof(fc.constant(undefined), fc.nat({ max: 30 })) });

  it('the generator reaches budgets spent in the middle, empty pieces and cuts past the end', () => {
    const sample = fc.sample(cuts, { numRuns: 300, seed: 7 });
    expect(sample.some((c) => c.budget === 0)).toBe(true);
    expect(sample.some((c) => c.cuts.some((x) => x > c.items.length))).toBe(true);
    expect(sample.some((c) => new Set(c.cuts).size < c.cuts.length)).toBe(true); // a piece with nothing new
    // Budgets that run out after some distinct items went through the table, and before the last.
    const switchedAt = (c: (typeof sample)[number]) => {
      const d = new DistinctItems(c.items, c.budget);
      const n = d.take(c.items.length).length;
      return d.stringsFrom !== undefined && d.stringsFrom > 0 && d.stringsFrom < n;
    };
    expect(sample.some(switchedAt)).toBe(true);
  });

  it('pieces joined are distinctItems, the same objects, for any cut points and probe budget', () => {
    fc.assert(
      fc.property(cuts, ({ items, cuts: at, budget }) => {
        const whole = distinctItems(items, budget);
        const d = new DistinctItems(items, budget);
        const joined: Uint8Array[] = [];
        for (const end of [...at].sort((a, b) => a - b)) joined.push(...d.take(end));
        joined.push(...d.take(items.length));
        expect(d.taken).toBe(items.length);
        expect(joined.map(hex)).toEqual(whole.map(hex));
        joined.forEach((x, i) => expect(x).toBe(whole[i]));
        expect(d.take(items.length + 5)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});

let pool: WorkerPool;
let suite: OprfSuite;
beforeAll(async () => {
  assertDistFresh();
  pool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 4, maxSliceSize: 8 });
  suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'sodium'));
});
afterAll(() => pool?.close());

describe('prepareServerSetParallel in pieces', () => {
  const pieces = fc.record({ first: fc.integer({ min: 1, max: 12 }), size: fc.integer({ min: 1, max: 12 }) });
  /** Set sizes at and around whole numbers of pieces (first + k * size), and 0. */
  const sized = pieces.chain((p) =>
    fc.record({
      pieces: fc.constant(p),
      items: fc.oneof(
        fc.constant<Uint8Array[]>([]),
        fc.integer({ min: 0, max: 3 }).chain((k) => fc.integer({ min: -1, max: 1 }).chain((d) => fc.array(fc.uint8Array({ maxLength: 5 }), { minLength: Math.max(0, p.first + k * p.size + d), maxLength: Math.max(0, p.first + k * p.size + d) }))),
        itemsArb(50),
      ),
      seed: fc.nat(),
    }),
  );

  it('the generator reaches empty sets, sizes at piece boundaries and duplicates across pieces', () => {
    const sample = fc.sample(sized, { numRuns: 300, seed: 11 });
    expect(sample.some((c) => c.items.length === 0)).toBe(true);
    expect(sample.some((c) => c.items.length === 1)).toBe(true);
    const atBoundary = (c: (typeof sample)[number]) => c.items.length > c.pieces.first && (c.items.length - c.pieces.first) % c.pieces.size === 0;
    expect(sample.some(atBoundary)).toBe(true);
    expect(sample.some((c) => c.items.length === c.pieces.first)).toBe(true);
    expect(sample.some((c) => c.items.length === c.pieces.first + 1)).toBe(true);
    // An item repeated after the first piece ends.
    expect(sample.some((c) => c.items.slice(c.pieces.first).some((x) => c.items.slice(0, c.pieces.first).some((y) => hex(x) === hex(y))))).toBe(true);
  });

  it('equals prepareServerSet (items, key, elements) and suite.evaluate (outputs) for any piece sizes', async () => {
    await fc.assert(
      fc.asyncProperty(sized, async ({ pieces: p, items, seed }) => {
        const single = prepareServerSet(suite, items, seededRng(seed));
        const pooled = await prepareServerSetParallel(pool, suite, items, seededRng(seed), undefined, p);
        expect(pooled.keys).toEqual(single.keys);
        expect(pooled.items.map(hex)).toEqual(single.items.map(hex));
        expect(hex(pooled.elements)).toBe(hex(single.elements));
        expect(pooled.outputs!.map(hex)).toEqual(suite.evaluate(single.keys.secretKey, single.items).map(hex));
      }),
      { numRuns: 60 },
    );
  });

  it('with the default pieces, around the first piece boundary', async () => {
    for (const n of [FIRST_PIECE - 1, FIRST_PIECE, FIRST_PIECE + 1]) {
      const items = Array.from({ length: n + 3 }, (_, i) => new TextEncoder().encode(`tel:+1415${String(i % n).padStart(7, '0')}`));
      const single = prepareServerSet(suite, items, seededRng(n));
      const pooled = await prepareServerSetParallel(pool, suite, items, seededRng(n));
      expect(pooled.items.length).toBe(n);
      expect(hex(pooled.elements)).toBe(hex(single.elements));
      expect(pooled.outputs!.map(hex)).toEqual(suite.evaluate(single.keys.secretKey, single.items).map(hex));
    }
  });

  it('piece sizes: first, then at most size, shrinking to a quarter of what is left near the end, never below min(LAST_PIECE, size)', () => {
    const plan = fc.oneof(
      fc.record({ total: fc.nat({ max: 40 }), first: fc.integer({ min: 1, max: 12 }), size: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ total: fc.integer({ min: 1000, max: 120_000 }), first: fc.integer({ min: 1, max: 9000 }), size: fc.oneof(fc.constant(PIECE), fc.integer({ min: 100, max: 9000 })) }),
    );
    fc.assert(
      fc.property(plan, ({ total, first, size }) => {
        const first_ = pieceSize(0, total, { first, size });
        expect(first_).toBe(first);
        let taken = first_;
        let last = first_;
        while (taken < total) {
          const n = pieceSize(taken, total, { first, size });
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(size);
          // Below `size` only when a quarter of what is left is smaller, and never under the floor.
          if (n < size) expect(n).toBe(Math.max(Math.min(LAST_PIECE, size), Math.ceil((total - taken) / 4)));
          last = Math.min(n, total - taken);
          taken += n;
        }
        if (total > first + 4 * size) expect(last).toBeLessThanOrEqual(Math.max(Math.min(LAST_PIECE, size), Math.ceil(size / 4)));
      }),
      { numRuns: 300 },
    );
  });

  it('shrinking pieces at the end (3,000 items, pieces of 100 then 2,000): the same prepared set', async () => {
    const items = Array.from({ length: 3000 }, (_, i) => new Uint8Array([i & 0xff, i >> 8, 7]));
    const cuts: number[] = [];
    for (let taken = 0; taken < items.length; taken += cuts.at(-1)!) cuts.push(Math.min(items.length - taken, pieceSize(taken, items.length, { first: 100, size: 2000 })));
    expect(cuts).toEqual([100, 725, 544, 512, 512, 512, 95]);
    const single = prepareServerSet(suite, items, seededRng(5));
    const pooled = await prepareServerSetParallel(pool, suite, items, seededRng(5), undefined, { first: 100, size: 2000 });
    expect(hex(pooled.elements)).toBe(hex(single.elements));
    expect(pooled.outputs!.map(hex)).toEqual(suite.evaluate(single.keys.secretKey, single.items).map(hex));
  });

  it('a bad item in a later piece: the one-batch error (code, index among distinct items), nothing left running', async () => {
    const good = Array.from({ length: 30 }, (_, i) => new Uint8Array([i, i >> 8]));
    const cases: [unknown, string][] = [
      ['not bytes', 'bad_input'],
      [new Uint8Array(0x10000), 'input_too_long'],
    ];
    for (const [bad, code] of cases) {
      const items = [...good, good[3], bad as Uint8Array, ...good];
      let error: unknown;
      try {
        await prepareServerSetParallel(pool, suite, items, seededRng(1), undefined, { first: 5, size: 7 });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(OprfError);
      expect((error as OprfError).code).toBe(code);
      expect((error as Error).message).toMatch(/^input 30 /); // 30 distinct items before it
      // The pool is idle again and still works.
      const after = await prepareServerSetParallel(pool, suite, good, seededRng(2));
      expect(after.items.length).toBe(30);
    }
  });
});
