/**
 * `bloom`: a Bloom filter of m = ceil(count * bitsPerEntry) bits (rounded up to whole
 * bytes). Tags are already uniform, so the probes come from the tag itself: a and b are
 * tag bytes 0..5 and 8..13 reduced to [0, m), and probe i is a + i b + (i^3 - i) / 6 mod m
 * (enhanced double hashing, Dillinger & Manolios 2004, which avoids the repeated probes
 * plain double hashing makes when b = 0; Kirsch & Mitzenmacher 2006 show double hashing
 * keeps the asymptotic false-positive rate).
 *
 * Layout after the container header: hashCount u8, bitsPerEntry f64, then m / 8 bytes;
 * bit x of the filter is bit (x & 7) of byte (x >>> 3).
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS } from './bits.js';
import { BLOOM_MAX_BITS_PER_ENTRY, BLOOM_MAX_HASHES, bloomFilterBits, checkParams, PARAM_BYTES } from './params.js';
import { allocateEncoding, checkTotalLength, need, type Header, type ResolvedLimits } from './serialize.js';
import { checkTag, distinctKeys, KEY_BYTES, scale48, u32le } from './tags.js';
import type { BloomParams, SetEncoding, TagInput } from './types.js';

const BODY = PARAM_BYTES.bloom;

export class BloomEncoding implements SetEncoding {
  readonly kind = 'bloom' as const;
  readonly byteLength: number;
  private readonly filter: Uint8Array;
  private readonly m: number;

  /** `buf` holds exactly the serialized encoding. */
  constructor(
    readonly params: BloomParams,
    readonly count: number,
    private readonly buf: Uint8Array,
  ) {
    this.byteLength = buf.length;
    this.filter = buf.subarray(BODY);
    this.m = this.filter.length * 8;
  }

  contains(tag: Uint8Array): boolean {
    checkTag(tag, KEY_BYTES);
    if (this.count === 0) return false;
    const { m, filter } = this;
    let x = scale48(u32le(tag, 0), tag[4] | (tag[5] << 8), m);
    let y = scale48(u32le(tag, 8), tag[12] | (tag[13] << 8), m);
    const k = this.params.hashCount;
    for (let i = 1; ; i++) {
      if ((filter[x >>> 3] & (1 << (x & 7))) === 0) return false;
      if (i === k) return true;
      x += y;
      if (x >= m) x -= m;
      y = (y + i) % m;
    }
  }

  serialize(): Uint8Array {
    return this.buf.slice();
  }
}

export function buildBloom(params: BloomParams, input: TagInput): BloomEncoding {
  checkParams(params);
  const keys = distinctKeys(input);
  const n = keys.length / 4;
  const m = bloomFilterBits(n, params.bitsPerEntry);
  if (m > MAX_BODY_BITS) throw new SetEncodingError('too_large', `bloom filter of ${m} bits exceeds the format limit`);
  const { buf, view } = allocateEncoding('bloom', n, BODY + m / 8, 0);
  buf[BODY - 9] = params.hashCount;
  view.setFloat64(BODY - 8, params.bitsPerEntry, true);
  const filter = buf.subarray(BODY);
  const k = params.hashCount;
  for (let e = 0; e < n; e++) {
    let x = scale48(keys[4 * e], keys[4 * e + 1] & 0xffff, m);
    let y = scale48(keys[4 * e + 2], keys[4 * e + 3] & 0xffff, m);
    for (let i = 1; ; i++) {
      filter[x >>> 3] |= 1 << (x & 7);
      if (i === k) break;
      x += y;
      if (x >= m) x -= m;
      y = (y + i) % m;
    }
  }
  return new BloomEncoding(Object.freeze({ kind: 'bloom', bitsPerEntry: params.bitsPerEntry, hashCount: k }), n, buf);
}

export function parseBloom(bytes: Uint8Array, header: Header, limits: ResolvedLimits): BloomEncoding {
  need(bytes, BODY, 'bloom parameters');
  const { count, view } = header;
  const hashCount = bytes[BODY - 9];
  const bitsPerEntry = view.getFloat64(BODY - 8, true);
  if (hashCount < 1 || hashCount > BLOOM_MAX_HASHES) {
    throw new SetEncodingError('bad_parameters', `bloom hashCount ${hashCount} is outside [1, ${BLOOM_MAX_HASHES}]`);
  }
  if (!(bitsPerEntry > 0 && bitsPerEntry <= BLOOM_MAX_BITS_PER_ENTRY)) {
    throw new SetEncodingError('bad_parameters', `bloom bitsPerEntry ${bitsPerEntry} is outside (0, ${BLOOM_MAX_BITS_PER_ENTRY}]`);
  }
  const m = bloomFilterBits(count, bitsPerEntry);
  if (m > MAX_BODY_BITS) throw new SetEncodingError('too_large', `bloom filter of ${m} bits exceeds the format limit`);
  checkTotalLength(bytes, BODY + m / 8, limits);
  return new BloomEncoding(Object.freeze({ kind: 'bloom', bitsPerEntry, hashCount }), count, bytes.slice());
}
