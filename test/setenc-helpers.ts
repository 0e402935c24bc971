/** Shared fixtures for the test/setenc-*.test.ts files: deterministic tags and sample parameters. */
import { SetEncodingError } from '../src/errors.js';
import { deriveParameters, type EncodingParams } from '../src/setenc/index.js';

/**
 * xoshiro128** (Blackman & Vigna): a fast deterministic generator, unrelated to the
 * fmix32 mixing the encodings use, so test tags do not share structure with the hashing.
 */
export function prng(seed: number): (length: number) => Uint8Array {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 + seed;
  let c = 0xb7e15162;
  let d = 0x85a308d3 ^ Math.imul(seed, 0x2545f491);
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const x = next();
      out[i] = x;
      if (i + 1 < length) out[i + 1] = x >>> 8;
      if (i + 2 < length) out[i + 2] = x >>> 16;
      if (i + 3 < length) out[i + 3] = x >>> 24;
    }
    return out;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** n pseudo-random tags of `tagLength` bytes, packed. */
export function packedTags(seed: number, n: number, tagLength = 64): { packed: Uint8Array; tagLength: number } {
  return { packed: prng(seed)(n * tagLength), tagLength };
}

export function splitTags(p: { packed: Uint8Array; tagLength: number }): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < p.packed.length; i += p.tagLength) out.push(p.packed.subarray(i, i + p.tagLength));
  return out;
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** One representative parameter set per kind, small enough for property tests. */
export const SAMPLE_PARAMS: readonly EncodingParams[] = [
  { kind: 'raw', tagBytes: 8 },
  { kind: 'gcs', riceBits: 12, blockSize: 16 }, // small blocks exercise the index
  { kind: 'gcs', riceBits: 40, blockSize: 1024 }, // remainders over 32 bits
  deriveParameters({ kind: 'bloom', serverSize: 1000, clientSize: 10, falsePositiveRate: 0.01 }),
  { kind: 'fuse', fingerprintBits: 13 },
  { kind: 'fuse', fingerprintBits: 32 },
];

/** Runs fn and returns the SetEncodingError code it throws (fails the test on anything else). */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof SetEncodingError)) throw err;
    return err.code;
  }
}

export const PARSE_ERROR_CODES = new Set([
  'bad_input',
  'bad_magic',
  'bad_version',
  'bad_kind',
  'truncated',
  'trailing_bytes',
  'bad_parameters',
  'too_large',
  'not_sorted',
  'corrupt',
]);
