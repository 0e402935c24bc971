/**
 * GF(2^255 - 19), ported from ref10/libsodium fe25519 (radix 2^25.5, 10 signed 32-bit
 * limbs). A field element lives in linear memory: FE bytes at a pointer, limb i at
 * offset 4i. Functions take pointers (output first, ref10 order) and allocate nothing;
 * the few temporaries are static.
 *
 * Additions and subtractions do not carry (as in ref10): their results are valid inputs to
 * feMul/feSq as long as at most three carried values are combined, which is how the point
 * formulas (point.ts) use them.
 */
import { feMul, feSq } from './field-mul';

export { feMul, feSq, feSq2 } from './field-mul';

/** Size of a field element in bytes (10 x i32). */
export const FE: usize = 40;

@inline
export function feCopy(h: usize, f: usize): void {
  memory.copy(h, f, FE);
}

@inline
export function feZero(h: usize): void {
  memory.fill(h, 0, FE);
}

@inline
export function feOne(h: usize): void {
  memory.fill(h, 0, FE);
  store<i32>(h, 1);
}

/** h = f + g (no carry) */
@inline
export function feAdd(h: usize, f: usize, g: usize): void {
  store<i32>(h, load<i32>(f, 0) + load<i32>(g, 0), 0);
  store<i32>(h, load<i32>(f, 4) + load<i32>(g, 4), 4);
  store<i32>(h, load<i32>(f, 8) + load<i32>(g, 8), 8);
  store<i32>(h, load<i32>(f, 12) + load<i32>(g, 12), 12);
  store<i32>(h, load<i32>(f, 16) + load<i32>(g, 16), 16);
  store<i32>(h, load<i32>(f, 20) + load<i32>(g, 20), 20);
  store<i32>(h, load<i32>(f, 24) + load<i32>(g, 24), 24);
  store<i32>(h, load<i32>(f, 28) + load<i32>(g, 28), 28);
  store<i32>(h, load<i32>(f, 32) + load<i32>(g, 32), 32);
  store<i32>(h, load<i32>(f, 36) + load<i32>(g, 36), 36);
}

/** h = f - g (no carry) */
@inline
export function feSub(h: usize, f: usize, g: usize): void {
  store<i32>(h, load<i32>(f, 0) - load<i32>(g, 0), 0);
  store<i32>(h, load<i32>(f, 4) - load<i32>(g, 4), 4);
  store<i32>(h, load<i32>(f, 8) - load<i32>(g, 8), 8);
  store<i32>(h, load<i32>(f, 12) - load<i32>(g, 12), 12);
  store<i32>(h, load<i32>(f, 16) - load<i32>(g, 16), 16);
  store<i32>(h, load<i32>(f, 20) - load<i32>(g, 20), 20);
  store<i32>(h, load<i32>(f, 24) - load<i32>(g, 24), 24);
  store<i32>(h, load<i32>(f, 28) - load<i32>(g, 28), 28);
  store<i32>(h, load<i32>(f, 32) - load<i32>(g, 32), 32);
  store<i32>(h, load<i32>(f, 36) - load<i32>(g, 36), 36);
}

/** h = -f */
@inline
export function feNeg(h: usize, f: usize): void {
  store<i32>(h, -load<i32>(f, 0), 0);
  store<i32>(h, -load<i32>(f, 4), 4);
  store<i32>(h, -load<i32>(f, 8), 8);
  store<i32>(h, -load<i32>(f, 12), 12);
  store<i32>(h, -load<i32>(f, 16), 16);
  store<i32>(h, -load<i32>(f, 20), 20);
  store<i32>(h, -load<i32>(f, 24), 24);
  store<i32>(h, -load<i32>(f, 28), 28);
  store<i32>(h, -load<i32>(f, 32), 32);
  store<i32>(h, -load<i32>(f, 36), 36);
}

/**
 * h = the 255 low bits of the 32 little-endian bytes at s (the top bit is ignored, as in
 * ref10: callers that need a canonical encoding check the bytes first). Each limb is a bit
 * field read with one unaligned 32-bit load.
 */
export function feFromBytes(h: usize, s: usize): void {
  store<i32>(h, <i32>(load<u32>(s, 0) & 0x3ffffff), 0); // bits 0..25
  store<i32>(h, <i32>((load<u32>(s, 3) >> 2) & 0x1ffffff), 4); // bits 26..50
  store<i32>(h, <i32>((load<u32>(s, 6) >> 3) & 0x3ffffff), 8); // bits 51..76
  store<i32>(h, <i32>((load<u32>(s, 9) >> 5) & 0x1ffffff), 12); // bits 77..101
  store<i32>(h, <i32>((load<u32>(s, 12) >> 6) & 0x3ffffff), 16); // bits 102..127
  store<i32>(h, <i32>(load<u32>(s, 16) & 0x1ffffff), 20); // bits 128..152
  store<i32>(h, <i32>((load<u32>(s, 19) >> 1) & 0x3ffffff), 24); // bits 153..178
  store<i32>(h, <i32>((load<u32>(s, 22) >> 3) & 0x1ffffff), 28); // bits 179..203
  store<i32>(h, <i32>((load<u32>(s, 25) >> 4) & 0x3ffffff), 32); // bits 204..229
  store<i32>(h, <i32>((load<u32>(s, 28) >> 6) & 0x1ffffff), 36); // bits 230..254
}

/**
 * s = the canonical 32-byte encoding of f (ref10 fe25519_tobytes). f is first carried, so
 * any sum of a few carried values is accepted; then q = floor(f / p) is found from the top
 * and f - q*p is carried once more, which leaves the unique representative in [0, p).
 */
export function feToBytes(s: usize, f: usize): void {
  let h0 = <i64>load<i32>(f, 0);
  let h1 = <i64>load<i32>(f, 4);
  let h2 = <i64>load<i32>(f, 8);
  let h3 = <i64>load<i32>(f, 12);
  let h4 = <i64>load<i32>(f, 16);
  let h5 = <i64>load<i32>(f, 20);
  let h6 = <i64>load<i32>(f, 24);
  let h7 = <i64>load<i32>(f, 28);
  let h8 = <i64>load<i32>(f, 32);
  let h9 = <i64>load<i32>(f, 36);
  let c: i64;
  // Carry into ref10's reduce precondition (|h_i| around 2^25 / 2^24).
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  c = (h1 + 16777216) >> 25; h2 += c; h1 -= c << 25;
  c = (h2 + 33554432) >> 26; h3 += c; h2 -= c << 26;
  c = (h3 + 16777216) >> 25; h4 += c; h3 -= c << 25;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h5 + 16777216) >> 25; h6 += c; h5 -= c << 25;
  c = (h6 + 33554432) >> 26; h7 += c; h6 -= c << 26;
  c = (h7 + 16777216) >> 25; h8 += c; h7 -= c << 25;
  c = (h8 + 33554432) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + 16777216) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;

  // ref10 fe25519_reduce: q is 0 or 1 (the value is now in (-2^255, 2^256)), found by
  // propagating the carry of h + 19 through every limb.
  let q = (19 * h9 + 16777216) >> 25;
  q = (h0 + q) >> 26;
  q = (h1 + q) >> 25;
  q = (h2 + q) >> 26;
  q = (h3 + q) >> 25;
  q = (h4 + q) >> 26;
  q = (h5 + q) >> 25;
  q = (h6 + q) >> 26;
  q = (h7 + q) >> 25;
  q = (h8 + q) >> 26;
  q = (h9 + q) >> 25;
  h0 += 19 * q; // h - q*p, then drop q*2^255 at the top
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  c = h9 >> 25; h9 -= c << 25;

  const t0 = <u32>h0, t1 = <u32>h1, t2 = <u32>h2, t3 = <u32>h3, t4 = <u32>h4;
  const t5 = <u32>h5, t6 = <u32>h6, t7 = <u32>h7, t8 = <u32>h8, t9 = <u32>h9;
  store<u8>(s, <u8>t0, 0);
  store<u8>(s, <u8>(t0 >> 8), 1);
  store<u8>(s, <u8>(t0 >> 16), 2);
  store<u8>(s, <u8>((t0 >> 24) | (t1 << 2)), 3);
  store<u8>(s, <u8>(t1 >> 6), 4);
  store<u8>(s, <u8>(t1 >> 14), 5);
  store<u8>(s, <u8>((t1 >> 22) | (t2 << 3)), 6);
  store<u8>(s, <u8>(t2 >> 5), 7);
  store<u8>(s, <u8>(t2 >> 13), 8);
  store<u8>(s, <u8>((t2 >> 21) | (t3 << 5)), 9);
  store<u8>(s, <u8>(t3 >> 3), 10);
  store<u8>(s, <u8>(t3 >> 11), 11);
  store<u8>(s, <u8>((t3 >> 19) | (t4 << 6)), 12);
  store<u8>(s, <u8>(t4 >> 2), 13);
  store<u8>(s, <u8>(t4 >> 10), 14);
  store<u8>(s, <u8>(t4 >> 18), 15);
  store<u8>(s, <u8>t5, 16);
  store<u8>(s, <u8>(t5 >> 8), 17);
  store<u8>(s, <u8>(t5 >> 16), 18);
  store<u8>(s, <u8>((t5 >> 24) | (t6 << 1)), 19);
  store<u8>(s, <u8>(t6 >> 7), 20);
  store<u8>(s, <u8>(t6 >> 15), 21);
  store<u8>(s, <u8>((t6 >> 23) | (t7 << 3)), 22);
  store<u8>(s, <u8>(t7 >> 5), 23);
  store<u8>(s, <u8>(t7 >> 13), 24);
  store<u8>(s, <u8>((t7 >> 21) | (t8 << 4)), 25);
  store<u8>(s, <u8>(t8 >> 4), 26);
  store<u8>(s, <u8>(t8 >> 12), 27);
  store<u8>(s, <u8>((t8 >> 20) | (t9 << 6)), 28);
  store<u8>(s, <u8>(t9 >> 2), 29);
  store<u8>(s, <u8>(t9 >> 10), 30);
  store<u8>(s, <u8>(t9 >> 18), 31);
}

/** h = f carried (limbs back to ~2^25 / 2^24), so it can be combined with others again. */
export function feCarry(h: usize, f: usize): void {
  let h0 = <i64>load<i32>(f, 0);
  let h1 = <i64>load<i32>(f, 4);
  let h2 = <i64>load<i32>(f, 8);
  let h3 = <i64>load<i32>(f, 12);
  let h4 = <i64>load<i32>(f, 16);
  let h5 = <i64>load<i32>(f, 20);
  let h6 = <i64>load<i32>(f, 24);
  let h7 = <i64>load<i32>(f, 28);
  let h8 = <i64>load<i32>(f, 32);
  let h9 = <i64>load<i32>(f, 36);
  let c: i64;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  c = (h1 + 16777216) >> 25; h2 += c; h1 -= c << 25;
  c = (h2 + 33554432) >> 26; h3 += c; h2 -= c << 26;
  c = (h3 + 16777216) >> 25; h4 += c; h3 -= c << 25;
  c = (h4 + 33554432) >> 26; h5 += c; h4 -= c << 26;
  c = (h5 + 16777216) >> 25; h6 += c; h5 -= c << 25;
  c = (h6 + 33554432) >> 26; h7 += c; h6 -= c << 26;
  c = (h7 + 16777216) >> 25; h8 += c; h7 -= c << 25;
  c = (h8 + 33554432) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + 16777216) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + 33554432) >> 26; h1 += c; h0 -= c << 26;
  store<i32>(h, <i32>h0, 0);
  store<i32>(h, <i32>h1, 4);
  store<i32>(h, <i32>h2, 8);
  store<i32>(h, <i32>h3, 12);
  store<i32>(h, <i32>h4, 16);
  store<i32>(h, <i32>h5, 20);
  store<i32>(h, <i32>h6, 24);
  store<i32>(h, <i32>h7, 28);
  store<i32>(h, <i32>h8, 32);
  store<i32>(h, <i32>h9, 36);
}

// Static temporaries (this module is single-threaded and nothing here re-enters).
const BYTES: usize = memory.data(32, 16);
const T0: usize = memory.data(40, 16);
const T1: usize = memory.data(40, 16);
const T2: usize = memory.data(40, 16);
const T3: usize = memory.data(40, 16);

/** RFC 9496 §4.1 IS_NEGATIVE: the low bit of the canonical encoding. */
export function feIsNegative(f: usize): bool {
  feToBytes(BYTES, f);
  return (load<u8>(BYTES) & 1) != 0;
}

export function feIsZero(f: usize): bool {
  feToBytes(BYTES, f);
  return load<u64>(BYTES, 0) == 0 && load<u64>(BYTES, 8) == 0 && load<u64>(BYTES, 16) == 0 && load<u64>(BYTES, 24) == 0;
}

/** f == g in the field (canonical encodings compared). */
export function feEqual(f: usize, g: usize): bool {
  feSub(T3, f, g);
  return feIsZero(T3);
}

/** RFC 9496 §4.1 CT_ABS (here variable-time: every input is public, see msm.ts). */
export function feAbs(h: usize, f: usize): void {
  if (feIsNegative(f)) feNeg(h, f);
  else if (h != f) feCopy(h, f);
}

@inline
function sqTimes(h: usize, f: usize, times: i32): void {
  feSq(h, f);
  for (let i = 1; i < times; i++) feSq(h, h);
}

/** out = z^(p - 2) = 1/z (0 for z = 0): ref10's addition chain, 254 squarings and 11 multiplications. */
export function feInvert(out: usize, z: usize): void {
  feSq(T0, z); // z^2
  sqTimes(T1, T0, 2); // z^8
  feMul(T1, z, T1); // z^9
  feMul(T0, T0, T1); // z^11
  feSq(T2, T0); // z^22
  feMul(T1, T1, T2); // z^(2^5 - 1)
  sqTimes(T2, T1, 5);
  feMul(T1, T2, T1); // z^(2^10 - 1)
  sqTimes(T2, T1, 10);
  feMul(T2, T2, T1); // z^(2^20 - 1)
  sqTimes(T3, T2, 20);
  feMul(T2, T3, T2); // z^(2^40 - 1)
  sqTimes(T2, T2, 10);
  feMul(T1, T2, T1); // z^(2^50 - 1)
  sqTimes(T2, T1, 50);
  feMul(T2, T2, T1); // z^(2^100 - 1)
  sqTimes(T3, T2, 100);
  feMul(T2, T3, T2); // z^(2^200 - 1)
  sqTimes(T2, T2, 50);
  feMul(T1, T2, T1); // z^(2^250 - 1)
  sqTimes(T1, T1, 5); // z^(2^255 - 2^5)
  feMul(out, T1, T0); // z^(2^255 - 21) = z^(p - 2)
}

/** out = z^((p - 5) / 8) = z^(2^252 - 3), the exponent of RFC 9496 §4.2 SQRT_RATIO_M1. */
export function fePow22523(out: usize, z: usize): void {
  feSq(T0, z); // z^2
  sqTimes(T1, T0, 2); // z^8
  feMul(T1, z, T1); // z^9
  feMul(T0, T0, T1); // z^11
  feSq(T0, T0); // z^22
  feMul(T0, T1, T0); // z^(2^5 - 1)
  sqTimes(T1, T0, 5);
  feMul(T0, T1, T0); // z^(2^10 - 1)
  sqTimes(T1, T0, 10);
  feMul(T1, T1, T0); // z^(2^20 - 1)
  sqTimes(T2, T1, 20);
  feMul(T1, T2, T1); // z^(2^40 - 1)
  sqTimes(T1, T1, 10);
  feMul(T0, T1, T0); // z^(2^50 - 1)
  sqTimes(T1, T0, 50);
  feMul(T1, T1, T0); // z^(2^100 - 1)
  sqTimes(T2, T1, 100);
  feMul(T1, T2, T1); // z^(2^200 - 1)
  sqTimes(T1, T1, 50);
  feMul(T0, T1, T0); // z^(2^250 - 1)
  sqTimes(T0, T0, 2); // z^(2^252 - 4)
  feMul(out, T0, z); // z^(2^252 - 3)
}
