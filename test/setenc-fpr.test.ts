/**
 * Measured false-positive rates against the configured ones. Per-lookup rates are set
 * around 2^-8 so that 2^17 non-member lookups expect ~500 false positives: the bound
 * mean + 5 sigma + 5 fails a filter that is 25% worse than configured, and the lower
 * bound (half the mean, where the rate is not just an upper bound) catches a lookup that
 * ignores part of the filter.
 */
import { describe, expect, it } from 'vitest';
import { buildEncoding, deriveParameters, perLookupFalsePositiveRate, type EncodingKind, type EncodingParams, type SetEncoding } from '../src/setenc/index.js';
import { packedTags, splitTags } from './setenc-helpers.js';

const SERVER = 20_000;
const QUERIES = 1 << 17;

function falsePositives(enc: SetEncoding, seed: number, queries: number, tagLength = 32): number {
  const { packed } = packedTags(seed, queries, tagLength);
  let hits = 0;
  for (let i = 0; i < queries; i++) if (enc.contains(packed.subarray(i * tagLength, (i + 1) * tagLength))) hits++;
  return hits;
}

/** GCS block size does not change the rate, only lookup time: small blocks keep the test fast. */
function withSmallBlocks(params: EncodingParams): EncodingParams {
  return params.kind === 'gcs' ? { ...params, blockSize: 64 } : params;
}

describe('setenc false-positive rates', () => {
  // Whole-query rate 0.4 over 100 lookups: p = 0.004 per lookup.
  it.each(['gcs', 'bloom', 'fuse'] as EncodingKind[])('%s stays within the configured per-lookup rate', (kind) => {
    const params = withSmallBlocks(deriveParameters({ kind, serverSize: SERVER, clientSize: 100, falsePositiveRate: 0.4 }));
    const enc = buildEncoding(params, packedTags(1, SERVER, 32));
    const p = perLookupFalsePositiveRate(params, enc.count);
    expect(p).toBeLessThanOrEqual(0.004);
    const mean = p * QUERIES;
    const observed = falsePositives(enc, 2, QUERIES);
    expect(observed).toBeLessThanOrEqual(mean + 5 * Math.sqrt(mean) + 5);
    expect(observed).toBeGreaterThanOrEqual(mean / 2);
  });

  it('raw at the 4-byte minimum: about count / 2^32 per lookup', () => {
    const n = 1 << 17;
    const enc = buildEncoding({ kind: 'raw', tagBytes: 4 }, packedTags(3, n, 32));
    const queries = 1 << 19;
    const mean = perLookupFalsePositiveRate(enc.params, enc.count) * queries; // 16
    const observed = falsePositives(enc, 4, queries);
    expect(observed).toBeLessThanOrEqual(2 * mean + 10);
    expect(observed).toBeGreaterThanOrEqual(mean / 4);
  });

  it('the rate is for the whole query: few queries of clientSize lookups see any false positive', () => {
    const clientSize = 64;
    const falsePositiveRate = 0.25;
    const queries = 1024;
    for (const kind of ['gcs', 'bloom', 'fuse'] as EncodingKind[]) {
      const params = withSmallBlocks(deriveParameters({ kind, serverSize: SERVER, clientSize, falsePositiveRate }));
      const enc = buildEncoding(params, packedTags(5, SERVER, 32));
      const lookups = splitTags(packedTags(6, queries * clientSize, 32));
      let spoiled = 0;
      for (let q = 0; q < queries; q++) {
        let any = false;
        for (let i = 0; i < clientSize; i++) any = enc.contains(lookups[q * clientSize + i]) || any;
        if (any) spoiled++;
      }
      // P(any) <= 0.25; 1024 queries give sigma ~ 0.014.
      expect(spoiled / queries, kind).toBeLessThanOrEqual(falsePositiveRate + 0.05);
    }
  });
});
