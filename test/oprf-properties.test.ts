/**
 * Differential properties against @noble/curves' own RFC 9497 implementation: they hold
 * without ../shared, so a fresh clone still checks the OPRF against a second implementation.
 */
import { ristretto255_oprf } from '@noble/curves/ed25519.js';
import { p256_oprf } from '@noble/curves/nist.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OprfError } from '../src/errors.js';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes, type SuiteId } from '../src/oprf/index.js';
import { seededRng } from './helpers/rng.js';

const cases = [
  { id: 'ristretto255-SHA512' as SuiteId, group: nobleRistretto255, noble: ristretto255_oprf },
  { id: 'P256-SHA256' as SuiteId, group: nobleP256, noble: p256_oprf },
];
const inputs = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 4 });
const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });

for (const { id, group, noble } of cases) {
  describe(`${id}: agrees with noble's RFC 9497 implementation`, () => {
    const oprf = createSuite(id, Modes.OPRF, group);
    const voprf = createSuite(id, Modes.VOPRF, group);

    it('OPRF outputs equal noble evaluate() and noble finalize()', () => {
      fc.assert(
        fc.property(inputs, seed, fc.integer(), (xs, s, rngSeed) => {
          const keys = oprf.deriveKeyPair(s, new Uint8Array());
          expect(keys.secretKey).toEqual(noble.oprf.deriveKeyPair(s, new Uint8Array()).secretKey);
          const state = oprf.blind(xs, seededRng(rngSeed));
          const evaluated = oprf.blindEvaluate(keys.secretKey, state.blinded);
          const outputs = oprf.finalize(state, evaluated);
          xs.forEach((x, i) => {
            // evaluate() exists at runtime in noble 2.4 but is missing from its OPRF type.
            const nobleEvaluate = (noble.oprf as unknown as { evaluate(k: Uint8Array, x: Uint8Array): Uint8Array }).evaluate;
            expect(outputs[i]).toEqual(nobleEvaluate(keys.secretKey, x));
            const size = group.elementSize;
            const ev = evaluated.subarray(i * size, (i + 1) * size);
            expect(noble.oprf.finalize(x, state.blinds[i], ev)).toEqual(outputs[i]);
          });
        }),
        { numRuns: 15 },
      );
    });

    it("VOPRF batch proofs verify under noble's finalizeBatch, and noble's proofs verify here", () => {
      fc.assert(
        fc.property(inputs, seed, fc.integer(), (xs, s, rngSeed) => {
          const rng = seededRng(rngSeed);
          const keys = voprf.deriveKeyPair(s, new Uint8Array([1]));
          const state = voprf.blind(xs, rng);
          const ours = voprf.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng);
          const size = group.elementSize;
          const at = (p: Uint8Array, i: number) => p.subarray(i * size, (i + 1) * size);
          const items = xs.map((x, i) => ({
            input: x,
            blind: state.blinds[i],
            evaluated: at(ours.evaluated, i),
            blinded: at(state.blinded, i),
          }));
          const nobleOut = noble.voprf.finalizeBatch(items, keys.publicKey, ours.proof);
          expect(voprf.finalize(state, ours.evaluated, { proof: ours.proof, publicKey: keys.publicKey })).toEqual(nobleOut);

          const theirs = noble.voprf.blindEvaluateBatch(keys.secretKey, keys.publicKey, xs.map((_, i) => at(state.blinded, i)));
          const packed = new Uint8Array(xs.length * size);
          theirs.evaluated.forEach((e, i) => packed.set(e, i * size));
          expect(voprf.finalize(state, packed, { proof: theirs.proof, publicKey: keys.publicKey })).toEqual(nobleOut);
        }),
        { numRuns: 10 },
      );
    });
  });

  describe(`${id}: unlinkable and key-bound`, () => {
    const voprf = createSuite(id, Modes.VOPRF, group);

    it('blinding the same inputs twice gives different bytes', () => {
      fc.assert(
        fc.property(inputs, fc.integer(), (xs, rngSeed) => {
          const a = voprf.blind(xs, seededRng(rngSeed));
          const b = voprf.blind(xs, seededRng(rngSeed + 1));
          expect(a.blinded).not.toEqual(b.blinded);
        }),
        { numRuns: 10 },
      );
    });

    it('a tampered evaluation or proof is rejected with proof_invalid or bad_evaluation', () => {
      fc.assert(
        fc.property(inputs, fc.integer(), fc.nat(), fc.integer({ min: 0, max: 7 }), (xs, rngSeed, pos, bit) => {
          const rng = seededRng(rngSeed);
          const keys = voprf.generateKeyPair(rng);
          const state = voprf.blind(xs, rng);
          const { evaluated, proof } = voprf.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng);
          const badProof = proof.slice();
          badProof[pos % badProof.length] ^= 1 << bit;
          const badEval = evaluated.slice();
          badEval[pos % badEval.length] ^= 1 << bit;
          for (const [ev, pr] of [[evaluated, badProof], [badEval, proof]] as const) {
            let caught: unknown;
            try {
              voprf.finalize(state, ev, { proof: pr, publicKey: keys.publicKey });
            } catch (err) {
              caught = err;
            }
            expect(caught).toBeInstanceOf(OprfError);
            expect(['proof_invalid', 'bad_evaluation']).toContain((caught as OprfError).code);
          }
        }),
        { numRuns: 10 },
      );
    });

    it('evaluating under another key gives a proof that fails against the pinned key, and other outputs', () => {
      const rng = seededRng(7);
      const pinned = voprf.generateKeyPair(rng);
      const other = voprf.generateKeyPair(rng);
      const xs = [new Uint8Array([1, 2, 3])];
      const state = voprf.blind(xs, rng);
      const res = voprf.blindEvaluateVerifiable(other.secretKey, state.blinded, rng);
      expect(() => voprf.finalize(state, res.evaluated, { proof: res.proof, publicKey: pinned.publicKey })).toThrow(
        expect.objectContaining({ code: 'proof_invalid' }),
      );
      const outOther = voprf.finalize(state, res.evaluated, { proof: res.proof, publicKey: other.publicKey });
      expect(outOther[0]).not.toEqual(voprf.evaluate(pinned.secretKey, xs)[0]);
    });
  });
}
