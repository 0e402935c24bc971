/**
 * Bit-level access to byte arrays, least-significant bit first: bit i of a stream is bit
 * (i & 7) of byte (i >>> 3). Bit positions are below 2^32 (every bit-addressed body is
 * capped at MAX_BODY_BITS), so `>>> 3` is exact.
 *
 * Readers look up to 4 bytes past the last bit they return: callers keep READ_PADDING
 * zero bytes after every body they read from, so no read leaves the array.
 */

/** Largest bit-addressed body (GCS stream, Bloom filter, fuse array): positions fit a u32. */
export const MAX_BODY_BITS = 2 ** 32 - 8;
/** Zero bytes kept after a body so that readBits never reads past the end of its array. */
export const READ_PADDING = 8;

/** Bits [pos, pos + width) as an unsigned integer, width 1..32. */
export function readBits(buf: Uint8Array, pos: number, width: number): number {
  const i = pos >>> 3;
  const s = pos & 7;
  let v = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) >>> s;
  if (s !== 0) v |= buf[i + 4] << (32 - s);
  return width === 32 ? v >>> 0 : v & ((1 << width) - 1);
}

/** Bits [pos, pos + width) as an unsigned integer, width 1..52 (exact as a double). */
export function readBitsWide(buf: Uint8Array, pos: number, width: number): number {
  if (width <= 32) return readBits(buf, pos, width);
  return readBits(buf, pos, 32) + readBits(buf, pos + 32, width - 32) * 0x1_0000_0000;
}

/** ORs `value` (width 1..32 bits, already below 2^width) into a zeroed region at pos. */
export function writeBits(buf: Uint8Array, pos: number, value: number, width: number): void {
  const v = width === 32 ? value >>> 0 : (value & ((1 << width) - 1)) >>> 0;
  const i = pos >>> 3;
  const s = pos & 7;
  const lo = v << s;
  buf[i] |= lo & 0xff;
  buf[i + 1] |= (lo >>> 8) & 0xff;
  buf[i + 2] |= (lo >>> 16) & 0xff;
  buf[i + 3] |= lo >>> 24;
  if (s !== 0 && width + s > 32) buf[i + 4] |= v >>> (32 - s);
}

/** ORs `value` (width 1..52 bits, below 2^width) into a zeroed region at pos. */
export function writeBitsWide(buf: Uint8Array, pos: number, value: number, width: number): void {
  if (width <= 32) {
    writeBits(buf, pos, value, width);
    return;
  }
  const hi = Math.floor(value / 0x1_0000_0000);
  writeBits(buf, pos, value - hi * 0x1_0000_0000, 32);
  writeBits(buf, pos + 32, hi, width - 32);
}

/** Number of trailing zero bits of a nonzero 32-bit word. */
export function ctz32(w: number): number {
  return 31 - Math.clz32(w & -w);
}

/** True when bits [from, to) are all zero (the padding of a canonical body). */
export function zeroBits(buf: Uint8Array, from: number, to: number): boolean {
  for (let pos = from; pos < to; ) {
    const width = Math.min(32, to - pos);
    if (readBits(buf, pos, width) !== 0) return false;
    pos += width;
  }
  return true;
}
