/**
 * `fuse`: a 4-wise binary fuse filter (Graf & Lemire, "Binary Fuse Filters: Fast and
 * Smaller Than Xor Filters", JEA 2022). The array of (segmentCount + 3) segments of
 * 2^segmentLengthLog2 cells holds f-bit fingerprints, bit-packed (cell i at bits
 * [i f, i f + f)). A key picks a segment s and one cell in each of segments s..s+3; it is a
 * member when the XOR of those four cells equals its fingerprint, so a non-member passes
 * with probability 2^-f. At the 1.075 size factor of 4-wise filters, f = 29 costs
 * 29 x 1.077 = 31.2 bits per entry at 1M keys.
 *
 * Hashing: the 16-byte key (w0..w3) is mixed with the seed by two chained passes of
 * murmur3's fmix32 (x0 = fmix(w0 ^ seed), x1 = fmix(w1 ^ x0), ... then back again), a
 * bijection of the 128 bits for a fixed seed, so uniform tags give four uniform words and
 * a new seed gives a fresh hypergraph when peeling fails. x0 picks the segment
 * (multiply-shift), the halves of x1 and x2 the four offsets, x3 the fingerprint.
 *
 * Layout after the container header: fingerprintBits u8, segmentLengthLog2 u8,
 * segmentCount u32, seed u32, then ceil(arrayLength f / 8) bytes.
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS, READ_PADDING, readBits, zeroBits } from './bits.js';
import { constructFuse, packCells } from './fuse-build.js';
import { checkParams, FUSE_ARITY, FUSE_MAX_FINGERPRINT_BITS, FUSE_MAX_SEGMENT_LENGTH_LOG2, PARAM_BYTES } from './params.js';
import { allocateEncoding, checkTotalLength, copyPadded, need, type Header, type ResolvedLimits } from './serialize.js';
import { checkTag, fmix32, KEY_BYTES, mulHi32, u32le } from './tags.js';
import type { FuseParams, SetEncoding, TagInput } from './types.js';

const BODY = PARAM_BYTES.fuse;
export { FUSE_MAX_ATTEMPTS } from './fuse-build.js';

/** Where a key's four cells are and what its fingerprint is, for one seed and layout. */
interface Probe {
  p0: number;
  p1: number;
  p2: number;
  p3: number;
  fp: number;
}

function probe(w0: number, w1: number, w2: number, w3: number, seed: number, segmentCount: number, log2L: number, f: number, out: Probe): void {
  let x0 = fmix32(w0 ^ seed);
  let x1 = fmix32(w1 ^ x0);
  let x2 = fmix32(w2 ^ x1);
  const x3 = fmix32(w3 ^ x2);
  x0 = fmix32(x0 ^ x3);
  x1 = fmix32(x1 ^ x0);
  x2 = fmix32(x2 ^ x1);
  const L = 1 << log2L;
  const mask = L - 1;
  const base = mulHi32(x0, segmentCount) * L;
  out.p0 = base + (x1 & mask);
  out.p1 = base + L + ((x1 >>> 16) & mask);
  out.p2 = base + 2 * L + (x2 & mask);
  out.p3 = base + 3 * L + ((x2 >>> 16) & mask);
  out.fp = f === 32 ? x3 : x3 & ((1 << f) - 1);
}

export class FuseEncoding implements SetEncoding {
  readonly kind = 'fuse' as const;
  readonly byteLength: number;
  private readonly cells: Uint8Array;
  private readonly scratch: Probe = { p0: 0, p1: 0, p2: 0, p3: 0, fp: 0 };

  /** `buf` holds the serialized encoding followed by READ_PADDING zero bytes; it was built or validated. */
  constructor(
    readonly params: FuseParams & { readonly seed: number },
    readonly count: number,
    private readonly segmentLengthLog2: number,
    private readonly segmentCount: number,
    private readonly buf: Uint8Array,
  ) {
    this.byteLength = buf.length - READ_PADDING;
    this.cells = buf.subarray(BODY);
  }

  contains(tag: Uint8Array): boolean {
    checkTag(tag, KEY_BYTES);
    if (this.count === 0) return false;
    const f = this.params.fingerprintBits;
    const h = this.scratch;
    probe(u32le(tag, 0), u32le(tag, 4), u32le(tag, 8), u32le(tag, 12), this.params.seed, this.segmentCount, this.segmentLengthLog2, f, h);
    const c = this.cells;
    const x = readBits(c, h.p0 * f, f) ^ readBits(c, h.p1 * f, f) ^ readBits(c, h.p2 * f, f) ^ readBits(c, h.p3 * f, f);
    return (x >>> 0) === h.fp;
  }

  serialize(): Uint8Array {
    return this.buf.slice(0, this.byteLength);
  }
}

export function buildFuse(params: FuseParams, input: TagInput): FuseEncoding {
  checkParams(params);
  const f = params.fingerprintBits;
  // Construction (and its cost) lives in fuse-build.ts; duplicates count once.
  const built = constructFuse(input, f, (params.seed ?? 0) >>> 0);
  const { segmentLengthLog2, segmentCount, arrayLength } = built.layout;
  const { buf, view } = allocateEncoding('fuse', built.count, BODY + Math.ceil((arrayLength * f) / 8), READ_PADDING);
  buf[BODY - 10] = f;
  buf[BODY - 9] = segmentLengthLog2;
  view.setUint32(BODY - 8, segmentCount, true);
  view.setUint32(BODY - 4, built.seed, true);
  packCells(built.cells, f, buf.subarray(BODY));
  return new FuseEncoding(Object.freeze({ kind: 'fuse', fingerprintBits: f, seed: built.seed }), built.count, segmentLengthLog2, segmentCount, buf);
}

export function parseFuse(bytes: Uint8Array, header: Header, limits: ResolvedLimits): FuseEncoding {
  need(bytes, BODY, 'fuse parameters');
  const { count, view } = header;
  const f = bytes[BODY - 10];
  const log2L = bytes[BODY - 9];
  const segmentCount = view.getUint32(BODY - 8, true);
  const seed = view.getUint32(BODY - 4, true);
  if (f < 1 || f > FUSE_MAX_FINGERPRINT_BITS) {
    throw new SetEncodingError('bad_parameters', `fuse fingerprintBits ${f} is outside [1, ${FUSE_MAX_FINGERPRINT_BITS}]`);
  }
  if (log2L > FUSE_MAX_SEGMENT_LENGTH_LOG2) throw new SetEncodingError('bad_parameters', `fuse segment length 2^${log2L} is over 2^16`);
  let arrayLength = 0;
  if (count === 0) {
    if (segmentCount !== 0 || log2L !== 0) throw new SetEncodingError('bad_parameters', 'an empty fuse filter has no segments');
  } else {
    if (segmentCount === 0) throw new SetEncodingError('bad_parameters', 'a non-empty fuse filter needs a segment');
    arrayLength = (segmentCount + FUSE_ARITY - 1) * 2 ** log2L;
    // Peeling gives every key its own cell, so fewer cells than keys cannot be a filter of them.
    if (arrayLength < count) throw new SetEncodingError('bad_parameters', `fuse array of ${arrayLength} cells cannot hold ${count} keys`);
  }
  const bodyBits = arrayLength * f;
  if (bodyBits > MAX_BODY_BITS) throw new SetEncodingError('too_large', `fuse array of ${bodyBits} bits exceeds the format limit`);
  checkTotalLength(bytes, BODY + Math.ceil(bodyBits / 8), limits);
  const buf = copyPadded(bytes, READ_PADDING);
  if (!zeroBits(buf.subarray(BODY), bodyBits, Math.ceil(bodyBits / 8) * 8)) throw new SetEncodingError('corrupt', 'fuse padding bits are not zero');
  return new FuseEncoding(Object.freeze({ kind: 'fuse', fingerprintBits: f, seed }), count, log2L, segmentCount, buf);
}
