import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEncoding, deriveParameters } from '../src/setenc/index.js';
import { plainIntersection, runPsi } from './helpers/psi.js';
import { fastRng } from './helpers/rng.js';

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
      // The session derives the encoding from (server size, client size, whole-query rate),
      // exactly as here; OPRF outputs are uniformly random, so random tags stand in for them
      // and many queries can be simulated. At a 5% whole-query target, 2,000 queries of 100
      // non-members should have ~100 with a false positive; a per-item rate (the OpenMined
      // mistake) would give nearly all 2,000.
      const rate = 0.05;
      const clientSize = 100;
      const serverSize = 200;
      const rng = fastRng(99);
      let queriesWithFalsePositive = 0;
      const runs = 2000;
      for (let r = 0; r < runs; r++) {
        const params = deriveParameters({ kind: encoding, serverSize, clientSize, falsePositiveRate: rate });
        const enc = buildEncoding(params, Array.from({ length: serverSize }, () => rng(64)));
        let hit = false;
        for (let i = 0; i < clientSize && !hit; i++) hit = enc.contains(rng(64));
        if (hit) queriesWithFalsePositive++;
      }
      // Binomial(2000, 0.05): mean 100, sd 9.7; 140 is four sd above.
      expect(queriesWithFalsePositive).toBeLessThanOrEqual(140);
    });
  }
});
