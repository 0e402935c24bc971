/**
 * `raw`: the distinct tags truncated to `tagBytes` bytes, in strictly increasing
 * lexicographic order; lookup is a binary search. Exact except for truncation collisions
 * (a non-member matches with probability <= count * 2^(-8 tagBytes)).
 *
 * Layout after the 10-byte container header: tagBytes (u8), then count x tagBytes bytes.
 */
import { SetEncodingError } from '../errors.js';
import { checkParams, PARAM_BYTES, RAW_MAX_TAG_BYTES, RAW_MIN_TAG_BYTES } from './params.js';
import { allocateEncoding, checkTotalLength, need, type Header, type ResolvedLimits } from './serialize.js';
import { checkTag, KEY_BYTES, packPrefixes } from './tags.js';
import type { RawParams, SetEncoding, TagInput } from './types.js';

const BODY = PARAM_BYTES.raw;

/** Sign of the comparison of entries a and b (each w bytes) from byte `from` on. */
function compareFrom(buf: Uint8Array, a: number, b: number, w: number, from: number): number {
  for (let i = from; i < w; i++) {
    const d = buf[a + i] - buf[b + i];
    if (d !== 0) return d;
  }
  return 0;
}

export class RawEncoding implements SetEncoding {
  readonly kind = 'raw' as const;
  readonly byteLength: number;

  /** `buf` holds exactly the serialized encoding. */
  constructor(
    readonly params: RawParams,
    readonly count: number,
    private readonly buf: Uint8Array,
  ) {
    this.byteLength = buf.length;
  }

  contains(tag: Uint8Array): boolean {
    const w = this.params.tagBytes;
    checkTag(tag, Math.max(w, KEY_BYTES));
    const buf = this.buf;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const off = BODY + mid * w;
      let d = 0;
      for (let i = 0; i < w && d === 0; i++) d = buf[off + i] - tag[i];
      if (d === 0) return true;
      if (d < 0) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  serialize(): Uint8Array {
    return this.buf.slice();
  }
}

export function buildRaw(params: RawParams, input: TagInput): RawEncoding {
  checkParams(params);
  const w = params.tagBytes;
  const { packed, n } = packPrefixes(input, w);
  // Counting sort on the first two bytes, then a comparison sort inside each bucket: tags
  // are uniform, so buckets hold n / 65536 entries on average.
  const starts = new Uint32Array(65537);
  for (let i = 0; i < n; i++) starts[((packed[i * w] << 8) | packed[i * w + 1]) + 1]++;
  for (let b = 0; b < 65536; b++) starts[b + 1] += starts[b];
  const order = new Uint32Array(n);
  const fill = starts.slice(0, 65536);
  for (let i = 0; i < n; i++) order[fill[(packed[i * w] << 8) | packed[i * w + 1]]++] = i;
  const byRest = (a: number, b: number): number => compareFrom(packed, a * w, b * w, w, 2);
  for (let b = 0; b < 65536; b++) {
    if (starts[b + 1] - starts[b] > 1) order.subarray(starts[b], starts[b + 1]).sort(byRest);
  }
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (j === 0 || compareFrom(packed, order[j - 1] * w, order[j] * w, w, 0) !== 0) count++;
  }
  const { buf } = allocateEncoding('raw', count, BODY + count * w, 0);
  buf[BODY - 1] = w;
  let out = BODY;
  for (let j = 0; j < n; j++) {
    if (j > 0 && compareFrom(packed, order[j - 1] * w, order[j] * w, w, 0) === 0) continue; // duplicate after truncation
    buf.set(packed.subarray(order[j] * w, order[j] * w + w), out);
    out += w;
  }
  return new RawEncoding(Object.freeze({ kind: 'raw', tagBytes: w }), count, buf);
}

export function parseRaw(bytes: Uint8Array, header: Header, limits: ResolvedLimits): RawEncoding {
  need(bytes, BODY, 'raw parameters');
  const w = bytes[BODY - 1];
  if (w < RAW_MIN_TAG_BYTES || w > RAW_MAX_TAG_BYTES) {
    throw new SetEncodingError('bad_parameters', `raw tagBytes ${w} is outside [${RAW_MIN_TAG_BYTES}, ${RAW_MAX_TAG_BYTES}]`);
  }
  const { count } = header;
  checkTotalLength(bytes, BODY + count * w, limits);
  // Binary search needs strictly increasing tags; a duplicate would also make count lie.
  for (let j = 1; j < count; j++) {
    if (compareFrom(bytes, BODY + (j - 1) * w, BODY + j * w, w, 0) >= 0) {
      throw new SetEncodingError('not_sorted', `raw tag ${j} is not greater than tag ${j - 1}`);
    }
  }
  return new RawEncoding(Object.freeze({ kind: 'raw', tagBytes: w }), count, bytes.slice());
}
