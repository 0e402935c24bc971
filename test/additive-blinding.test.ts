/**
 * Additive blinding (src/oprf/additive.ts, spec/client.md "Additive blinding"): for random
 * inputs and keys the client's outputs equal RFC 9497's multiplicative path and the
 * server's own F(k, x), on this thread and through the worker pool, on the SIMD comb
 * (sodium) and the noble reference; a proof under another key, a tampered or swapped
 * evaluation fails with `proof_invalid` and nothing is unblinded; blinded elements differ
 * from the multiplicative ones and from run to run, and H(x) itself is never sent.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGroup, type BackendName } from '../src/group/select.js';
import type { Group } from '../src/group/types.js';
import { blindAdditive, finalizeAdditive, supportsAdditive } from '../src/oprf/additive.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);

const ID = 'ristretto255-SHA512' as const;
const inputsArb = fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: 14 });
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const hexAll = (xs: readonly Uint8Array[]): string[] => xs.map(hex);
const elementsOf = (packed: Uint8Array): string[] => {
  const out: string[] = [];
  for (let at = 0; at < packed.length; at += 32) out.push(hex(packed.subarray(at, at + 32)));
  return out;
};

/** The suite's group with a counter on the unblinding step (the frozen group is copied, not changed). */
function spied(group: Group): { group: Group; unblinds: () => number } {
  let calls = 0;
  const sub = group.subtractBaseFromDecoded;
  const copy: Group = {
    ...group,
    subtractBaseFromDecoded: sub
      ? (base, scalars, decoded) => {
          calls++;
          return sub(base, scalars, decoded);
        }
      : undefined,
  };
  return { group: copy, unblinds: () => calls };
}

const POOL = { size: 2, inlineThreshold: 4, maxSliceSize: 5 };
let pool: WorkerPool;
afterAll(async () => pool?.close());

describe.each(['sodium', 'noble'] as BackendName[])('additive blinding on %s', (backend) => {
  let suite: OprfSuite;
  let oprf: OprfSuite;
  beforeAll(async () => {
    const group = await loadGroup('ristretto255', backend);
    suite = createSuite(ID, Modes.VOPRF, group);
    oprf = createSuite(ID, Modes.OPRF, group);
    pool ??= new WorkerPool(POOL);
    if (backend === 'sodium') expect(group.hashToGroupAddBase).toBeTypeOf('function'); // the comb, not the reference
  });

  it('the generators reach every tampering, one-element and multi-pass batches, and empty inputs', () => {
    const sample = fc.sample(fc.tuple(inputsArb, fc.constantFrom('key', 'tamper', 'swap')), { numRuns: 300, seed: 11 });
    expect(new Set(sample.map(([, how]) => how))).toEqual(new Set(['key', 'tamper', 'swap']));
    const sizes = new Set(sample.map(([xs]) => xs.length));
    expect(sizes.has(1) && [...sizes].some((n) => n >= 9)).toBe(true); // one element; three passes of four lanes, several pool slices
    expect(sample.some(([xs]) => xs.some((x) => x.length === 0))).toBe(true);
  });

  it('only VOPRF on ristretto255 blinds additively', async () => {
    expect(supportsAdditive(suite)).toBe(true);
    expect(supportsAdditive(oprf)).toBe(false);
    const p256 = createSuite('P256-SHA256', Modes.VOPRF, await loadGroup('P256', 'noble'));
    expect(supportsAdditive(p256)).toBe(false);
    expect(() => blindAdditive(oprf, [new Uint8Array(1)], [suite.group.scalar.random(seededRng(1))])).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });

  it('outputs equal the RFC multiplicative path and F(k, x), on this thread', () => {
    fc.assert(
      fc.property(inputsArb, seedArb, (xs, seed) => {
        const rng = seededRng(seed);
        const { secretKey, publicKey } = suite.generateKeyPair(rng);
        const blinds = xs.map(() => suite.group.scalar.random(rng));
        const add = blindAdditive(suite, xs, blinds);
        const mul = suite.blindWith(xs, blinds);
        const served = suite.blindEvaluateVerifiable(secretKey, add.blinded, rng);
        const outputs = finalizeAdditive(suite, add, served.evaluated, { proof: served.proof, publicKey });
        const servedMul = suite.blindEvaluateVerifiable(secretKey, mul.blinded, rng);
        const rfc = suite.finalize(mul, servedMul.evaluated, { proof: servedMul.proof, publicKey });
        expect(hexAll(outputs)).toEqual(hexAll(rfc));
        expect(hexAll(outputs)).toEqual(hexAll(suite.evaluate(secretKey, xs)));
      }),
      { numRuns: backend === 'noble' ? 6 : 25 },
    );
  });

  it('outputs equal the RFC path through the worker pool (above and below the inline threshold)', async () => {
    await fc.assert(
      fc.asyncProperty(inputsArb, seedArb, async (xs, seed) => {
        const rng = seededRng(seed);
        const { secretKey, publicKey } = suite.generateKeyPair(rng);
        const blinds = xs.map(() => suite.group.scalar.random(rng));
        const add = await pool.blindAdditive(ID, Modes.VOPRF, xs, blinds);
        expect(elementsOf(add.blinded)).toEqual(elementsOf(blindAdditive(suite, xs, blinds).blinded));
        const served = suite.blindEvaluateVerifiable(secretKey, add.blinded, rng);
        const outputs = await pool.finalizeAdditive(ID, Modes.VOPRF, add, served.evaluated, { proof: served.proof, publicKey });
        expect(hexAll(outputs)).toEqual(hexAll(suite.evaluate(secretKey, xs)));
      }),
      { numRuns: backend === 'noble' ? 4 : 15 },
    );
  });

  it('a chunk past PAIR_MIN_POINTS (the paired composites pass) gives F(k, x), inline and on the pool; tampered, proof_invalid', async () => {
    if (backend !== 'sodium') return; // the reference path has no paired pass
    const rng = seededRng(77);
    const xs = Array.from({ length: 600 }, (_, i) => new TextEncoder().encode(`tel:+4179${1000000 + i}`));
    const { secretKey, publicKey } = suite.generateKeyPair(rng);
    const state = blindAdditive(suite, xs, xs.map(() => suite.group.scalar.random(rng)));
    const served = suite.blindEvaluateVerifiable(secretKey, state.blinded, rng);
    const want = hexAll(suite.evaluate(secretKey, xs));
    expect(hexAll(finalizeAdditive(suite, state, served.evaluated, { proof: served.proof, publicKey }))).toEqual(want);
    expect(hexAll(await pool.finalizeAdditive(ID, Modes.VOPRF, state, served.evaluated, { proof: served.proof, publicKey }))).toEqual(want);
    const tampered = served.evaluated.slice();
    tampered.set(suite.group.generator, 32 * 599);
    expect(() => finalizeAdditive(suite, state, tampered, { proof: served.proof, publicKey })).toThrow(expect.objectContaining({ code: 'proof_invalid' }));
    await expect(pool.finalizeAdditive(ID, Modes.VOPRF, state, tampered, { proof: served.proof, publicKey })).rejects.toMatchObject({ code: 'proof_invalid' });
  });

  it('another key, a tampered Z_i or swapped elements: proof_invalid, and nothing is unblinded', async () => {
    const { group, unblinds } = spied(suite.group);
    const watched = createSuite(ID, Modes.VOPRF, group);
    const tamperings = ['key', 'tamper', 'swap'] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 16 }), { minLength: 2, maxLength: 12 }), seedArb, fc.constantFrom(...tamperings), fc.nat(), async (xs, seed, how, pick) => {
        const rng = seededRng(seed);
        const { secretKey, publicKey } = watched.generateKeyPair(rng);
        const other = watched.generateKeyPair(rng);
        const state = blindAdditive(watched, xs, xs.map(() => watched.group.scalar.random(rng)));
        let served = watched.blindEvaluateVerifiable(how === 'key' ? other.secretKey : secretKey, state.blinded, rng);
        const evaluated = served.evaluated.slice();
        const i = pick % xs.length;
        if (how === 'tamper') evaluated.set(watched.group.multiplyBase(watched.group.scalar.random(rng)), 32 * i);
        if (how === 'swap') {
          const j = (i + 1) % xs.length;
          const a = evaluated.slice(32 * i, 32 * i + 32);
          evaluated.copyWithin(32 * i, 32 * j, 32 * j + 32);
          evaluated.set(a, 32 * j);
        }
        served = { ...served, evaluated };
        // The pinned key is the real one; a server that used `other` answers for it.
        const verify = { proof: served.proof, publicKey };
        const before = unblinds();
        expect(() => finalizeAdditive(watched, state, served.evaluated, verify)).toThrow(expect.objectContaining({ code: 'proof_invalid' }));
        await expect(pool.finalizeAdditive(ID, Modes.VOPRF, state, served.evaluated, verify)).rejects.toMatchObject({ code: 'proof_invalid' });
        expect(unblinds()).toBe(before);
      }),
      { numRuns: backend === 'noble' ? 4 : 20 },
    );
    // The spy does count a verified batch (so a zero above means "not reached").
    if (backend === 'sodium') {
      const rng = seededRng(5);
      const { secretKey, publicKey } = watched.generateKeyPair(rng);
      const state = blindAdditive(watched, [new Uint8Array(3)], [watched.group.scalar.random(rng)]);
      const served = watched.blindEvaluateVerifiable(secretKey, state.blinded, rng);
      const before = unblinds();
      finalizeAdditive(watched, state, served.evaluated, { proof: served.proof, publicKey });
      expect(unblinds()).toBe(before + 1);
    }
  });

  it('blinded elements differ from the multiplicative ones and across runs; H(x) is never sent', () => {
    fc.assert(
      fc.property(inputsArb, seedArb, (xs, seed) => {
        const rng = seededRng(seed);
        const first = xs.map(() => suite.group.scalar.random(rng));
        const second = xs.map(() => suite.group.scalar.random(rng));
        const a = elementsOf(blindAdditive(suite, xs, first).blinded);
        const b = elementsOf(blindAdditive(suite, xs, second).blinded);
        const m = elementsOf(suite.blindWith(xs, first).blinded);
        const h = elementsOf(suite.group.hashToGroupBatch(xs, suite.hashToGroupDST));
        a.forEach((e, i) => {
          expect(e).not.toBe(b[i]);
          expect(e).not.toBe(m[i]);
          expect(h).not.toContain(e);
        });
      }),
      { numRuns: backend === 'noble' ? 5 : 30 },
    );
  });

  it('the evaluated batch is checked first: a bad element is bad_evaluation, a missing proof proof_missing', () => {
    const rng = seededRng(9);
    const { secretKey, publicKey } = suite.generateKeyPair(rng);
    const xs = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3]), new Uint8Array([4])];
    const state = blindAdditive(suite, xs, xs.map(() => suite.group.scalar.random(rng)));
    const served = suite.blindEvaluateVerifiable(secretKey, state.blinded, rng);
    const bad = served.evaluated.slice();
    bad.fill(0xff, 64, 96);
    expect(() => finalizeAdditive(suite, state, bad, { proof: served.proof, publicKey })).toThrow(expect.objectContaining({ code: 'bad_evaluation' }));
    expect(() => finalizeAdditive(suite, state, served.evaluated.subarray(32), { proof: served.proof, publicKey })).toThrow(expect.objectContaining({ code: 'bad_evaluation' }));
    expect(() => finalizeAdditive(suite, state, served.evaluated, undefined)).toThrow(expect.objectContaining({ code: 'proof_missing' }));
  });
});
