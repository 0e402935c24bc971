/**
 * Every WorkerPool operation returns the bytes of the single-thread call it replaces
 * (suite.evaluate, group.multiplyPacked, group.hashToGroupBatch, hashToGroupMultiply, suite.blind/blindWith,
 * suite.blindEvaluate, suite.blindEvaluateVerifiable, suite.finalize), for each backend
 * and suite that exists, in both modes, for batches below and above the inline threshold.
 *
 * The workers run the compiled dist/src/parallel/worker.js, rebuilt by vitest's globalSetup
 * whenever the sources changed (test/helpers/worker-build.ts), so an edit is always tested.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGroup, type BackendName } from '../src/group/select.js';
import { createSuite, Modes, type Mode, type OprfSuite, type SuiteId } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';


// vitest's globalSetup rebuilt dist/ if its sources changed (test/helpers/worker-build.ts).
beforeAll(assertDistFresh);

// Small thresholds and slices, so 20 elements already make several tasks on two workers.
const POOL = { size: 2, inlineThreshold: 4, maxSliceSize: 6 };
const pools = new Map<BackendName, WorkerPool>();
const poolFor = (backend: BackendName): WorkerPool => {
  let pool = pools.get(backend);
  if (pool === undefined) {
    pool = new WorkerPool({ ...POOL, backend });
    pools.set(backend, pool);
  }
  return pool;
};
afterAll(async () => {
  await Promise.all([...pools.values()].map((p) => p.close()));
});

const cases: { suite: SuiteId; backend: BackendName; runs: number }[] = [
  { suite: 'ristretto255-SHA512', backend: 'noble', runs: 8 },
  { suite: 'ristretto255-SHA512', backend: 'sodium', runs: 15 },
  { suite: 'P256-SHA256', backend: 'noble', runs: 5 }, // libsodium has no P-256
];

const inputsArb = fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 0, maxLength: 20 });
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

describe.each(cases)('$suite on $backend: pool results equal the single-thread path', ({ suite: suiteId, backend, runs }) => {
  const suites = {} as Record<Mode, OprfSuite>;
  let pool: WorkerPool;
  beforeAll(async () => {
    const group = await loadGroup(suiteId === 'P256-SHA256' ? 'P256' : 'ristretto255', backend);
    suites[Modes.OPRF] = createSuite(suiteId, Modes.OPRF, group);
    suites[Modes.VOPRF] = createSuite(suiteId, Modes.VOPRF, group);
    pool = poolFor(backend);
  });

  it('evaluate, hashToGroupPacked and multiplyPacked', async () => {
    await fc.assert(
      fc.asyncProperty(inputsArb, seedArb, fc.constantFrom(Modes.OPRF, Modes.VOPRF), async (xs, seed, mode) => {
        const suite = suites[mode];
        const { secretKey } = suite.generateKeyPair(seededRng(seed));
        expect(await pool.evaluate(suiteId, mode, secretKey, xs)).toEqual(suite.evaluate(secretKey, xs));
        const points = suite.group.hashToGroupBatch(xs, suite.hashToGroupDST);
        expect(await pool.hashToGroupPacked(suiteId, mode, xs)).toEqual(points);
        const k = suite.group.scalar.fromBytes(secretKey);
        expect(await pool.multiplyPacked(suite.group.id, secretKey, points)).toEqual(suite.group.multiplyPacked(k, points));
        // The fused op of the session-PSI setup (prepareServerSetParallel): k * H(x), byte for byte.
        expect(await pool.hashToGroupMultiplyPacked(suiteId, mode, secretKey, xs)).toEqual(suite.group.multiplyPacked(k, points));
      }),
      { numRuns: runs },
    );
  });

  it('OPRF: blind, blindEvaluate and finalize', async () => {
    const suite = suites[Modes.OPRF];
    await fc.assert(
      fc.asyncProperty(inputsArb, seedArb, async (xs, seed) => {
        const { secretKey } = suite.generateKeyPair(seededRng(seed));
        // Blinds come from the caller's rng on the calling thread: same rng, same state.
        const state = await pool.blind(suiteId, Modes.OPRF, xs, seededRng(seed + 1));
        const reference = suite.blind(xs, seededRng(seed + 1));
        expect(state.blinds).toEqual(reference.blinds);
        expect(state.blinded).toEqual(reference.blinded);
        expect((await pool.blindWith(suiteId, Modes.OPRF, xs, reference.blinds)).blinded).toEqual(reference.blinded);
        const evaluated = await pool.blindEvaluate(suiteId, Modes.OPRF, secretKey, state.blinded);
        expect(evaluated).toEqual(suite.blindEvaluate(secretKey, state.blinded));
        const outputs = await pool.finalize(suiteId, Modes.OPRF, state, evaluated);
        expect(outputs).toEqual(suite.finalize(reference, evaluated));
        expect(outputs).toEqual(suite.evaluate(secretKey, xs));
      }),
      { numRuns: runs },
    );
  });

  it('VOPRF: one proof over the whole batch, identical to the suite, verified both ways', async () => {
    const suite = suites[Modes.VOPRF];
    await fc.assert(
      fc.asyncProperty(inputsArb.filter((xs) => xs.length > 0), seedArb, async (xs, seed) => {
        const { secretKey, publicKey } = suite.generateKeyPair(seededRng(seed));
        const state = suite.blind(xs, seededRng(seed + 1));
        const pooled = await pool.blindEvaluateVerifiable(suiteId, Modes.VOPRF, secretKey, state.blinded, seededRng(seed + 2));
        const single = suite.blindEvaluateVerifiable(secretKey, state.blinded, seededRng(seed + 2));
        expect(pooled.evaluated).toEqual(single.evaluated);
        expect(pooled.proof).toEqual(single.proof);
        const expected = suite.evaluate(secretKey, xs);
        expect(suite.finalize(state, pooled.evaluated, { proof: pooled.proof, publicKey })).toEqual(expected);
        expect(await pool.finalize(suiteId, Modes.VOPRF, state, single.evaluated, { proof: single.proof, publicKey })).toEqual(expected);

        const tampered = single.proof.slice();
        tampered[seed % tampered.length] ^= 1 << seed % 8;
        await expect(pool.finalize(suiteId, Modes.VOPRF, state, single.evaluated, { proof: tampered, publicKey })).rejects.toMatchObject({
          code: 'proof_invalid',
        });
        await expect(pool.finalize(suiteId, Modes.VOPRF, state, single.evaluated)).rejects.toMatchObject({ code: 'proof_missing' });
      }),
      { numRuns: runs },
    );
  });
});

describe('default pool (inline threshold 64)', () => {
  let pool: WorkerPool;
  let suite: OprfSuite;
  beforeAll(async () => {
    pool = new WorkerPool({ size: 2, backend: 'sodium' });
    suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  });
  afterAll(() => pool.close());

  it.each([0, 1, 63, 64, 65, 300])('%i elements: evaluate, blind, blindEvaluateVerifiable, finalize', async (n) => {
    expect(pool.inlineThreshold).toBe(64);
    const xs = Array.from({ length: n }, (_, i) => new TextEncoder().encode(`mailto:user${i}@example.org`));
    const { secretKey, publicKey } = suite.generateKeyPair(seededRng(n));
    expect(await pool.evaluate(suite.id, suite.mode, secretKey, xs)).toEqual(suite.evaluate(secretKey, xs));
    const state = await pool.blind(suite.id, suite.mode, xs, seededRng(n + 1));
    expect(state.blinded).toEqual(suite.blind(xs, seededRng(n + 1)).blinded);
    if (n === 0) return; // an empty VOPRF batch has no proof (the suite's composite is the identity)
    const pooled = await pool.blindEvaluateVerifiable(suite.id, suite.mode, secretKey, state.blinded, seededRng(n + 2));
    expect(pooled).toEqual(suite.blindEvaluateVerifiable(secretKey, state.blinded, seededRng(n + 2)));
    const outputs = await pool.finalize(suite.id, suite.mode, state, pooled.evaluated, { proof: pooled.proof, publicKey });
    expect(outputs).toEqual(suite.evaluate(secretKey, xs));
  });
});
