import { describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/index.js';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import type { Group } from '../src/group/types.js';
import { createSuite, type Mode, type SuiteId } from '../src/oprf/index.js';
import { hex, readRfcVectors, toHex } from './helpers/vectors.js';

interface VectorCase {
  Batch: number;
  Blind: string;
  BlindedElement: string;
  EvaluationElement: string;
  Input: string;
  Output: string;
  Proof?: { proof: string; r: string };
}
interface VectorSuite {
  identifier: SuiteId;
  mode: number;
  seed: string;
  keyInfo: string;
  skSm: string;
  pkSm?: string;
  groupDST: string;
  vectors: VectorCase[];
}

// Both ristretto255 backends must pass every vector.
const sodiumRistretto255 = await loadGroup('ristretto255', 'sodium');
const groupsFor = (id: SuiteId): Group[] => (id === 'ristretto255-SHA512' ? [nobleRistretto255, sodiumRistretto255] : [nobleP256]);
const split = (s: string) => s.split(',').map(hex);

describe('RFC 9497 Appendix A vectors', () => {
  const suites = readRfcVectors<VectorSuite[]>('rfc9497-oprf.json');
  it('the file holds A.1 and A.3 in all three modes (so the loops below cannot run empty)', () => {
    expect(suites.map((s) => `${s.identifier}/${s.mode}`).sort()).toEqual(
      ['P256-SHA256/0', 'P256-SHA256/1', 'P256-SHA256/2', 'ristretto255-SHA512/0', 'ristretto255-SHA512/1', 'ristretto255-SHA512/2'],
    );
    for (const s of suites) expect(s.vectors.length).toBeGreaterThanOrEqual(2);
  });
  // POPRF (mode 2) is not part of contact-psi; OPRF and VOPRF are.
  for (const vs of suites.filter((s) => s.mode === 0 || s.mode === 1)) {
    for (const group of groupsFor(vs.identifier)) {
      describe(`${vs.identifier} mode ${vs.mode} (${group.backend})`, () => {
        const suite = createSuite(vs.identifier, vs.mode as Mode, group);

        it('group DST and DeriveKeyPair match', () => {
          expect(toHex(suite.hashToGroupDST)).toBe(vs.groupDST);
          const keys = suite.deriveKeyPair(hex(vs.seed), hex(vs.keyInfo));
          expect(toHex(keys.secretKey)).toBe(vs.skSm);
          if (vs.pkSm) expect(toHex(keys.publicKey)).toBe(vs.pkSm);
        });

        vs.vectors.forEach((v, index) => {
          it(`vector ${index + 1} (batch ${v.Batch})`, () => {
            const sk = hex(vs.skSm);
            const inputs = split(v.Input);
            const blinds = split(v.Blind).map((b) => group.scalar.fromBytes(b));
            const state = suite.blindWith(inputs, blinds);
            expect(toHex(state.blinded)).toBe(v.BlindedElement.replaceAll(',', ''));

            let evaluated: Uint8Array;
            let outputs: Uint8Array[];
            if (vs.mode === 1) {
              const r = group.scalar.fromBytes(hex(v.Proof!.r));
              const res = suite.blindEvaluateVerifiable(sk, state.blinded, () => new Uint8Array(48), r);
              expect(toHex(res.proof)).toBe(v.Proof!.proof);
              evaluated = res.evaluated;
              outputs = suite.finalize(state, evaluated, { proof: res.proof, publicKey: hex(vs.pkSm!) });
            } else {
              evaluated = suite.blindEvaluate(sk, state.blinded);
              outputs = suite.finalize(state, evaluated);
            }
            expect(toHex(evaluated)).toBe(v.EvaluationElement.replaceAll(',', ''));
            expect(outputs.map(toHex)).toEqual(v.Output.split(','));
            // The server-side full evaluation F(k, x) must agree with the blinded path.
            expect(suite.evaluate(sk, inputs).map(toHex)).toEqual(v.Output.split(','));
          });
        });
      });
    }
  }
});
