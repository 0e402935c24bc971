/**
 * Parameter derivation and size math (spec/setenc.md §Parameters, §Sizes).
 *
 * The caller states the false-positive rate of a WHOLE client query: the probability that
 * any of its `clientSize` lookups is a false positive. By the union bound each lookup may
 * then err with p = falsePositiveRate / clientSize. (OpenMined PSI applied the rate per
 * item, so a 1,000-contact query was 1,000 times worse than configured: their issue 143.)
 */
import { SetEncodingError } from '../errors.js';
import { HEADER_BYTES } from './serialize.js';
import { EncodingKinds, type BloomParams, type EncodingKind, type EncodingParams } from './types.js';

export const RAW_MIN_TAG_BYTES = 4;
export const RAW_MAX_TAG_BYTES = 64;
/** Raw never keeps more than this unless told the full tag is longer: the P256-SHA256 output size. */
export const DEFAULT_TAG_LENGTH = 32;
export const GCS_MAX_RICE_BITS = 52; // remainders stay exact doubles
export const GCS_DEFAULT_BLOCK_SIZE = 1024;
export const GCS_MIN_BLOCK_SIZE = 16;
export const GCS_MAX_BLOCK_SIZE = 65536;
export const BLOOM_MAX_HASHES = 64;
export const BLOOM_MAX_BITS_PER_ENTRY = 4096;
export const FUSE_MAX_FINGERPRINT_BITS = 32;
export const FUSE_ARITY = 4;
export const FUSE_MAX_SEGMENT_LENGTH_LOG2 = 16; // the offsets within a segment are 16-bit halves of a hash word

/** Fixed bytes before each kind's body: container header plus the kind's parameter fields. */
export const PARAM_BYTES: Readonly<Record<EncodingKind, number>> = {
  raw: HEADER_BYTES + 1, // tagBytes
  gcs: HEADER_BYTES + 6, // riceBits, log2(blockSize), streamBytes u32
  bloom: HEADER_BYTES + 9, // hashCount, bitsPerEntry f64
  fuse: HEADER_BYTES + 10, // fingerprintBits, log2(segmentLength), segmentCount u32, seed u32
};
/** One GCS index entry: bit offset u32, quotient u32, remainder u64. */
export const GCS_INDEX_ENTRY_BYTES = 16;

function bad(message: string): SetEncodingError {
  return new SetEncodingError('bad_parameters', message);
}

const isIntIn = (v: unknown, lo: number, hi: number): v is number => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
const isPowerOfTwo = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;

/** Throws `bad_parameters` unless `params` is a well-formed EncodingParams. */
export function checkParams(params: EncodingParams): void {
  if (typeof params !== 'object' || params === null) throw bad('params must be an object');
  switch (params.kind) {
    case 'raw':
      if (!isIntIn(params.tagBytes, RAW_MIN_TAG_BYTES, RAW_MAX_TAG_BYTES)) {
        throw bad(`raw tagBytes must be an integer in [${RAW_MIN_TAG_BYTES}, ${RAW_MAX_TAG_BYTES}]`);
      }
      return;
    case 'gcs':
      if (!isIntIn(params.riceBits, 1, GCS_MAX_RICE_BITS)) throw bad(`gcs riceBits must be an integer in [1, ${GCS_MAX_RICE_BITS}]`);
      if (!isIntIn(params.blockSize, GCS_MIN_BLOCK_SIZE, GCS_MAX_BLOCK_SIZE) || !isPowerOfTwo(params.blockSize)) {
        throw bad(`gcs blockSize must be a power of two in [${GCS_MIN_BLOCK_SIZE}, ${GCS_MAX_BLOCK_SIZE}]`);
      }
      return;
    case 'bloom':
      if (!isIntIn(params.hashCount, 1, BLOOM_MAX_HASHES)) throw bad(`bloom hashCount must be an integer in [1, ${BLOOM_MAX_HASHES}]`);
      if (typeof params.bitsPerEntry !== 'number' || !(params.bitsPerEntry > 0 && params.bitsPerEntry <= BLOOM_MAX_BITS_PER_ENTRY)) {
        throw bad(`bloom bitsPerEntry must be a number in (0, ${BLOOM_MAX_BITS_PER_ENTRY}]`);
      }
      return;
    case 'fuse':
      if (!isIntIn(params.fingerprintBits, 1, FUSE_MAX_FINGERPRINT_BITS)) {
        throw bad(`fuse fingerprintBits must be an integer in [1, ${FUSE_MAX_FINGERPRINT_BITS}]`);
      }
      if (params.seed !== undefined && !isIntIn(params.seed, 0, 0xffff_ffff)) throw bad('fuse seed must be a u32');
      return;
    default:
      throw bad(`unknown encoding kind ${String((params as { kind: unknown }).kind)}`);
  }
}

/** Smallest b >= 0 with 2^-b <= x, for x in (0, 1]; Infinity when x underflowed to 0. Powers of two are exact, so the comparisons are. */
function bitsFor(x: number): number {
  if (!(x > 0)) return Infinity;
  let b = Math.max(0, Math.ceil(-Math.log2(x)));
  while (b > 0 && 2 ** -(b - 1) <= x) b--;
  while (2 ** -b > x) b++;
  return b;
}

function unreachable(kind: EncodingKind, p: number, limit: string): SetEncodingError {
  return new SetEncodingError('fpr_unreachable', `${kind} cannot reach a per-lookup false-positive rate of ${p} (${limit})`);
}

export interface DeriveOptions {
  readonly kind: EncodingKind;
  /** Number of tags the server encodes (an upper bound: raw's rate grows with it). */
  readonly serverSize: number;
  /** Number of lookups one client query makes. */
  readonly clientSize: number;
  /** Target probability that ANY lookup of the query is a false positive, in (0, 1). */
  readonly falsePositiveRate: number;
  /** Full OPRF output length in bytes, the most raw will keep (default 32). */
  readonly tagLength?: number;
}

/**
 * Parameters meeting a whole-query false-positive rate. Throws `bad_parameters` for bad
 * inputs and `fpr_unreachable` when gcs (riceBits <= 52), bloom (hashCount <= 64) or fuse
 * (fingerprintBits <= 32) cannot reach the per-lookup rate. Raw clamps to the full tag,
 * whose only false positives are OPRF output collisions (2^-256 per pair for 32 bytes).
 */
export function deriveParameters(opts: DeriveOptions): EncodingParams {
  if (typeof opts !== 'object' || opts === null) throw bad('options must be an object');
  const { kind, serverSize, clientSize, falsePositiveRate } = opts;
  const tagLength = opts.tagLength ?? DEFAULT_TAG_LENGTH;
  if (!EncodingKinds.includes(kind)) throw bad(`unknown encoding kind ${String(kind)}`);
  if (!isIntIn(serverSize, 1, Number.MAX_SAFE_INTEGER)) throw bad('serverSize must be a positive integer');
  if (!isIntIn(clientSize, 1, Number.MAX_SAFE_INTEGER)) throw bad('clientSize must be a positive integer');
  if (typeof falsePositiveRate !== 'number' || !(falsePositiveRate > 0 && falsePositiveRate < 1)) {
    throw bad('falsePositiveRate must be a number in (0, 1)');
  }
  if (!isIntIn(tagLength, RAW_MIN_TAG_BYTES, RAW_MAX_TAG_BYTES)) throw bad(`tagLength must be an integer in [${RAW_MIN_TAG_BYTES}, ${RAW_MAX_TAG_BYTES}]`);
  const p = falsePositiveRate / clientSize; // union bound over the query's lookups

  switch (kind) {
    case 'raw': {
      // A non-member matches one of serverSize truncated tags with probability <= serverSize * 2^-bits.
      const bits = bitsFor(p / serverSize);
      const bytes = Math.min(tagLength, Math.max(RAW_MIN_TAG_BYTES, Math.ceil(bits / 8)));
      return { kind, tagBytes: bytes };
    }
    case 'gcs': {
      // Values are uniform in [0, N*M); a non-member hits one of <= N of them: rate <= 1/M.
      const riceBits = Math.max(1, bitsFor(p));
      if (riceBits > GCS_MAX_RICE_BITS) throw unreachable(kind, p, `M = 2^${GCS_MAX_RICE_BITS} at most`);
      return { kind, riceBits, blockSize: GCS_DEFAULT_BLOCK_SIZE };
    }
    case 'bloom':
      return bloomParamsFor(p);
    case 'fuse': {
      // A non-member's fingerprint equals the XOR of its 4 cells with probability 2^-f.
      const fingerprintBits = Math.max(1, bitsFor(p));
      if (fingerprintBits > FUSE_MAX_FINGERPRINT_BITS) throw unreachable(kind, p, `fingerprints are at most ${FUSE_MAX_FINGERPRINT_BITS} bits`);
      return { kind, fingerprintBits };
    }
  }
}

/**
 * Smallest m/n meeting p: for k probes the standard estimate (1 - e^{-k n/m})^k <= p gives
 * m/n >= -k / ln(1 - p^{1/k}); the best k is next to log2(1/p), so try the integers around it.
 */
function bloomParamsFor(p: number): BloomParams {
  const x = -Math.log2(p);
  if (!(x <= BLOOM_MAX_HASHES)) throw unreachable('bloom', p, `at most ${BLOOM_MAX_HASHES} hashes`);
  let best: BloomParams | undefined;
  for (let k = Math.max(1, Math.floor(x) - 1); k <= Math.min(BLOOM_MAX_HASHES, Math.ceil(x) + 1); k++) {
    const bitsPerEntry = -k / Math.log1p(-(p ** (1 / k)));
    if (Number.isFinite(bitsPerEntry) && bitsPerEntry > 0 && (best === undefined || bitsPerEntry < best.bitsPerEntry)) {
      best = { kind: 'bloom', bitsPerEntry, hashCount: k };
    }
  }
  if (best === undefined || best.bitsPerEntry > BLOOM_MAX_BITS_PER_ENTRY) throw unreachable('bloom', p, 'no finite filter size');
  return best;
}

/** Bloom filter size in bits: ceil(count * bitsPerEntry) rounded up to whole bytes, at least one byte. */
export function bloomFilterBits(count: number, bitsPerEntry: number): number {
  return 8 * Math.max(1, Math.ceil(Math.ceil(count * bitsPerEntry) / 8));
}

export interface FuseLayout {
  readonly segmentLengthLog2: number;
  readonly segmentCount: number;
  /** Cells: (segmentCount + 3) * segmentLength; 0 for the empty set. */
  readonly arrayLength: number;
}

/**
 * Graf & Lemire 2022, 4-wise: segment length 2^floor(ln n / ln 2.91 - 0.5) and size factor
 * max(1.075, 0.77 + 0.305 ln(600000) / ln n), as in their reference code (xorfilter /
 * fastfilter_cpp). The segment length is capped at 2^16 (reached only near 50M keys). The
 * layout is stored in the encoding, so a parser never recomputes these logarithms.
 */
export function fuseLayout(count: number): FuseLayout {
  if (count === 0) return { segmentLengthLog2: 0, segmentCount: 0, arrayLength: 0 };
  const log2 = count <= 1 ? 0 : Math.floor(Math.log(count) / Math.log(2.91) - 0.5);
  const segmentLengthLog2 = Math.min(FUSE_MAX_SEGMENT_LENGTH_LOG2, Math.max(0, log2));
  const segmentLength = 2 ** segmentLengthLog2;
  const sizeFactor = Math.max(1.075, 0.77 + (0.305 * Math.log(600000)) / Math.log(Math.max(2, count)));
  const capacity = count <= 1 ? 0 : Math.round(count * sizeFactor);
  const segmentCount = Math.max(1, Math.ceil(capacity / segmentLength) - (FUSE_ARITY - 1));
  return { segmentLengthLog2, segmentCount, arrayLength: (segmentCount + FUSE_ARITY - 1) * segmentLength };
}

/**
 * Expected serialized size in bytes (exact for raw, bloom and fuse; the mean for gcs).
 * GCS: gaps between n uniform values in [0, nM) are about Exp(mean M), so a Rice code
 * costs r + 1 + E[floor(gap/M)] = r + 1 + 1/(e - 1) bits; each block's first value lives
 * in its 16-byte index entry instead of the stream.
 */
export function expectedByteLength(params: EncodingParams, count: number): number {
  checkParams(params);
  if (!isIntIn(count, 0, 0xffff_ffff)) throw bad('count must be an integer in [0, 2^32)');
  switch (params.kind) {
    case 'raw':
      return PARAM_BYTES.raw + count * params.tagBytes;
    case 'gcs': {
      const blocks = Math.ceil(count / params.blockSize);
      const streamBits = (count - blocks) * (params.riceBits + 1 + 1 / (Math.E - 1));
      return PARAM_BYTES.gcs + GCS_INDEX_ENTRY_BYTES * blocks + Math.ceil(streamBits / 8);
    }
    case 'bloom':
      return PARAM_BYTES.bloom + bloomFilterBits(count, params.bitsPerEntry) / 8;
    case 'fuse':
      return PARAM_BYTES.fuse + Math.ceil((fuseLayout(count).arrayLength * params.fingerprintBits) / 8);
  }
}

/** expectedByteLength * 8 / count: everything on the wire, header and index included. */
export function expectedBitsPerEntry(params: EncodingParams, count: number): number {
  if (!isIntIn(count, 1, 0xffff_ffff)) throw bad('count must be a positive integer');
  return (expectedByteLength(params, count) * 8) / count;
}

/** The per-lookup false-positive rate an encoding of `count` distinct tags has (an upper bound for raw and gcs). */
export function perLookupFalsePositiveRate(params: EncodingParams, count: number): number {
  checkParams(params);
  switch (params.kind) {
    case 'raw':
      return Math.min(1, count * 2 ** (-8 * params.tagBytes));
    case 'gcs':
      return count === 0 ? 0 : 2 ** -params.riceBits;
    case 'bloom': {
      const m = bloomFilterBits(count, params.bitsPerEntry);
      return (1 - Math.exp((-params.hashCount * count) / m)) ** params.hashCount;
    }
    case 'fuse':
      return count === 0 ? 0 : 2 ** -params.fingerprintBits;
  }
}

