import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Modes, type SuiteId } from '../src/oprf/index.js';
import { plainIntersection, runPsi } from './helpers/psi.js';

/** Client and server sets drawn from one pool, so overlaps, duplicates and unicode all occur. */
const sets = (maxClient: number, maxServer: number) =>
  fc
    .array(fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom('+41791234567', 'a@b.c', '')), {
      minLength: 1,
      maxLength: 60,
    })
    .chain((pool) =>
      fc.record({
        client: fc.array(fc.constantFrom(...pool), { maxLength: maxClient }),
        server: fc.array(fc.oneof(fc.constantFrom(...pool), fc.string()), { maxLength: maxServer }),
        seed: fc.integer(),
      }),
    );

for (const suite of ['ristretto255-SHA512', 'P256-SHA256'] as SuiteId[]) {
  describe(`session PSI, ${suite}`, () => {
    it('raw encoding: the result equals the plain set intersection', () => {
      fc.assert(
        fc.property(sets(40, 40), ({ client, server, seed }) => {
          const out = runPsi({ suite, client, server, seed });
          expect(out.clientError).toBeUndefined();
          expect(out.clientResult).toEqual({ mode: 'intersection', matches: plainIntersection(client, server), serverCount: new Set(server).size });
        }),
        { numRuns: 12 },
      );
    });

    it('edge shapes: empty, disjoint, equal, client larger than server', () => {
      const a = Array.from({ length: 30 }, (_, i) => `a${i}`);
      const b = Array.from({ length: 10 }, (_, i) => `b${i}`);
      for (const [client, server] of [[[], a], [a, []], [a, b], [a, a], [a, a.slice(0, 5)], [[], []]]) {
        const out = runPsi({ suite, client, server });
        expect(out.clientResult).toMatchObject({ matches: plainIntersection(client, server) });
      }
    });

    it('verifiable mode gives the same intersection', () => {
      fc.assert(
        fc.property(sets(20, 20), ({ client, server, seed }) => {
          const out = runPsi({ suite, mode: Modes.VOPRF, client, server, seed, options: { chunkSize: 7 } });
          expect(out.clientResult).toMatchObject({ matches: plainIntersection(client, server) });
        }),
        { numRuns: 5 },
      );
    });
  });
}

describe('session PSI at a few thousand items', () => {
  it('2,000 client items against 3,000 server items, chunked, raw encoding', () => {
    const client = Array.from({ length: 2000 }, (_, i) => `tel:+4179${1000000 + i * 7}`);
    const server = Array.from({ length: 3000 }, (_, i) => `tel:+4179${1000000 + i * 5}`);
    const out = runPsi({ client, server, options: { chunkSize: 512 } });
    expect(out.clientResult).toMatchObject({ matches: plainIntersection(client, server) });
    expect(out.client.filter((e) => e.type === 'progress').length).toBe(4);
  });
});

describe('padding to a size class', () => {
  it('the server sees only the class, and the result is unchanged', () => {
    fc.assert(
      fc.property(sets(100, 30), ({ client, server, seed }) => {
        const out = runPsi({ client, server, seed, options: { padToSizeClass: true } });
        const distinct = new Set(client).size;
        expect(out.clientSession.queriedCount).toBeGreaterThanOrEqual(Math.max(64, distinct));
        expect([64, 96, 128, 192]).toContain(out.clientSession.queriedCount);
        expect(out.clientResult).toMatchObject({ matches: plainIntersection(client, server) });
      }),
      { numRuns: 5 },
    );
  });
});
