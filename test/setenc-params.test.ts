import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEncoding,
  deriveParameters,
  expectedBitsPerEntry,
  perLookupFalsePositiveRate,
  type EncodingKind,
  type EncodingParams,
} from '../src/setenc/index.js';
import { errorCode } from './setenc-helpers.js';

const KINDS: EncodingKind[] = ['raw', 'gcs', 'bloom', 'fuse'];

describe('setenc deriveParameters', () => {
  it('rejects bad inputs with bad_parameters', () => {
    const good = { serverSize: 1000, clientSize: 10, falsePositiveRate: 1e-6 };
    const bad: Record<string, unknown>[] = [
      { serverSize: 0 },
      { serverSize: -5 },
      { serverSize: 1.5 },
      { serverSize: Number.NaN },
      { serverSize: Infinity },
      { serverSize: '1000' },
      { clientSize: 0 },
      { clientSize: 2.5 },
      { clientSize: undefined },
      { falsePositiveRate: 0 },
      { falsePositiveRate: 1 },
      { falsePositiveRate: -0.1 },
      { falsePositiveRate: 1.5 },
      { falsePositiveRate: Number.NaN },
      { falsePositiveRate: '0.1' },
      { tagLength: 3 },
      { tagLength: 65 },
    ];
    for (const kind of KINDS) {
      for (const patch of bad) {
        expect(errorCode(() => deriveParameters({ kind, ...good, ...patch } as never)), JSON.stringify(patch)).toBe('bad_parameters');
      }
    }
    expect(errorCode(() => deriveParameters({ kind: 'cuckoo', ...good } as never))).toBe('bad_parameters');
    expect(errorCode(() => deriveParameters(null as never))).toBe('bad_parameters');
  });

  it('meets the whole-query rate: clientSize x per-lookup rate <= falsePositiveRate', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.integer({ min: 1, max: 50_000_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 1e-12, max: 0.999, noNaN: true }),
        (kind, serverSize, clientSize, falsePositiveRate) => {
          let params: EncodingParams;
          try {
            params = deriveParameters({ kind, serverSize, clientSize, falsePositiveRate });
          } catch (err) {
            // Only a fingerprint or Rice parameter past its cap may refuse, and only for tiny rates.
            expect((err as { code?: string }).code).toBe('fpr_unreachable');
            expect(falsePositiveRate / clientSize).toBeLessThan(2 ** -32);
            return;
          }
          const perLookup = perLookupFalsePositiveRate(params, serverSize);
          if (kind === 'raw' && params.kind === 'raw' && params.tagBytes === 32) return; // clamped to the full tag
          expect(perLookup * clientSize).toBeLessThanOrEqual(falsePositiveRate * (1 + 1e-9));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('raw keeps ceil(log2(S * C / rate)) bits, in whole bytes, between 4 bytes and the full tag', () => {
    expect(deriveParameters({ kind: 'raw', serverSize: 1, clientSize: 1, falsePositiveRate: 0.5 })).toEqual({ kind: 'raw', tagBytes: 4 });
    // 2^20 * 2^10 / 2^-20 = 2^50 -> 50 bits -> 7 bytes.
    expect(deriveParameters({ kind: 'raw', serverSize: 2 ** 20, clientSize: 2 ** 10, falsePositiveRate: 2 ** -20 })).toEqual({ kind: 'raw', tagBytes: 7 });
    // 2^20 * 2^10 / 2^-22 = 2^52 -> 52 bits -> 7 bytes; one more bit -> 8 bytes.
    expect(deriveParameters({ kind: 'raw', serverSize: 2 ** 20, clientSize: 2 ** 10, falsePositiveRate: 2 ** -22 })).toEqual({ kind: 'raw', tagBytes: 7 });
    expect(deriveParameters({ kind: 'raw', serverSize: 2 ** 20, clientSize: 2 ** 10, falsePositiveRate: 2 ** -27 })).toEqual({ kind: 'raw', tagBytes: 8 });
    expect(deriveParameters({ kind: 'raw', serverSize: 1e9, clientSize: 1e6, falsePositiveRate: 1e-300 })).toEqual({ kind: 'raw', tagBytes: 32 });
    expect(deriveParameters({ kind: 'raw', serverSize: 1e9, clientSize: 1e6, falsePositiveRate: 1e-300, tagLength: 64 })).toEqual({ kind: 'raw', tagBytes: 64 });
  });

  it('gcs M and fuse fingerprints are the smallest power of two / width reaching the per-lookup rate', () => {
    // 1e-6 over 1,000 lookups: p = 1e-9, 2^-30 = 9.3e-10 <= p < 2^-29.
    expect(deriveParameters({ kind: 'gcs', serverSize: 1e6, clientSize: 1000, falsePositiveRate: 1e-6 })).toEqual({ kind: 'gcs', riceBits: 30, blockSize: 1024 });
    expect(deriveParameters({ kind: 'fuse', serverSize: 1e6, clientSize: 1000, falsePositiveRate: 1e-6 })).toEqual({ kind: 'fuse', fingerprintBits: 30 });
    expect(deriveParameters({ kind: 'fuse', serverSize: 1e6, clientSize: 1, falsePositiveRate: 2 ** -29 })).toEqual({ kind: 'fuse', fingerprintBits: 29 });
    expect(deriveParameters({ kind: 'gcs', serverSize: 10, clientSize: 1, falsePositiveRate: 0.75 })).toEqual({ kind: 'gcs', riceBits: 1, blockSize: 1024 });
  });

  it('bloom picks the optimal k and m/n', () => {
    const p = deriveParameters({ kind: 'bloom', serverSize: 1e6, clientSize: 1, falsePositiveRate: 2 ** -10 });
    expect(p.kind === 'bloom' && p.hashCount).toBe(10);
    // Optimal m/n = log2(1/p) / ln 2 = 14.43 at k = 10.
    expect(p.kind === 'bloom' && p.bitsPerEntry).toBeCloseTo(10 / Math.LN2, 1);
  });

  it('fuse at 2^-29 per lookup costs at most 32 bits per entry at 1M entries', () => {
    const params = deriveParameters({ kind: 'fuse', serverSize: 1_000_000, clientSize: 1, falsePositiveRate: 2 ** -29 });
    expect(params).toEqual({ kind: 'fuse', fingerprintBits: 29 });
    expect(expectedBitsPerEntry(params, 1_000_000)).toBeLessThanOrEqual(32);
  });

  it('refuses unreachable rates with fpr_unreachable', () => {
    expect(errorCode(() => deriveParameters({ kind: 'fuse', serverSize: 10, clientSize: 1000, falsePositiveRate: 2 ** -23 }))).toBe('fpr_unreachable');
    expect(errorCode(() => deriveParameters({ kind: 'fuse', serverSize: 10, clientSize: 1, falsePositiveRate: 2 ** -32 }))).toBeUndefined();
    expect(errorCode(() => deriveParameters({ kind: 'gcs', serverSize: 10, clientSize: 1, falsePositiveRate: 2 ** -53 }))).toBe('fpr_unreachable');
    expect(errorCode(() => deriveParameters({ kind: 'bloom', serverSize: 10, clientSize: 1, falsePositiveRate: 2 ** -65 }))).toBe('fpr_unreachable');
    expect(errorCode(() => deriveParameters({ kind: 'raw', serverSize: 10, clientSize: 1, falsePositiveRate: 1e-300 }))).toBeUndefined();
  });

  it('buildEncoding and the size math reject malformed params with bad_parameters', () => {
    const bad = [
      { kind: 'raw', tagBytes: 3 },
      { kind: 'raw', tagBytes: 65 },
      { kind: 'raw', tagBytes: 8.5 },
      { kind: 'gcs', riceBits: 0, blockSize: 1024 },
      { kind: 'gcs', riceBits: 53, blockSize: 1024 },
      { kind: 'gcs', riceBits: 10, blockSize: 1000 },
      { kind: 'gcs', riceBits: 10, blockSize: 8 },
      { kind: 'bloom', bitsPerEntry: Number.NaN, hashCount: 3 },
      { kind: 'bloom', bitsPerEntry: -1, hashCount: 3 },
      { kind: 'bloom', bitsPerEntry: 5000, hashCount: 3 },
      { kind: 'bloom', bitsPerEntry: 10, hashCount: 0 },
      { kind: 'bloom', bitsPerEntry: 10, hashCount: 65 },
      { kind: 'fuse', fingerprintBits: 0 },
      { kind: 'fuse', fingerprintBits: 33 },
      { kind: 'fuse', fingerprintBits: 8, seed: -1 },
      { kind: 'fuse', fingerprintBits: 8, seed: 2 ** 32 },
      { kind: 'xor', fingerprintBits: 8 },
      null,
    ];
    for (const params of bad) {
      expect(errorCode(() => buildEncoding(params as never, [])), JSON.stringify(params)).toBe('bad_parameters');
      expect(errorCode(() => expectedBitsPerEntry(params as never, 10)), JSON.stringify(params)).toBe('bad_parameters');
    }
    expect(errorCode(() => expectedBitsPerEntry({ kind: 'raw', tagBytes: 8 }, 0))).toBe('bad_parameters');
    expect(errorCode(() => expectedBitsPerEntry({ kind: 'raw', tagBytes: 8 }, 1.5))).toBe('bad_parameters');
  });
});
