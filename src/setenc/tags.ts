/**
 * Tag input handling shared by the encodings: checking and packing the caller's tags,
 * removing duplicates, and the exact integer arithmetic that turns tag bits into
 * positions. Tags are OPRF outputs (RFC 9497 §3.3.1 Finalize: a hash), so their bytes are
 * already uniform: no further hashing is needed, only reduction to a range.
 */
import { SetEncodingError } from '../errors.js';
import type { TagInput } from './types.js';

/** Bytes of a tag that GCS, Bloom and fuse look at: four little-endian u32 words. */
export const KEY_BYTES = 16;

function badTag(message: string): SetEncodingError {
  return new SetEncodingError('bad_tag', message);
}

/** Throws `bad_tag` unless `tag` is a byte string of at least `minLength` bytes. */
export function checkTag(tag: Uint8Array, minLength: number): void {
  if (!(tag instanceof Uint8Array)) throw badTag('tag is not a Uint8Array');
  if (tag.length < minLength) throw badTag(`tag has ${tag.length} bytes, at least ${minLength} needed`);
}

/** The first `width` bytes of every tag, packed (n x width bytes). Throws `bad_tag`. */
export function packPrefixes(input: TagInput, width: number): { packed: Uint8Array; n: number } {
  if (Array.isArray(input)) {
    const tags = input as readonly Uint8Array[];
    const packed = new Uint8Array(tags.length * width);
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i];
      checkTag(tag, Math.max(width, KEY_BYTES));
      packed.set(tag.subarray(0, width), i * width);
    }
    return { packed, n: tags.length };
  }
  const { packed, tagLength } = input as { packed: Uint8Array; tagLength: number };
  if (!(packed instanceof Uint8Array)) throw badTag('packed tags are not a Uint8Array');
  if (!Number.isSafeInteger(tagLength) || tagLength < Math.max(width, KEY_BYTES)) {
    throw badTag(`packed tag length must be an integer >= ${Math.max(width, KEY_BYTES)}`);
  }
  if (packed.length % tagLength !== 0) throw badTag(`packed length is not a multiple of ${tagLength}`);
  const n = packed.length / tagLength;
  if (tagLength === width) return { packed, n };
  const out = new Uint8Array(n * width);
  for (let i = 0; i < n; i++) out.set(packed.subarray(i * tagLength, i * tagLength + width), i * width);
  return { packed: out, n };
}

/** Little-endian u32 at byte `off`. */
export function u32le(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/** murmur3 fmix32: a bijective avalanche mix of one 32-bit word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * An open-addressing table of distinct 16-byte keys (4 u32 words each) in first-seen order:
 * `out[0 .. 4m)` holds them, `slots` their indexes (-1: free), at most n keys.
 */
export interface KeyTable {
  readonly slots: Int32Array;
  readonly out: Uint32Array;
  readonly mask: number;
  m: number;
}

export function keyTable(n: number): KeyTable {
  let size = 16;
  while (size < 2 * n) size *= 2;
  return { slots: new Int32Array(size).fill(-1), out: new Uint32Array(n * 4), mask: size - 1, m: 0 };
}

/** Adds the key (w0..w3) unless it is there (linear probing from its fmix32 hash). */
export function addKey(table: KeyTable, w0: number, w1: number, w2: number, w3: number): void {
  const { slots, out, mask } = table;
  let h = fmix32(w0 ^ fmix32(w1 ^ fmix32(w2 ^ fmix32(w3)))) & mask;
  for (;;) {
    const s = slots[h];
    if (s < 0) {
      const m = table.m++;
      slots[h] = m;
      out[4 * m] = w0;
      out[4 * m + 1] = w1;
      out[4 * m + 2] = w2;
      out[4 * m + 3] = w3;
      return;
    }
    if (out[4 * s] === w0 && out[4 * s + 1] === w1 && out[4 * s + 2] === w2 && out[4 * s + 3] === w3) return;
    h = (h + 1) & mask;
  }
}

/**
 * The distinct 16-byte keys of the input, as 4 little-endian u32 words each, in first-seen
 * order. Open addressing over typed arrays: O(n) and no per-key objects.
 */
export function distinctKeys(input: TagInput): Uint32Array {
  const { packed, n } = packPrefixes(input, KEY_BYTES);
  const table = keyTable(n);
  for (let i = 0; i < n; i++) {
    const o = i * KEY_BYTES;
    const w0 = u32le(packed, o);
    const w1 = u32le(packed, o + 4);
    const w2 = u32le(packed, o + 8);
    const w3 = u32le(packed, o + 12);
    addKey(table, w0, w1, w2, w3);
  }
  return table.m === n ? table.out : table.out.slice(0, 4 * table.m);
}

/**
 * floor(u * m / 2^48) for the 48-bit u = lo32 + (hi16 << 32) and an integer m < 2^37:
 * Lemire's multiply-shift range reduction, done exactly in three 16-bit limbs so every
 * product stays below 2^53. Uniform u gives a value in [0, m) with bias <= m / 2^48.
 */
export function scale48(lo32: number, hi16: number, m: number): number {
  const t0 = (lo32 & 0xffff) * m;
  const t1 = (lo32 >>> 16) * m + Math.floor(t0 / 0x10000);
  const t2 = (hi16 & 0xffff) * m + Math.floor(t1 / 0x10000);
  return Math.floor(t2 / 0x10000);
}

/** floor(x * m / 2^32) for u32 x and m, exactly (two 16-bit limbs). */
export function mulHi32(x: number, m: number): number {
  const t0 = (x & 0xffff) * m;
  const t1 = (x >>> 16) * m + Math.floor(t0 / 0x10000);
  return Math.floor(t1 / 0x10000);
}
