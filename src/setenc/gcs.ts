/**
 * `gcs`: a Golomb-compressed set (Putze, Sanders & Singler 2007; the BIP 158 construction).
 * Each distinct tag maps to a value v = q * M + rem in [0, N * M), N = count, M = 2^r:
 * q = floor(u48 * N / 2^48) from tag bytes 0..5 and rem = the low r bits of tag bytes
 * 8..14. A non-member hits one of the <= N stored values with probability <= 1/M.
 *
 * The sorted values are split into blocks of `blockSize`. A block's first value sits in
 * the index; the others are Rice-coded gaps (quotient in unary as zeros ended by a one,
 * then r remainder bits, LSB first), so a lookup binary-searches the index and decodes at
 * most one block.
 *
 * Layout after the container header: riceBits u8, log2(blockSize) u8, streamBytes u32,
 * then ceil(count / blockSize) index entries (bitOffset u32, q u32, rem u64), then the
 * stream. Values are pairs (q, rem) compared lexicographically, which is v's order, so no
 * arithmetic exceeds 2^53.
 */
import { SetEncodingError } from '../errors.js';
import { ctz32, MAX_BODY_BITS, READ_PADDING, readBits, readBitsWide, zeroBits } from './bits.js';
import { constructGcs } from './gcs-build.js';
import { GCS_INDEX_ENTRY_BYTES, GCS_MAX_BLOCK_SIZE, GCS_MAX_RICE_BITS, GCS_MIN_BLOCK_SIZE, PARAM_BYTES } from './params.js';
import { checkTotalLength, copyPadded, need, type Header, type ResolvedLimits } from './serialize.js';
import { checkTag, KEY_BYTES, scale48, u32le } from './tags.js';
import type { GcsParams, SetEncoding, TagInput } from './types.js';

const INDEX = PARAM_BYTES.gcs;
const TWO32 = 0x1_0000_0000;

function corrupt(message: string): SetEncodingError {
  return new SetEncodingError('corrupt', message);
}

/** The remainder: low r bits of the 52-bit little-endian word at tag bytes 8..14. */
function remainderOf(w2: number, w3: number, r: number): number {
  if (r < 32) return (w2 & ((1 << r) - 1)) >>> 0;
  if (r === 32) return w2;
  return w2 + (w3 & ((1 << (r - 32)) - 1)) * TWO32;
}

/**
 * Decodes up to `entries` Rice codes from bit `pos`, starting after the value (cq, cr), and
 * tells whether (q, rem) is among them. Only contains() calls it, with everything inlined,
 * so its optimized code does not depend on the other users of the bit helpers.
 */
function scanBlock(stream: Uint8Array, pos: number, entries: number, r: number, cq: number, cr: number, q: number, rem: number): boolean {
  const M = 2 ** r;
  const lowBits = Math.min(r, 24);
  const lowMask = (1 << lowBits) - 1;
  const highScale = 2 ** lowBits;
  for (let e = 0; e < entries; e++) {
    // Unary quotient: a 24-bit window shifted by <= 7 still shows 17 bits, so skipping 16
    // zero bits at a time is safe; most quotients are 0 or 1 and need one window.
    let i = pos >>> 3;
    let w = (stream[i] | (stream[i + 1] << 8) | (stream[i + 2] << 16)) >>> (pos & 7);
    while (w === 0) {
      cq += 16;
      pos += 16;
      i = pos >>> 3;
      w = (stream[i] | (stream[i + 1] << 8) | (stream[i + 2] << 16)) >>> (pos & 7);
    }
    const t = 31 - Math.clz32(w & -w);
    cq += t;
    pos += t + 1;
    // Remainder: the low 24 bits from one 32-bit window (small integers only), the rest after.
    i = pos >>> 3;
    let x = ((stream[i] | (stream[i + 1] << 8) | (stream[i + 2] << 16) | (stream[i + 3] << 24)) >>> (pos & 7)) & lowMask;
    if (r > 24) x += readBitsWide(stream, pos + 24, r - 24) * highScale;
    pos += r;
    cr += x;
    if (cr >= M) {
      cr -= M;
      cq++;
    }
    if (cq > q || (cq === q && cr >= rem)) return cq === q && cr === rem;
  }
  return false;
}

export class GcsEncoding implements SetEncoding {
  readonly kind = 'gcs' as const;
  readonly byteLength: number;
  private readonly stream: Uint8Array;
  private readonly idxOffset: Uint32Array;
  private readonly idxQ: Uint32Array;
  private readonly idxRem: Float64Array;

  /** `buf` holds the serialized encoding followed by READ_PADDING zero bytes; it was built or validated. */
  constructor(
    readonly params: GcsParams,
    readonly count: number,
    private readonly buf: Uint8Array,
  ) {
    const blocks = Math.ceil(count / params.blockSize);
    this.byteLength = buf.length - READ_PADDING;
    this.stream = buf.subarray(INDEX + GCS_INDEX_ENTRY_BYTES * blocks);
    this.idxOffset = new Uint32Array(blocks);
    this.idxQ = new Uint32Array(blocks);
    this.idxRem = new Float64Array(blocks);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let j = 0; j < blocks; j++) {
      const e = INDEX + GCS_INDEX_ENTRY_BYTES * j;
      this.idxOffset[j] = view.getUint32(e, true);
      this.idxQ[j] = view.getUint32(e + 4, true);
      this.idxRem[j] = view.getUint32(e + 8, true) + view.getUint32(e + 12, true) * TWO32;
    }
  }

  contains(tag: Uint8Array): boolean {
    checkTag(tag, KEY_BYTES);
    const n = this.count;
    if (n === 0) return false;
    const r = this.params.riceBits;
    const q = scale48(u32le(tag, 0), tag[4] | (tag[5] << 8), n);
    const rem = remainderOf(u32le(tag, 8), u32le(tag, 12), r);
    // Last block whose first value is <= (q, rem).
    const { idxQ, idxRem } = this;
    let lo = 0;
    let hi = idxQ.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (idxQ[mid] < q || (idxQ[mid] === q && idxRem[mid] <= rem)) lo = mid + 1;
      else hi = mid;
    }
    const j = lo - 1;
    if (j < 0) return false;
    let cq = idxQ[j];
    let cr = idxRem[j];
    if (cq === q && cr === rem) return true;
    const entries = Math.min(this.params.blockSize, n - j * this.params.blockSize) - 1;
    return scanBlock(this.stream, this.idxOffset[j], entries, r, cq, cr, q, rem);
  }

  serialize(): Uint8Array {
    return this.buf.slice(0, this.byteLength);
  }
}

/** Builds the encoding of the input's distinct tags (gcs-build.ts: the bytes of gcs-reference.ts). */
export function buildGcs(params: GcsParams, input: TagInput): GcsEncoding {
  const { buf, count } = constructGcs(params, input);
  return new GcsEncoding(Object.freeze({ kind: 'gcs', riceBits: params.riceBits, blockSize: params.blockSize }), count, buf);
}

export function parseGcs(bytes: Uint8Array, header: Header, limits: ResolvedLimits): GcsEncoding {
  need(bytes, INDEX, 'gcs parameters');
  const { count, view } = header;
  const r = bytes[INDEX - 6];
  const log2B = bytes[INDEX - 5];
  const streamBytes = view.getUint32(INDEX - 4, true);
  if (r < 1 || r > GCS_MAX_RICE_BITS) throw new SetEncodingError('bad_parameters', `gcs riceBits ${r} is outside [1, ${GCS_MAX_RICE_BITS}]`);
  if (log2B < Math.log2(GCS_MIN_BLOCK_SIZE) || log2B > Math.log2(GCS_MAX_BLOCK_SIZE)) {
    throw new SetEncodingError('bad_parameters', `gcs block size 2^${log2B} is outside [${GCS_MIN_BLOCK_SIZE}, ${GCS_MAX_BLOCK_SIZE}]`);
  }
  const B = 2 ** log2B;
  const blocks = Math.ceil(count / B);
  const streamStart = INDEX + GCS_INDEX_ENTRY_BYTES * blocks;
  checkTotalLength(bytes, streamStart + streamBytes, limits);
  const streamBits = streamBytes * 8;
  if (streamBits > MAX_BODY_BITS) throw new SetEncodingError('too_large', 'gcs stream exceeds the format limit');

  // The length is now exact and within limits: work on a padded private copy.
  const buf = copyPadded(bytes, READ_PADDING);
  const bv = new DataView(buf.buffer);
  const stream = buf.subarray(streamStart);
  const M = 2 ** r;
  const remHiLimit = r > 32 ? 2 ** (r - 32) : 1;
  const firstAt = (j: number): [number, number, number] => {
    const e = INDEX + GCS_INDEX_ENTRY_BYTES * j;
    const off = bv.getUint32(e, true);
    const q = bv.getUint32(e + 4, true);
    const lo = bv.getUint32(e + 8, true);
    const hi = bv.getUint32(e + 12, true);
    if (q >= count || hi >= remHiLimit || (r < 32 && lo >= M)) throw corrupt(`gcs index entry ${j} holds a value outside [0, N*M)`);
    if (off > streamBits || (j === 0 && off !== 0)) throw corrupt(`gcs index entry ${j} has a bit offset out of range`);
    return [off, q, lo + hi * TWO32];
  };
  // Decode every block once: each must end exactly where the next begins, stay in
  // [0, N*M) and below the next block's first value. Lookups then never leave the stream.
  let [pos, cq, cr] = blocks > 0 ? firstAt(0) : [0, 0, 0];
  for (let j = 0; j < blocks; j++) {
    const next = j + 1 < blocks ? firstAt(j + 1) : undefined;
    const end = next ? next[0] : streamBits;
    if (end < pos) throw corrupt(`gcs index offsets decrease at block ${j + 1}`);
    const entries = Math.min(B, count - j * B) - 1;
    for (let e = 0; e < entries; e++) {
      for (;;) {
        if (pos >= end) throw corrupt(`gcs block ${j} runs past its end`);
        const width = Math.min(32, end - pos);
        const w = readBits(stream, pos, width);
        if (w !== 0) {
          const t = ctz32(w);
          cq += t;
          pos += t + 1;
          break;
        }
        cq += width;
        pos += width;
      }
      if (pos + r > end) throw corrupt(`gcs block ${j} runs past its end`);
      cr += readBitsWide(stream, pos, r);
      pos += r;
      if (cr >= M) {
        cr -= M;
        cq++;
      }
      if (cq >= count) throw corrupt(`gcs block ${j} decodes a value outside [0, N*M)`);
    }
    if (next) {
      if (pos !== end) throw corrupt(`gcs block ${j} ends at bit ${pos}, the index says ${end}`);
      if (cq > next[1] || (cq === next[1] && cr > next[2])) throw new SetEncodingError('not_sorted', `gcs block ${j + 1} starts below block ${j}`);
      [pos, cq, cr] = next;
    }
  }
  // Canonical end: the last code ends in the last byte and the padding bits are zero.
  if (streamBits - pos >= 8) throw corrupt('gcs stream has bytes after its last code');
  if (!zeroBits(stream, pos, streamBits)) throw corrupt('gcs stream padding is not zero');
  return new GcsEncoding(Object.freeze({ kind: 'gcs', riceBits: r, blockSize: B }), count, buf);
}
