/**
 * Red team, wave 5: the paired composites pass (asm/ristretto255-x4/msm2.ts, from
 * PAIR_MIN_POINTS elements) is what makes the proof sound for a whole chunk: if it dropped
 * or mis-weighted one element, a server could change that Z_i freely and still pass. So a
 * single tampered Z_i anywhere in a large chunk (first, last, around the pass threshold
 * and the pool's slice borders, random) must fail with proof_invalid, inline and on the
 * pool, for several tamperings (another valid point, Z_i = C_i, -Z_i, a neighbour's Z,
 * Z_i + Z_j, a swap of two), and the honest chunk must still give F(k, x).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/select.js';
import { PAIR_MIN_POINTS } from '../src/group/composites-x4.js';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);

const ID = 'ristretto255-SHA512' as const;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
type How = 'random' | 'equalsC' | 'negate' | 'neighbour' | 'swap' | 'sumOfTwo';
const HOWS: How[] = ['random', 'equalsC', 'negate', 'neighbour', 'swap', 'sumOfTwo'];

let suite: OprfSuite;
let pool: WorkerPool;
beforeAll(async () => {
  suite = createSuite(ID, Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  pool = new WorkerPool({ size: 2, inlineThreshold: 64 });
});
afterAll(async () => pool?.close());

const sizes = fc.oneof(fc.constantFrom(PAIR_MIN_POINTS, PAIR_MIN_POINTS + 1, PAIR_MIN_POINTS + 3, 1023, 1024, 1025), fc.integer({ min: PAIR_MIN_POINTS, max: 1100 }));
const where = (n: number) => fc.oneof(fc.constantFrom(0, n - 1, PAIR_MIN_POINTS - 1, Math.min(n - 1, 1023), Math.min(n - 1, 1024)), fc.integer({ min: 0, max: n - 1 }));

describe('red team wave 5: one tampered Z_i in a large chunk', () => {
  it('the generators reach the pass threshold, the slice border and both ends', () => {
    const ns = fc.sample(sizes, 300);
    expect(ns).toContain(PAIR_MIN_POINTS);
    expect(ns).toContain(1025);
    const ws = fc.sample(where(1025), 300);
    for (const w of [0, 1024, 1023, PAIR_MIN_POINTS - 1]) expect(ws).toContain(w);
  });

  it('fails with proof_invalid inline and on the pool; the honest chunk gives F(k, x)', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizes.chain((n) => fc.tuple(fc.constant(n), where(n), fc.constantFrom(...HOWS), fc.integer({ min: 0, max: 2 ** 30 }))),
        async ([n, i, how, seed]) => {
          const rng = seededRng(seed);
          const { secretKey, publicKey } = suite.generateKeyPair(rng);
          const xs = Array.from({ length: n }, (_, k) => new TextEncoder().encode(`mailto:u${seed}.${k}@example.org`));
          const state = blindAdditive(suite, xs, xs.map(() => suite.group.scalar.random(rng)));
          const served = suite.blindEvaluateVerifiable(secretKey, state.blinded, rng);
          const verify = { proof: served.proof, publicKey };
          const Z = served.evaluated.slice();
          const at = (k: number) => Z.subarray(32 * k, 32 * k + 32);
          const j = (i + 1) % n;
          switch (how) {
            case 'random':
              Z.set(suite.group.multiplyBase(suite.group.scalar.random(rng)), 32 * i);
              break;
            case 'equalsC':
              Z.set(state.blinded.subarray(32 * i, 32 * i + 32), 32 * i);
              break;
            case 'negate':
              Z.set(suite.group.multiply(suite.group.scalar.toBytes(L - 1n), at(i).slice()), 32 * i);
              break;
            case 'neighbour':
              Z.set(at(j).slice(), 32 * i);
              break;
            case 'swap': {
              const a = at(i).slice();
              Z.set(at(j).slice(), 32 * i);
              Z.set(a, 32 * j);
              break;
            }
            case 'sumOfTwo':
              // Z_i + Z_j and Z_j unchanged: the sum over both moves by Z_j.
              Z.set(suite.group.multiScalarMultiply([1n, 1n], new Uint8Array([...at(i), ...at(j)])), 32 * i);
              break;
          }
          expect(() => finalizeAdditive(suite, state, Z, verify)).toThrow(expect.objectContaining({ code: 'proof_invalid' }));
          await expect(pool.finalizeAdditive(ID, Modes.VOPRF, state, Z, verify)).rejects.toMatchObject({ code: 'proof_invalid' });
          if (seed % 3 === 0) {
            const want = suite.evaluate(secretKey, xs).map((o) => Buffer.from(o).toString('hex'));
            expect(finalizeAdditive(suite, state, served.evaluated, verify).map((o) => Buffer.from(o).toString('hex'))).toEqual(want);
            expect((await pool.finalizeAdditive(ID, Modes.VOPRF, state, served.evaluated, verify)).map((o) => Buffer.from(o).toString('hex'))).toEqual(want);
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
