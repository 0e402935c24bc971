/**
 * The batch fast paths of the sodium group (issue 13 §1) against the reference:
 * - validatePacked checks a batch four elements per pass on the SIMD module and names a bad
 *   element exactly as noble does (code, index, message), wherever it sits in the batch;
 * - multiScalarMultiply takes the DLEQ weights as packed SerializeScalar bytes and gives
 *   the bigint path's result and errors, on both backends;
 * - multiplyPackedComposite (one decoding of each blinded element for k * C_i and for the
 *   composite M = sum d_i C_i, RFC 9497 §2.2.1) equals multiplyPacked then
 *   multiScalarMultiply of the weights of the products, null for an identity composite.
 */
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { nobleRistretto255 } from '../src/group/noble.js';
import { loadSodiumRistretto255 } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';
import { scalarToBytes } from '../src/group/wasm-bytes.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { OprfError } from '../src/errors.js';
import { seededRng } from './helpers/rng.js';

const noble = nobleRistretto255;
const L = noble.scalar.order;

function outcome(f: () => Uint8Array | number | { evaluated: Uint8Array; composite: Uint8Array | null }): string {
  try {
    const r = f();
    if (r instanceof Uint8Array) return `ok:${Buffer.from(r).toString('hex')}`;
    if (typeof r === 'number') return `ok:${r}`;
    return `ok:${Buffer.from(r.evaluated).toString('hex')}/${r.composite === null ? 'identity' : Buffer.from(r.composite).toString('hex')}`;
  } catch (err) {
    return err instanceof GroupError ? `${err.code}:${err.message}` : `error:${(err as Error).message}`;
  }
}

const elementArb = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => ristretto255_hasher.deriveToCurve!(b).toBytes());
/** A non-canonical encoding (p + 1 - 19... above p), a negative one, the identity, a non-square. */
const badArb = fc.constantFrom(
  Uint8Array.from([0xee, ...new Array<number>(30).fill(0xff), 0x7f]),
  Uint8Array.from([1, ...new Array<number>(31).fill(0)]),
  new Uint8Array(32),
  Uint8Array.from([2, ...new Array<number>(31).fill(0)]),
);
/** 3..24 valid elements (the SIMD path starts at 3), and maybe one bad one at any index. */
const batchArb = fc.array(elementArb, { minLength: 3, maxLength: 24 }).chain((els) =>
  fc.tuple(fc.constant(els), fc.option(fc.tuple(badArb, fc.nat({ max: els.length - 1 })), { nil: undefined })).map(([e, bad]) => {
    const packed = new Uint8Array(e.length * 32);
    e.forEach((x, i) => packed.set(x, i * 32));
    if (bad) packed.set(bad[0], bad[1] * 32);
    return packed;
  }),
);
const scalarArb = fc.bigInt({ min: 1n, max: L - 1n });
const packScalars = (scalars: readonly bigint[]): Uint8Array => {
  const out = new Uint8Array(scalars.length * 32);
  scalars.forEach((s, i) => out.set(scalarToBytes(s), i * 32));
  return out;
};

describe('sodium group batch fast paths vs noble', () => {
  let sodium: Group;
  beforeAll(async () => {
    sodium = await loadSodiumRistretto255();
  });

  it('the batch generator reaches valid batches and every position of a bad element', () => {
    const sample = fc.sample(batchArb, { numRuns: 300, seed: 7 });
    const firstBad = sample.map((p) => {
      for (let i = 0; i < p.length / 32; i++) {
        try {
          noble.validateElement(p.subarray(i * 32, i * 32 + 32));
        } catch {
          return i;
        }
      }
      return -1;
    });
    expect(firstBad).toContain(-1);
    expect(firstBad.some((i) => i >= 4)).toBe(true); // past the first four-lane pass
    expect(firstBad.some((i, k) => i >= 0 && i === sample[k].length / 32 - 1)).toBe(true); // the last element (a tail lane)
  });

  it('validatePacked: same count, or the same code, index and message', () => {
    fc.assert(
      fc.property(batchArb, (packed) => {
        expect(outcome(() => sodium.validatePacked(packed))).toBe(outcome(() => noble.validatePacked(packed)));
      }),
      { numRuns: 150 },
    );
  });

  it('multiScalarMultiply: packed byte scalars give the bigint result, on both backends', () => {
    const arb = fc.array(elementArb, { minLength: 1, maxLength: 12 }).chain((els) => fc.tuple(fc.constant(els), fc.array(scalarArb, { minLength: els.length, maxLength: els.length })));
    fc.assert(
      fc.property(arb, ([els, scalars]) => {
        const packed = new Uint8Array(els.length * 32);
        els.forEach((e, i) => packed.set(e, i * 32));
        const want = outcome(() => noble.multiScalarMultiply(scalars, packed));
        expect(outcome(() => sodium.multiScalarMultiply(packScalars(scalars), packed))).toBe(want);
        expect(outcome(() => noble.multiScalarMultiply(packScalars(scalars), packed))).toBe(want);
      }),
      { numRuns: 15 },
    );
    // Out of [1, order) as bytes is bad_scalar, as for bigints; a wrong byte count is bad_length.
    const g = noble.generator;
    const pair = new Uint8Array([...g, ...g]);
    for (const bad of [new Uint8Array(32), scalarToBytes(L)]) {
      const scalars = new Uint8Array([...scalarToBytes(3n), ...bad]);
      expect(outcome(() => sodium.multiScalarMultiply(scalars, pair))).toMatch(/^bad_scalar/);
    }
    expect(outcome(() => sodium.multiScalarMultiply(new Uint8Array(33), pair))).toMatch(/^bad_length/);
  });

  it('multiplyPackedComposite equals multiplyPacked, then multiScalarMultiply of the weights of the products', () => {
    let asked = 0;
    fc.assert(
      fc.property(batchArb, scalarArb, fc.integer({ min: 1, max: 1000 }), (packed, k, salt) => {
        // Weights that depend on the products, as RFC 9497 §2.2.1's do.
        const weightsOf = (evaluated: Uint8Array): Uint8Array => {
          asked++;
          const n = evaluated.length / 32;
          return packScalars(Array.from({ length: n }, (_, i) => (BigInt(evaluated[i * 32] + 1) * BigInt(salt + i) * 0x1234567n) % L || 1n));
        };
        const reference = (): { evaluated: Uint8Array; composite: Uint8Array | null } => {
          const evaluated = sodium.multiplyPacked(k, packed);
          return { evaluated, composite: sodium.multiScalarMultiply(weightsOf(evaluated), packed) };
        };
        expect(outcome(() => sodium.multiplyPackedComposite!(k, packed, weightsOf))).toBe(outcome(reference));
        const kBytes = scalarToBytes(k);
        expect(outcome(() => sodium.multiplyPackedComposite!(kBytes, packed, weightsOf))).toBe(outcome(reference));
      }),
      { numRuns: 60 },
    );
    expect(asked).toBeGreaterThan(0);
  });

  it('multiplyPackedComposite on a batch where the MSM takes Pippenger (n = 700, several SIMD slices of 4): the reference bytes', async () => {
    const { loadWasmMsm } = await import('../src/group/wasm-msm.js');
    const msm = await loadWasmMsm();
    expect(msm?.windowFor(700)).toBeGreaterThan(0); // Pippenger, not Straus
    const packed = sodium.hashToGroupBatch(Array.from({ length: 700 }, (_, i) => Uint8Array.of(i & 0xff, i >> 8)), Uint8Array.of(1));
    const weightsOf = (evaluated: Uint8Array): Uint8Array => packScalars(Array.from({ length: evaluated.length / 32 }, (_, i) => ((BigInt(evaluated[i * 32]) + 3n) * 0xdeadbeefn * BigInt(i + 1)) % L || 1n));
    const k = 0x1234567890abcdefn;
    const got = sodium.multiplyPackedComposite!(k, packed, weightsOf);
    // The references on libsodium and the decoding MSM (each held to noble by group-backends and wasm-msm tests).
    const evaluated = sodium.multiplyPacked(k, packed);
    expect(got.evaluated).toEqual(evaluated);
    expect(got.composite).toEqual(sodium.multiScalarMultiply(weightsOf(evaluated), packed));
  });

  it('hashToGroupMultiplyEach (fused blinding) equals multiplyEach of hashToGroupBatch; with a bad scalar it leaves the errors to them', () => {
    const arb = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 0, maxLength: 14 }).chain((msgs) =>
      fc.tuple(fc.constant(msgs), fc.array(scalarArb, { minLength: msgs.length, maxLength: msgs.length }), fc.boolean()),
    );
    const dst = Uint8Array.from([1, 2, 3]);
    fc.assert(
      fc.property(arb, ([msgs, scalars, asBytes]) => {
        const given = asBytes ? scalars.map((s) => scalarToBytes(s)) : scalars;
        const want = noble.multiplyEach(scalars, noble.hashToGroupBatch(msgs, dst));
        const fused = sodium.hashToGroupMultiplyEach!(given, msgs, dst);
        if (msgs.length >= 3) expect(fused).toEqual(want); // the SIMD path starts at 3
        else expect(fused ?? want).toEqual(want);
      }),
      { numRuns: 40 },
    );
    const msgs = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)];
    expect(sodium.hashToGroupMultiplyEach!([1n, 0n, 2n], msgs, dst)).toBeUndefined();
    expect(sodium.hashToGroupMultiplyEach!([1n, 2n, scalarToBytes(L)], msgs, dst)).toBeUndefined();
  });

  it('multiplyEachComposite (unblinding and Z from one decoding) equals multiplyEach and multiScalarMultiply, element errors included', () => {
    const arb = batchArb.chain((packed) => {
      const n = packed.length / 32;
      return fc.tuple(fc.constant(packed), fc.array(scalarArb, { minLength: n, maxLength: n }), fc.array(scalarArb, { minLength: n, maxLength: n }));
    });
    fc.assert(
      fc.property(arb, ([packed, scalars, weights]) => {
        const reference = (): { evaluated: Uint8Array; composite: Uint8Array | null } => ({
          evaluated: sodium.multiplyEach(scalars, packed),
          composite: sodium.multiScalarMultiply(weights, packed),
        });
        const fused = (): { evaluated: Uint8Array; composite: Uint8Array | null } => {
          const r = sodium.multiplyEachComposite!(scalars.map((x) => scalarToBytes(x)), packed, packScalars(weights));
          if (!r) throw new Error('not taken');
          return { evaluated: r.products, composite: r.composite };
        };
        expect(outcome(fused)).toBe(outcome(reference));
      }),
      { numRuns: 60 },
    );
    const g = noble.generator;
    const three = new Uint8Array([...g, ...g, ...g]);
    // Weights summing to 0 mod L: an identity Z is null; a bad scalar or weight: not taken (undefined).
    expect(sodium.multiplyEachComposite!([1n, 2n, 3n], three, packScalars([1n, 1n, L - 2n]))?.composite).toBeNull();
    expect(sodium.multiplyEachComposite!([1n, 0n, 3n], three, packScalars([1n, 1n, 1n]))).toBeUndefined();
    expect(sodium.multiplyEachComposite!([1n, 2n, 3n], three, new Uint8Array(96))).toBeUndefined();
  });

  it('multiplyPackedComposite: an identity composite is null (a slice partial sum), bad scalars as multiplyPacked says', () => {
    const g = noble.generator;
    const three = new Uint8Array([...g, ...g, ...g]);
    // 1 + (L - 1) + (L - 1) = -1 (mod L): not the identity; then weights that sum to 0 mod L.
    const both = sodium.multiplyPackedComposite!(5n, three, () => packScalars([1n, L - 1n, L - 1n]));
    expect(both.composite).toEqual(noble.multiplyBase(L - 1n));
    const zero = sodium.multiplyPackedComposite!(5n, three, () => packScalars([1n, 1n, L - 2n]));
    expect(zero.composite).toBeNull();
    expect(zero.evaluated).toEqual(noble.multiplyPacked(5n, three));
    expect(outcome(() => sodium.multiplyPackedComposite!(0n, three, () => packScalars([1n, 1n, 1n])))).toBe(outcome(() => sodium.multiplyPacked(0n, three)));
    expect(outcome(() => sodium.multiplyPackedComposite!(L, three, () => packScalars([1n, 1n, 1n])))).toMatch(/^bad_scalar/);
  });

  it("VOPRF finalize on the fused path (sodium) gives noble's general path's outputs and errors, tampered evaluations and proofs included", () => {
    const fast = createSuite('ristretto255-SHA512', Modes.VOPRF, sodium);
    const reference = createSuite('ristretto255-SHA512', Modes.VOPRF, noble);
    const describeFinalize = (f: () => Uint8Array[]): string => {
      try {
        return `ok:${f().map((o) => Buffer.from(o).toString('hex')).join(',')}`;
      } catch (err) {
        return err instanceof OprfError ? `${err.code}:${err.message}` : `other:${(err as Error).message}`;
      }
    };
    const arb = fc.record({
      xs: fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 3, maxLength: 9 }),
      seed: fc.integer(),
      tamper: fc.constantFrom('none', 'evaluated', 'proof', 'identity', 'swap'),
      pos: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    });
    fc.assert(
      fc.property(arb, ({ xs, seed, tamper, pos, bit }) => {
        const rng = seededRng(seed);
        const keys = fast.generateKeyPair(rng);
        const state = fast.blind(xs, rng);
        const { evaluated, proof } = fast.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng);
        const ev = evaluated.slice();
        const pr = proof.slice();
        if (tamper === 'evaluated') ev[pos % ev.length] ^= 1 << bit;
        if (tamper === 'proof') pr[pos % pr.length] ^= 1 << bit;
        if (tamper === 'identity') ev.fill(0, 32 * (pos % xs.length), 32 * (pos % xs.length) + 32);
        if (tamper === 'swap') ev.set(evaluated.subarray(0, 32), 32); // a valid element in the wrong place
        const verify = { proof: pr, publicKey: keys.publicKey };
        expect(describeFinalize(() => fast.finalize(state, ev, verify))).toBe(describeFinalize(() => reference.finalize(state, ev, verify)));
      }),
      { numRuns: 40 },
    );
  });
});
