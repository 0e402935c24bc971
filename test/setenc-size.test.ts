/** The documented size formula (expectedBitsPerEntry) against measured encodings. */
import { describe, expect, it } from 'vitest';
import { buildEncoding, deriveParameters, expectedBitsPerEntry, type EncodingParams } from '../src/setenc/index.js';
import { packedTags } from './setenc-helpers.js';

const CASES: readonly [number, EncodingParams][] = [
  [20_000, { kind: 'raw', tagBytes: 6 }],
  [50_000, { kind: 'gcs', riceBits: 8, blockSize: 1024 }],
  [50_000, { kind: 'gcs', riceBits: 30, blockSize: 1024 }],
  [20_000, { kind: 'gcs', riceBits: 45, blockSize: 64 }],
  [50_000, deriveParameters({ kind: 'bloom', serverSize: 50_000, clientSize: 1000, falsePositiveRate: 1e-6 })],
  [50_000, { kind: 'fuse', fingerprintBits: 8 }],
  [100_000, { kind: 'fuse', fingerprintBits: 29 }],
];

describe('setenc size formula', () => {
  it.each(CASES.map(([n, p]) => [n, JSON.stringify(p), p] as const))('%i entries of %s: within 5%% of expectedBitsPerEntry', (n, _label, params) => {
    const enc = buildEncoding(params, packedTags(n, n, 16));
    expect(enc.count).toBe(n);
    const measured = (enc.byteLength * 8) / enc.count;
    const expected = expectedBitsPerEntry(params, enc.count);
    expect(Math.abs(measured - expected) / expected).toBeLessThan(0.05);
    if (params.kind !== 'gcs') expect(measured).toBe(expected); // exact for fixed layouts
  });

  it('fuse with 29-bit fingerprints stays at or under 32 bits per entry at 1M entries', () => {
    const params = deriveParameters({ kind: 'fuse', serverSize: 1_000_000, clientSize: 1, falsePositiveRate: 2 ** -29 });
    const enc = buildEncoding(params, packedTags(11, 1_000_000, 16));
    expect(enc.count).toBe(1_000_000);
    expect((enc.byteLength * 8) / enc.count).toBeLessThanOrEqual(32);
  });
});
