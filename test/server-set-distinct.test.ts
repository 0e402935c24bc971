/**
 * distinctItems (src/protocol/server-set.ts): the session-PSI server's set without
 * duplicates (they would leak through the encoding's count), first occurrences in order.
 * The fast path keys a table by a 32-bit hash of the bytes; past its probe budget it hands
 * the work to a string set. Properties: both paths equal the plain reference (a Set of the
 * bytes as hex), on sets with many duplicates, items of every length (the hash reads words
 * then a tail) and items that differ in one byte only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { distinctItems } from '../src/protocol/server-set.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
function reference(items: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return items.filter((x) => (seen.has(hex(x)) ? false : (seen.add(hex(x)), true)));
}

/** Items drawn from a small pool (so duplicates are common), with near-copies that differ in one byte. */
const itemsArb = fc
  .array(fc.uint8Array({ minLength: 0, maxLength: 13 }), { minLength: 1, maxLength: 12 })
  .chain((pool) =>
    fc.array(
      fc.tuple(fc.nat({ max: pool.length - 1 }), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { nil: undefined })).map(([i, tweak]) => {
        const item = pool[i].slice();
        if (tweak && item.length > 0) item[tweak[0] % item.length] ^= tweak[1];
        return item;
      }),
      { maxLength: 80 },
    ),
  );

describe('distinctItems', () => {
  it('the generator reaches duplicates, near-copies and empty items', () => {
    const samples = fc.sample(itemsArb, { numRuns: 200, seed: 1 });
    expect(samples.some((xs) => reference(xs).length < xs.length)).toBe(true);
    expect(samples.some((xs) => xs.some((x) => x.length === 0))).toBe(true);
    expect(samples.some((xs) => xs.some((x) => x.length > 8))).toBe(true);
  });

  it('keeps the first of each item, in order, the same objects (hash path and string path)', () => {
    fc.assert(
      fc.property(itemsArb, (items) => {
        const want = reference(items);
        const fast = distinctItems(items);
        expect(fast.map(hex)).toEqual(want.map(hex));
        fast.forEach((x, i) => expect(x).toBe(want[i]));
        expect(distinctItems(items, 0).map(hex)).toEqual(want.map(hex)); // no probe allowed: the string set
      }),
      { numRuns: 300 },
    );
  });

  it('100,000 phone-number items with 10% duplicates: the first 90,000, in order', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => new TextEncoder().encode(`tel:+4179${String(i % 90_000).padStart(7, '0')}`));
    const got = distinctItems(items);
    expect(got.length).toBe(90_000);
    expect(got[89_999]).toBe(items[89_999]);
  });
});
