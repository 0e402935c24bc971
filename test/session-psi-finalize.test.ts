/**
 * The workers' Finalize over a packed batch (src/parallel/finalize-native.ts, OpenSSL's
 * hash) against the suite's own finalizeUnblinded (noble): the same bytes for both suites
 * and modes, any inputs (empty, long) and any element bytes. The session-PSI setup's tags are these outputs, so the setup message
 * stays byte-identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import type { OprfSuite } from '../src/oprf/suite.js';
import { finalizePacked } from '../src/parallel/finalize-native.js';

const suites: OprfSuite[] = [
  createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'noble')),
  createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'noble')),
  createSuite('P256-SHA256', Modes.OPRF, await loadGroup('P256', 'noble')),
];

/** Input lengths: empty, short, the 2-byte length prefix's high byte in use, and long. */
const input = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 0 }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }),
  fc.uint8Array({ minLength: 255, maxLength: 300 }),
  fc.uint8Array({ minLength: 1000, maxLength: 1100 }),
);

const batch = fc.record({
  suite: fc.integer({ min: 0, max: suites.length - 1 }),
  inputs: fc.array(input, { minLength: 0, maxLength: 12 }),
  seed: fc.uint8Array({ minLength: 1, maxLength: 1 }),
});

/** Element bytes for the batch: any bytes (Finalize hashes them as given). */
function elementsFor(suite: OprfSuite, n: number, seed: number): Uint8Array {
  const size = suite.group.elementSize;
  const out = new Uint8Array(n * size);
  for (let i = 0; i < out.length; i++) out[i] = (Math.imul(i + 1, 0x9e3779b1) >>> 24) ^ seed;
  return out;
}

describe('finalizePacked (workers, OpenSSL) against suite.finalizeUnblinded (noble)', () => {
  it('the generator reaches empty batches, empty inputs, inputs of 256+ bytes and every suite', () => {
    const sample = fc.sample(batch, { numRuns: 300, seed: 20261202 });
    expect(sample.some((b) => b.inputs.length === 0)).toBe(true);
    expect(sample.some((b) => b.inputs.some((x) => x.length === 0))).toBe(true);
    expect(sample.some((b) => b.inputs.some((x) => x.length >= 256))).toBe(true);
    expect(sample.some((b) => b.inputs.some((x) => x.length >= 1000))).toBe(true);
    for (let s = 0; s < suites.length; s++) expect(sample.some((b) => b.suite === s && b.inputs.length > 1)).toBe(true);
  });

  it('gives suite.finalizeUnblinded bytes for every element, packed in order', () => {
    fc.assert(
      fc.property(batch, ({ suite: s, inputs, seed }) => {
        const suite = suites[s];
        const size = suite.group.elementSize;
        const elements = elementsFor(suite, inputs.length, seed[0]);
        const packed = finalizePacked(suite, inputs, elements);
        expect(packed.length).toBe(inputs.length * suite.outputSize);
        inputs.forEach((x, i) => {
          const want = suite.finalizeUnblinded(x, elements.subarray(i * size, (i + 1) * size));
          expect(Buffer.from(packed.subarray(i * suite.outputSize, (i + 1) * suite.outputSize)).toString('hex')).toBe(Buffer.from(want).toString('hex'));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('matches the real F(k, x) of suite.evaluate on a valid key', () => {
    const suite = suites[0];
    const key = suite.deriveKeyPair(new Uint8Array(32).fill(7), new Uint8Array(0));
    const inputs = [new Uint8Array(0), new TextEncoder().encode('tel:+14155550100'), new Uint8Array(300).fill(1)];
    const { group } = suite;
    const elements = group.multiplyPacked(group.scalar.check(key.secretKey), group.hashToGroupBatch(inputs, suite.hashToGroupDST));
    const packed = finalizePacked(suite, inputs, elements);
    suite.evaluate(key.secretKey, inputs).forEach((f, i) => expect(Buffer.from(packed.subarray(64 * i, 64 * (i + 1))).equals(Buffer.from(f))).toBe(true));
  });
});
