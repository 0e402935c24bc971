/**
 * RandomScalar three bytes per step (src/group/random-scalar-limbs.ts, the client's blinds)
 * gives the very bytes of the byte-serial reduceRandomScalar, and so of the BigInt
 * definition (v mod (order - 1)) + 1, on random inputs and on inputs next to the multiples
 * of order - 1 where the quotient estimate is one off; randomScalars draws from the rng
 * exactly as field.random does, call for call.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import { reduceRandomScalarLimbs, randomScalars } from '../src/group/random-scalar-limbs.js';
import { byteModulus, reduceRandomScalar } from '../src/group/scalar-bytes.js';
import { mod } from '../src/group/scalar-field.js';
import { seededRng } from './helpers/rng.js';

const be = (v: bigint, n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const le = (v: bigint, n: number): Uint8Array => be(v, n).reverse();

const fields = [
  ['ristretto255', nobleRistretto255.scalar],
  ['P-256', nobleP256.scalar],
] as const;

describe('RandomScalar by 24-bit limbs = byte by byte = the BigInt definition', () => {
  for (const [name, field] of fields) {
    const order = field.order;
    const m = byteModulus(order, field.byteLength, field.littleEndian);
    const enc = (v: bigint) => (field.littleEndian ? le(v, 32) : be(v, 32));
    // Next to a multiple of order - 1 (the quotient estimate's hard case), the extremes, anything.
    const nearMultiple = fc
      .tuple(fc.bigInt({ min: 0n, max: 2n ** 131n }), fc.bigInt({ min: -(2n ** 20n), max: 2n ** 20n }))
      .map(([j, d]) => j * (order - 1n) + d)
      .filter((v) => v >= 0n && v < 2n ** 384n);
    const edge = fc.constantFrom(0n, 1n, order - 2n, order - 1n, order, 2n * (order - 1n), 2n ** 256n - 1n, 2n ** 384n - 1n);
    const value = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 384n - 1n }), nearMultiple, edge);

    it(`${name}: the generator reaches values within 2^20 of a multiple of order - 1 above 2^300`, () => {
      const sample = fc.sample(value, { numRuns: 2000, seed: 3 });
      const near = (v: bigint) => {
        const r = mod(v, order - 1n);
        return r < 2n ** 20n || order - 1n - r < 2n ** 20n;
      };
      expect(sample.some((v) => v > 2n ** 300n && near(v))).toBe(true);
    });

    it(`${name}: 48-byte inputs give the same scalar, and are wiped`, () => {
      fc.assert(
        fc.property(value, (v) => {
          const a = be(v, 48);
          const b = be(v, 48);
          const limbs = reduceRandomScalarLimbs(m, a);
          expect(limbs).toEqual(reduceRandomScalar(m, b));
          expect(limbs).toEqual(enc(mod(v, order - 1n) + 1n));
          expect(a.every((x) => x === 0)).toBe(true);
        }),
        { numRuns: 1000 },
      );
    });

    it(`${name}: inputs of any length (a leading partial limb) give the same scalar`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
          const v = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
          expect(reduceRandomScalarLimbs(m, bytes.slice())).toEqual(enc(mod(v, order - 1n) + 1n));
        }),
        { numRuns: 500 },
      );
    });

    it(`${name}: randomScalars(n) = n calls of field.random, draw for draw`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 40 }), fc.integer(), (n, seed) => {
          const one = seededRng(seed);
          const expected = Array.from({ length: n }, () => field.random(one));
          const batch = seededRng(seed);
          expect(randomScalars(field, batch, n)).toEqual(expected);
          // The next draw is the same: as many bytes were taken.
          expect(batch(8)).toEqual(one(8));
        }),
        { numRuns: 100 },
      );
    });
  }
});
