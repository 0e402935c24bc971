/**
 * Variable-base scalar multiplication of four points at once, each lane with its own
 * scalar (or one shared scalar): libsodium's ge25519_scalarmult (ref10 style) run in the
 * four i32x4 lanes.
 *
 * - Scalars are recoded to 64 signed radix-16 digits e[i] in [-8, 8], sum e[i] 16^i = a
 *   (libsodium's recoding: arithmetic only, no branch or index on the scalar).
 * - Each lane gets a table of 1P..8P in CACHED form (lane-parallel: the table is built
 *   with the same additions and doublings for all four points).
 * - For i = 63 down to 0: acc = 16 acc + e[i] P, as one addition of the selected table
 *   entry then four doublings (P1P1 -> P2 -> doubling, P3 only where the next addition
 *   needs T), exactly libsodium's order.
 *
 * Constant time. The table entry for |e[i]| is chosen by scanning all eight entries and
 * keeping each under the mask i32x4.eq(|e[i]|, j) (AND, then OR into the result) — per
 * lane, so lanes with different digits cost the same and no memory address depends on a
 * digit. The sign
 * is applied with masks too (negating a CACHED point swaps Y+X / Y-X and negates 2dT).
 * |e[i]| = 0 leaves the identity (1, 1, 1, 0) in place, which the complete addition
 * formula handles like any other point.
 */
import { FE4 } from './fe4';
import {
  CACHED,
  P1P1,
  P3,
  T,
  X,
  Y,
  Z,
  ge4AddCached,
  ge4P1P1ToP2,
  ge4P1P1ToP3,
  ge4P2Dbl,
  ge4P3Identity,
  ge4P3ToCached,
} from './ge4';

/** 64 digit vectors: DIGITS + 16 i holds digit i of the four lanes' scalars (i32x4). */
export const DIGITS: usize = memory.data(64 * 16, 16);
/** One scalar's digits as bytes (signed), before they are spread into DIGITS. */
const RECODED: usize = memory.data(64, 16);
/** TABLE + (j - 1) CACHED = j P (CACHED), j = 1..8, all four lanes. */
const TABLE: usize = memory.data(8 * <i32>CACHED, 16);
const SEL: usize = memory.data(<i32>CACHED, 16);
const ACC: usize = memory.data(<i32>P3, 16);
const SUM: usize = memory.data(<i32>P1P1, 16);
const Q2: usize = memory.data(<i32>P3, 16);
const Q3: usize = memory.data(<i32>P3, 16);
const Q4: usize = memory.data(<i32>P3, 16);
const QT: usize = memory.data(<i32>P3, 16);

/**
 * libsodium ge25519_scalarmult recoding of the 32-byte little-endian scalar at a (top
 * bit clear, as for any scalar < L) into 64 signed digits at RECODED, in [-8, 8].
 */
function recode(a: usize): void {
  for (let i: usize = 0; i < 32; i++) {
    const b = <i32>load<u8>(a + i);
    store<i8>(RECODED + 2 * i, <i8>(b & 15));
    store<i8>(RECODED + 2 * i + 1, <i8>((b >> 4) & 15));
  }
  let carry: i32 = 0;
  for (let i: usize = 0; i < 63; i++) {
    let e = <i32>load<i8>(RECODED + i) + carry;
    carry = (e + 8) >> 4; // arithmetic shift: no branch on the digit
    e -= carry << 4;
    store<i8>(RECODED + i, <i8>e);
  }
  store<i8>(RECODED + 63, <i8>(<i32>load<i8>(RECODED + 63) + carry));
}

/** Digits of the scalar at a into lane `lane` of DIGITS. */
export function setLaneScalar(lane: i32, a: usize): void {
  recode(a);
  const l = (<usize>lane) << 2;
  for (let i: usize = 0; i < 64; i++) store<i32>(DIGITS + (i << 4) + l, <i32>load<i8>(RECODED + i));
}

/** RFC 9496 §4.4: the group order L, 32 bytes little-endian. */
const ORDER: usize = memory.data<u8>([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);
/** A halved scalar (secret: wiped by scalarmultWipe). */
const HALF: usize = memory.data(32, 16);

/**
 * HALF = a / 2 mod L for the 32-byte little-endian a < L: (a + (a odd ? L : 0)) / 2,
 * with L added under a mask and a byte-wise carry and shift (no branch or index on a).
 * a + L < 2^254, so the sum fits the 32 bytes. The batch encoding multiplies by a / 2
 * and encodes the doubled result (batch-encode4.ts).
 */
function halve(a: usize): void {
  const odd = 0 - (<i32>load<u8>(a) & 1);
  let carry: i32 = 0;
  for (let i: usize = 0; i < 32; i++) {
    const sum = <i32>load<u8>(a + i) + (<i32>load<u8>(ORDER + i) & odd) + carry;
    store<u8>(HALF + i, <u8>sum);
    carry = sum >> 8;
  }
  for (let i: usize = 0; i < 31; i++) {
    store<u8>(HALF + i, <u8>((<i32>load<u8>(HALF + i) >> 1) | (<i32>load<u8>(HALF + i + 1) << 7)));
  }
  store<u8>(HALF + 31, <u8>(<i32>load<u8>(HALF + 31) >> 1));
}

/** Digits of a / 2 mod L (a at `a`) into lane `lane` of DIGITS. */
export function setLaneScalarHalf(lane: i32, a: usize): void {
  halve(a);
  setLaneScalar(lane, HALF);
}

/** Digits of a / 2 mod L into all four lanes of DIGITS. */
export function setCommonScalarHalf(a: usize): void {
  halve(a);
  setCommonScalar(HALF);
}

/** Digits of the scalar at a into all four lanes of DIGITS (one shared scalar). */
export function setCommonScalar(a: usize): void {
  recode(a);
  for (let i: usize = 0; i < 64; i++) v128.store(DIGITS + (i << 4), i32x4.splat(<i32>load<i8>(RECODED + i)));
}

/** TABLE = 1P .. 8P (CACHED) for the P3 p (libsodium's sequence of doublings and additions). */
function buildTable(p: usize): void {
  ge4P3ToCached(TABLE, p); // 1P
  ge4P2Dbl(SUM, p);
  ge4P1P1ToP3(Q2, SUM);
  ge4P3ToCached(TABLE + CACHED, Q2); // 2P = 2 * P
  ge4AddCached(SUM, p, TABLE + CACHED);
  ge4P1P1ToP3(Q3, SUM);
  ge4P3ToCached(TABLE + 2 * CACHED, Q3); // 3P = P + 2P
  ge4P2Dbl(SUM, Q2);
  ge4P1P1ToP3(Q4, SUM);
  ge4P3ToCached(TABLE + 3 * CACHED, Q4); // 4P = 2 * 2P
  ge4AddCached(SUM, p, TABLE + 3 * CACHED);
  ge4P1P1ToP3(QT, SUM);
  ge4P3ToCached(TABLE + 4 * CACHED, QT); // 5P = P + 4P
  ge4P2Dbl(SUM, Q3);
  ge4P1P1ToP3(QT, SUM);
  ge4P3ToCached(TABLE + 5 * CACHED, QT); // 6P = 2 * 3P
  ge4AddCached(SUM, p, TABLE + 5 * CACHED);
  ge4P1P1ToP3(QT, SUM);
  ge4P3ToCached(TABLE + 6 * CACHED, QT); // 7P = P + 6P
  ge4P2Dbl(SUM, Q4);
  ge4P1P1ToP3(QT, SUM);
  ge4P3ToCached(TABLE + 7 * CACHED, QT); // 8P = 2 * 4P
}

/**
 * The limb at offset off of the entry whose mask is set, OR-ed over all eight entries (the
 * masks are mutually exclusive, so exactly one term survives, or none when e = 0 and init
 * carries the identity's limb): two operations per entry, every entry read.
 */
@inline
function pick(
  off: usize,
  init: v128,
  m1: v128,
  m2: v128,
  m3: v128,
  m4: v128,
  m5: v128,
  m6: v128,
  m7: v128,
  m8: v128,
): v128 {
  let acc = init;
  acc = v128.or(acc, v128.and(v128.load(TABLE + off), m1));
  acc = v128.or(acc, v128.and(v128.load(TABLE + CACHED + off), m2));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 2 * CACHED + off), m3));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 3 * CACHED + off), m4));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 4 * CACHED + off), m5));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 5 * CACHED + off), m6));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 6 * CACHED + off), m7));
  acc = v128.or(acc, v128.and(v128.load(TABLE + 7 * CACHED + off), m8));
  return acc;
}

/**
 * SEL = e P per lane, e = digit i of that lane (libsodium ge25519_cmov8_cached, with lane
 * masks): every entry is read, the matching one kept, then negated where e < 0.
 */
function select(i: i32): void {
  const e = v128.load(DIGITS + ((<usize>i) << 4));
  const neg = i32x4.shr_s(e, 31); // all ones where e < 0
  const abs = i32x4.sub(v128.xor(e, neg), neg);
  const m1 = i32x4.eq(abs, i32x4.splat(1));
  const m2 = i32x4.eq(abs, i32x4.splat(2));
  const m3 = i32x4.eq(abs, i32x4.splat(3));
  const m4 = i32x4.eq(abs, i32x4.splat(4));
  const m5 = i32x4.eq(abs, i32x4.splat(5));
  const m6 = i32x4.eq(abs, i32x4.splat(6));
  const m7 = i32x4.eq(abs, i32x4.splat(7));
  const m8 = i32x4.eq(abs, i32x4.splat(8));
  // The identity (1, 1, 1, 0) where e = 0: limb 0 of Y+X, Y-X and Z is 1 in those lanes.
  const identityOne = v128.and(i32x4.eq(abs, i32x4.splat(0)), i32x4.splat(1));
  for (let off: usize = 0; off < FE4; off += 16) {
    const one = off == 0 ? identityOne : i32x4.splat(0);
    const yPlusX = pick(X + off, one, m1, m2, m3, m4, m5, m6, m7, m8);
    const yMinusX = pick(Y + off, one, m1, m2, m3, m4, m5, m6, m7, m8);
    const z = pick(Z + off, one, m1, m2, m3, m4, m5, m6, m7, m8);
    const t2d = pick(T + off, i32x4.splat(0), m1, m2, m3, m4, m5, m6, m7, m8);
    // -(Y+X, Y-X, Z, 2dT) = (Y-X, Y+X, Z, -2dT)
    v128.store(SEL + X + off, v128.bitselect(yMinusX, yPlusX, neg));
    v128.store(SEL + Y + off, v128.bitselect(yPlusX, yMinusX, neg));
    v128.store(SEL + Z + off, z);
    v128.store(SEL + T + off, v128.bitselect(i32x4.neg(t2d), t2d, neg));
  }
}

/** p = e p per lane for the digits in DIGITS (p is a P3, updated in place). */
export function scalarmult4(p: usize): void {
  buildTable(p);
  ge4P3Identity(ACC);
  for (let i = 63; i >= 0; i--) {
    select(i);
    ge4AddCached(SUM, ACC, SEL);
    if (i == 0) break; // the last digit is not followed by doublings
    ge4P1P1ToP2(ACC, SUM); // ACC read as a P2 (its first three coordinates)
    ge4P2Dbl(SUM, ACC);
    ge4P1P1ToP2(ACC, SUM);
    ge4P2Dbl(SUM, ACC);
    ge4P1P1ToP2(ACC, SUM);
    ge4P2Dbl(SUM, ACC);
    ge4P1P1ToP2(ACC, SUM);
    ge4P2Dbl(SUM, ACC);
    ge4P1P1ToP3(ACC, SUM);
  }
  ge4P1P1ToP3(p, SUM);
}

/** Wipes the digits, the table and every intermediate point. */
export function scalarmultWipe(): void {
  memory.fill(DIGITS, 0, 64 * 16);
  memory.fill(RECODED, 0, 64);
  memory.fill(HALF, 0, 32);
  memory.fill(TABLE, 0, 8 * CACHED);
  memory.fill(SEL, 0, CACHED);
  memory.fill(ACC, 0, P3);
  memory.fill(SUM, 0, P1P1);
  memory.fill(Q2, 0, P3);
  memory.fill(Q3, 0, P3);
  memory.fill(Q4, 0, P3);
  memory.fill(QT, 0, P3);
}
