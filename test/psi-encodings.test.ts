import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainIntersection, runPsi } from './helpers/psi.js';

describe('session PSI with compressed encodings', () => {
  for (const encoding of ['gcs', 'bloom', 'fuse'] as const) {
    it(`${encoding}: no false negatives on generated sets`, () => {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.string({ maxLength: 10 }), { maxLength: 60 }),
          fc.uniqueArray(fc.string({ maxLength: 10 }), { maxLength: 60 }),
          fc.integer(),
          (client, server, seed) => {
            const out = runPsi({ client, server, seed, options: { encoding, falsePositiveRate: 1e-6 } });
            const matches = (out.clientResult as { matches: number[] }).matches;
            for (const i of plainIntersection(client, server)) expect(matches).toContain(i);
          },
        ),
        { numRuns: 8 },
      );
    });

    it(`${encoding}: whole-query false positives stay within the configured rate`, () => {
      // A deliberately loose rate (5% for the whole query) so that false positives are
      // frequent enough to count: over 40 disjoint queries we expect about 2; a per-item
      // rate (the OpenMined mistake) would give ~40 x 0.05 x 100 = 200.
      const rate = 0.05;
      let queriesWithFalsePositive = 0;
      const runs = 40;
      for (let r = 0; r < runs; r++) {
        const client = Array.from({ length: 100 }, (_, i) => `client-${r}-${i}`);
        const server = Array.from({ length: 200 }, (_, i) => `server-${r}-${i}`);
        const out = runPsi({ client, server, seed: r, options: { encoding, falsePositiveRate: rate } });
        if ((out.clientResult as { matches: number[] }).matches.length > 0) queriesWithFalsePositive++;
      }
      // Binomial(40, 0.05): P(X > 8) < 1e-4.
      expect(queriesWithFalsePositive).toBeLessThanOrEqual(8);
    });
  }
});
