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
import { MAX_BODY_BITS, READ_PADDING, readBits, writeBits, zeroBits } from './bits.js';
import { checkParams, FUSE_ARITY, FUSE_MAX_FINGERPRINT_BITS, FUSE_MAX_SEGMENT_LENGTH_LOG2, fuseLayout, PARAM_BYTES } from './params.js';
import { allocateEncoding, checkTotalLength, copyPadded, need, type Header, type ResolvedLimits } from './serialize.js';
import { checkTag, distinctKeys, fmix32, KEY_BYTES, mulHi32, u32le } from './tags.js';
import type { FuseParams, SetEncoding, TagInput } from './types.js';

const BODY = PARAM_BYTES.fuse;
/** Reference implementations stop at 100 seeds: each succeeds with probability well above 1/2. */
export const FUSE_MAX_ATTEMPTS = 100;
/** Seeds are tried in the order seed, seed + phi, seed + 2 phi, ... (phi = 2^32 / golden ratio). */
const SEED_STEP = 0x9e3779b9;

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

/**
 * Peels the 4-uniform hypergraph (keys = edges, cells = vertices): repeatedly take a cell
 * that one remaining key touches, and assign cells in reverse peeling order. Returns the
 * cell values, or undefined when the graph has a non-empty 2-core for this seed.
 */
function peel(keys: Uint32Array, n: number, seed: number, segmentCount: number, log2L: number, f: number): Uint32Array | undefined {
  const A = (segmentCount + FUSE_ARITY - 1) * 2 ** log2L;
  const pos = new Uint32Array(4 * n);
  const fps = new Uint32Array(n);
  const degree = new Uint32Array(A);
  const xorKey = new Uint32Array(A); // XOR of the ids of the keys touching a cell: the id once degree is 1
  const h: Probe = { p0: 0, p1: 0, p2: 0, p3: 0, fp: 0 };
  for (let k = 0; k < n; k++) {
    probe(keys[4 * k], keys[4 * k + 1], keys[4 * k + 2], keys[4 * k + 3], seed, segmentCount, log2L, f, h);
    pos[4 * k] = h.p0;
    pos[4 * k + 1] = h.p1;
    pos[4 * k + 2] = h.p2;
    pos[4 * k + 3] = h.p3;
    fps[k] = h.fp;
    degree[h.p0]++;
    degree[h.p1]++;
    degree[h.p2]++;
    degree[h.p3]++;
    xorKey[h.p0] ^= k;
    xorKey[h.p1] ^= k;
    xorKey[h.p2] ^= k;
    xorKey[h.p3] ^= k;
  }
  // A cell enters the queue when its degree reaches 1, which happens at most once.
  const queue = new Uint32Array(A);
  let qlen = 0;
  for (let c = 0; c < A; c++) if (degree[c] === 1) queue[qlen++] = c;
  const stackKey = new Uint32Array(n);
  const stackCell = new Uint32Array(n);
  let sp = 0;
  while (qlen > 0) {
    const c = queue[--qlen];
    if (degree[c] !== 1) continue;
    const k = xorKey[c];
    stackKey[sp] = k;
    stackCell[sp++] = c;
    for (let j = 0; j < 4; j++) {
      const p = pos[4 * k + j];
      degree[p]--;
      xorKey[p] ^= k;
      if (degree[p] === 1) queue[qlen++] = p;
    }
  }
  if (sp !== n) return undefined;
  // Reverse order: when key k is assigned its cell, the cell is still 0 and the key's other
  // cells are final, so XOR-ing all four gives the fingerprint.
  const cells = new Uint32Array(A);
  for (let i = n - 1; i >= 0; i--) {
    const k = stackKey[i];
    const o = 4 * k;
    cells[stackCell[i]] = (fps[k] ^ cells[pos[o]] ^ cells[pos[o + 1]] ^ cells[pos[o + 2]] ^ cells[pos[o + 3]]) >>> 0;
  }
  return cells;
}

export function buildFuse(params: FuseParams, input: TagInput): FuseEncoding {
  checkParams(params);
  const f = params.fingerprintBits;
  const keys = distinctKeys(input); // a repeated key would make the hypergraph unpeelable for every seed
  const n = keys.length / 4;
  const { segmentLengthLog2, segmentCount, arrayLength } = fuseLayout(n);
  if (arrayLength * f > MAX_BODY_BITS) throw new SetEncodingError('too_large', `fuse array of ${arrayLength * f} bits exceeds the format limit`);
  let seed = (params.seed ?? 0) >>> 0;
  let cells: Uint32Array | undefined = n === 0 ? new Uint32Array(0) : undefined;
  for (let attempt = 1; cells === undefined; attempt++) {
    cells = peel(keys, n, seed, segmentCount, segmentLengthLog2, f);
    if (cells !== undefined) break;
    if (attempt >= FUSE_MAX_ATTEMPTS) throw new SetEncodingError('build_failed', `fuse construction failed for ${FUSE_MAX_ATTEMPTS} seeds`);
    seed = (seed + SEED_STEP) >>> 0;
  }
  const { buf, view } = allocateEncoding('fuse', n, BODY + Math.ceil((arrayLength * f) / 8), READ_PADDING);
  buf[BODY - 10] = f;
  buf[BODY - 9] = segmentLengthLog2;
  view.setUint32(BODY - 8, segmentCount, true);
  view.setUint32(BODY - 4, seed, true);
  const body = buf.subarray(BODY);
  for (let i = 0; i < arrayLength; i++) if (cells[i] !== 0) writeBits(body, i * f, cells[i], f);
  return new FuseEncoding(Object.freeze({ kind: 'fuse', fingerprintBits: f, seed }), n, segmentLengthLog2, segmentCount, buf);
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
