/**
 * The sync's pooled randomness (src/client/pooled-random.ts): every request gets its own
 * bytes of the asked length, never shared with another request (a shared blind would link
 * two contacts' blinded elements), across block boundaries and for requests that bypass the
 * block; a bad length is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pooledRandom } from '../src/client/pooled-random.js';

const BLOCK = 256;

describe('pooled randomness of the sync', () => {
  it('any sequence of requests: right lengths, own copies, no 16-byte window served twice', () => {
    const sizes = fc.array(fc.oneof(fc.integer({ min: 16, max: 64 }), fc.integer({ min: 65, max: 200 })), { minLength: 1, maxLength: 60 });
    // The generator reaches block refills and bypasses (> BLOCK / 4 = 64 bytes).
    const sample = fc.sample(sizes, { numRuns: 50, seed: 1 });
    expect(sample.some((s) => s.reduce((a, b) => a + b, 0) > BLOCK)).toBe(true);
    expect(sample.some((s) => s.some((n) => n > BLOCK / 4))).toBe(true);
    fc.assert(
      fc.property(sizes, (list) => {
        const rng = pooledRandom(BLOCK);
        const outs = list.map((n) => rng(n));
        outs.forEach((o, i) => expect(o.length).toBe(list[i]));
        const seen = new Set<string>();
        for (const o of outs) {
          const head = Buffer.from(o.subarray(0, 16)).toString('hex');
          expect(seen.has(head)).toBe(false);
          seen.add(head);
        }
        // Own copies: overwriting one leaves the next request and the others untouched.
        const before = outs.map((o) => Buffer.from(o).toString('hex'));
        outs[0]!.fill(0xff);
        const next = rng(16);
        expect(Buffer.from(next).every((b) => b === 0xff)).toBe(false);
        outs.slice(1).forEach((o, i) => expect(Buffer.from(o).toString('hex')).toBe(before[i + 1]));
      }),
      { numRuns: 100 },
    );
  });

  it('a length that is not a non-negative integer is refused; zero bytes is empty', () => {
    const rng = pooledRandom(BLOCK);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => rng(bad)).toThrow(RangeError);
    expect(rng(0)).toEqual(new Uint8Array(0));
  });
});
