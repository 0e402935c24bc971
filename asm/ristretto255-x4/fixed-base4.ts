/**
 * Fixed-base scalar multiplication of four scalars at once (one per i32x4 lane) by one
 * base point whose comb table was precomputed: libsodium's ge25519_scalarmult_base run in
 * the four lanes, with a table for any base (the generator, or a server's public key).
 *
 * Table. For positions p = 0..31 and j = 1..8 the entry j 256^p B in affine Niels form
 * (y + x, y - x, 2d x y): 256 entries x 3 field elements x 10 canonical i32 limbs =
 * TABLE_BYTES. The limbs are stored once (not per lane): a lane reads an entry with
 * v128.load32_splat, so the table is 30 KiB and stays in the L1 cache.
 *
 * Multiplication. The scalar is recoded to 64 signed radix-16 digits e[i] in [-8, 8]
 * (scalarmult4.ts setLaneScalar, libsodium's recoding). With 16^i = 16 * 256^((i-1)/2)
 * for odd i: acc = sum of e[i] 256^(i/2) B over odd i, then acc = 16 acc (four
 * doublings), then acc += the same over even i: 64 mixed additions and 4 doublings,
 * instead of 252 doublings and 64 additions of the variable-base ladder.
 *
 * Constant time. Each of the 64 selections reads all eight entries of the digit's
 * position (the position is public: it is the loop index) and keeps, per lane, the one
 * whose mask i32x4.eq(|e|, j) is set (AND, then OR): no address and no branch depends on
 * a digit, and lanes with different digits do the same work. The sign is applied with
 * masks (negating a Niels point swaps y + x and y - x and negates 2dxy); e = 0 leaves the
 * Niels identity (1, 1, 0), which the complete addition formula handles like any point.
 *
 * Building a table (once per base: the generator once, a server key once per epoch)
 * costs about one variable-base multiplication: 32 x (7 group operations + 5 doublings),
 * and one field inversion for all 256 entries (~0.3 ms of CPU) (Montgomery's trick over the
 * 64 mixed vectors below). The base is public; the build need not be constant time, but is.
 */
import { D2 } from './constants';
import { FE4, fe4Add, fe4Mul, fe4One, fe4Reduce, fe4Sub } from './fe4';
import { fe4Invert } from './fe4-pow';
import { CACHED, P1P1, P3, T, X, Y, Z, ge4AddCached, ge4P1P1ToP2, ge4P1P1ToP3, ge4P2Dbl, ge4P3Identity, ge4P3ToCached } from './ge4';
import { DIGITS } from './scalarmult4';

/** Bytes of one table: 32 positions x 8 entries x 3 field elements x 10 i32 limbs. */
export const TABLE_BYTES: i32 = 32 * 8 * 3 * 40;
/** Bytes of one entry (three field elements of 10 limbs). */
const ENTRY: usize = 120;
/** Bytes of one position (eight entries). */
const POSITION: usize = 8 * ENTRY;

/** Niels form of the selected entries (y + x, y - x, 2dxy), one per lane. */
const SEL: usize = memory.data(3 * <i32>FE4, 16);
const SEL_YPX: usize = SEL;
const SEL_YMX: usize = SEL + FE4;
const SEL_XY2D: usize = SEL + 2 * FE4;
const SUM: usize = memory.data(<i32>P1P1, 16);
const T0: usize = memory.data(<i32>FE4, 16);

/**
 * ge25519_madd: r = p + q, p a P3, q the affine Niels point at SEL: 3 multiplications
 * (4 more in the P1P1 -> P3 conversion that follows).
 */
function madd(r: usize, p: usize): void {
  fe4Add(r + X, p + Y, p + X);
  fe4Sub(r + Y, p + Y, p + X);
  fe4Mul(r + Z, r + X, SEL_YPX);
  fe4Mul(r + Y, r + Y, SEL_YMX);
  fe4Mul(r + T, SEL_XY2D, p + T);
  fe4Add(T0, p + Z, p + Z);
  fe4Sub(r + X, r + Z, r + Y);
  fe4Add(r + Y, r + Z, r + Y);
  fe4Add(r + Z, T0, r + T);
  fe4Sub(r + T, T0, r + T);
}

/**
 * SEL = e_lane 256^pos B per lane, e = digit `digit` of each lane (DIGITS): every entry of
 * the position is read and kept under its lane mask, then negated where e < 0.
 */
function select(table: usize, pos: i32, digit: i32): void {
  const e = v128.load(DIGITS + ((<usize>digit) << 4));
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
  // The Niels identity (1, 1, 0) where e = 0: limb 0 of y + x and y - x is 1 in those lanes.
  const identityOne = v128.and(i32x4.eq(abs, i32x4.splat(0)), i32x4.splat(1));
  const base = table + (<usize>pos) * POSITION;
  for (let limb: usize = 0; limb < 10; limb++) {
    const one = limb == 0 ? identityOne : i32x4.splat(0);
    const at = base + (limb << 2);
    const ypx = pick(at, one, m1, m2, m3, m4, m5, m6, m7, m8);
    const ymx = pick(at + 40, one, m1, m2, m3, m4, m5, m6, m7, m8);
    const xy2d = pick(at + 80, i32x4.splat(0), m1, m2, m3, m4, m5, m6, m7, m8);
    // -(y + x, y - x, 2dxy) = (y - x, y + x, -2dxy)
    v128.store(SEL_YPX + (limb << 4), v128.bitselect(ymx, ypx, neg));
    v128.store(SEL_YMX + (limb << 4), v128.bitselect(ypx, ymx, neg));
    v128.store(SEL_XY2D + (limb << 4), v128.bitselect(i32x4.neg(xy2d), xy2d, neg));
  }
}

/** The limb at `at` of the entry whose mask is set, OR-ed over the eight entries (mutually exclusive masks). */
@inline
function pick(at: usize, init: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, m6: v128, m7: v128, m8: v128): v128 {
  let acc = init;
  acc = v128.or(acc, v128.and(v128.load32_splat(at), m1));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + ENTRY), m2));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 2 * ENTRY), m3));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 3 * ENTRY), m4));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 4 * ENTRY), m5));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 5 * ENTRY), m6));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 6 * ENTRY), m7));
  acc = v128.or(acc, v128.and(v128.load32_splat(at + 7 * ENTRY), m8));
  return acc;
}

/**
 * r = e B per lane (r a P3) for the digits in DIGITS (scalarmult4.ts setLaneScalar /
 * setLaneScalarHalf) and the table of B at `table` (libsodium ge25519_scalarmult_base).
 */
export function comb4(r: usize, table: usize): void {
  ge4P3Identity(r);
  for (let i = 1; i < 64; i += 2) {
    select(table, i >> 1, i);
    madd(SUM, r);
    ge4P1P1ToP3(r, SUM);
  }
  ge4P2Dbl(SUM, r);
  ge4P1P1ToP2(r, SUM);
  ge4P2Dbl(SUM, r);
  ge4P1P1ToP2(r, SUM);
  ge4P2Dbl(SUM, r);
  ge4P1P1ToP2(r, SUM);
  ge4P2Dbl(SUM, r);
  ge4P1P1ToP3(r, SUM);
  for (let i = 0; i < 64; i += 2) {
    select(table, i >> 1, i);
    madd(SUM, r);
    ge4P1P1ToP3(r, SUM);
  }
}

// ---------------------------------------------------------------------------------------
// Table building

/** The eight multiples 1Q .. 8Q of the current position (P3, identical lanes). */
const ENT: usize = memory.data(8 * <i32>P3, 16);
const Q: usize = memory.data(<i32>P3, 16);
const QC: usize = memory.data(<i32>CACHED, 16);
const BSUM: usize = memory.data(<i32>P1P1, 16);
/**
 * 64 mixed vectors: vector 2p holds entries 1..4 of position p in lanes 0..3, vector
 * 2p + 1 entries 5..8 (X, Y, Z each), so that one pass of field operations normalizes
 * four entries.
 */
const MIXED: usize = memory.data(64 * 3 * <i32>FE4, 16);
/** PREFIX + m FE4 = product of the Z of vectors 0 .. m - 1 (Montgomery's trick). */
const PREFIX: usize = memory.data(64 * <i32>FE4, 16);
const RUN: usize = memory.data(<i32>FE4, 16);
const INV: usize = memory.data(<i32>FE4, 16);
const ZI: usize = memory.data(<i32>FE4, 16);
const AX: usize = memory.data(<i32>FE4, 16);
const AY: usize = memory.data(<i32>FE4, 16);
const OUT: usize = memory.data(3 * <i32>FE4, 16);

/** Entry j (1..8) of the current position in ENT. */
@inline
function e(j: i32): usize {
  return ENT + (<usize>(j - 1)) * P3;
}

/** dst = lane k of fe4 number k (k = 0..3) of the four at a, b, c, d. */
function mix(dst: usize, a: usize, b: usize, c: usize, d: usize): void {
  const l0 = i32x4(-1, 0, 0, 0);
  const l1 = i32x4(0, -1, 0, 0);
  const l2 = i32x4(0, 0, -1, 0);
  const l3 = i32x4(0, 0, 0, -1);
  for (let off: usize = 0; off < FE4; off += 16) {
    let v = v128.and(v128.load(a + off), l0);
    v = v128.or(v, v128.and(v128.load(b + off), l1));
    v = v128.or(v, v128.and(v128.load(c + off), l2));
    v = v128.or(v, v128.and(v128.load(d + off), l3));
    v128.store(dst + off, v);
  }
}

/** r = 2p (P3 to P3). */
function dbl3(r: usize, p: usize): void {
  ge4P2Dbl(BSUM, p);
  ge4P1P1ToP3(r, BSUM);
}

/** r = p + QC (P3 + the cached Q). */
function addQ(r: usize, p: usize): void {
  ge4AddCached(BSUM, p, QC);
  ge4P1P1ToP3(r, BSUM);
}

/**
 * Writes the table of the point at p (P3, the same point in all four lanes) to `table`
 * (TABLE_BYTES, canonical limbs).
 */
export function buildTable(table: usize, p: usize): void {
  memory.copy(Q, p, P3);
  for (let pos = 0; pos < 32; pos++) {
    ge4P3ToCached(QC, Q);
    memory.copy(e(1), Q, P3);
    dbl3(e(2), Q);
    addQ(e(3), e(2));
    dbl3(e(4), e(2));
    addQ(e(5), e(4));
    dbl3(e(6), e(3));
    addQ(e(7), e(6));
    dbl3(e(8), e(4));
    for (let half = 0; half < 2; half++) {
      const v = MIXED + (<usize>(2 * pos + half)) * 3 * FE4;
      const first = 1 + 4 * half;
      for (let c: usize = 0; c < 3; c++) {
        const coord = c == 0 ? X : c == 1 ? Y : Z;
        mix(v + c * FE4, e(first) + coord, e(first + 1) + coord, e(first + 2) + coord, e(first + 3) + coord);
      }
    }
    // Next position: 256 Q = 32 (8Q).
    dbl3(Q, e(8));
    for (let k = 0; k < 4; k++) dbl3(Q, Q);
  }
  // One inversion for the 64 vectors' Z (each lane its own product).
  fe4One(RUN);
  for (let m: usize = 0; m < 64; m++) {
    memory.copy(PREFIX + m * FE4, RUN, FE4);
    fe4Mul(RUN, RUN, MIXED + m * 3 * FE4 + 2 * FE4);
  }
  fe4Invert(INV, RUN);
  for (let m = 63; m >= 0; m--) {
    const v = MIXED + (<usize>m) * 3 * FE4;
    fe4Mul(ZI, INV, PREFIX + (<usize>m) * FE4); // 1 / Z_m
    fe4Mul(INV, INV, v + 2 * FE4); // 1 / (Z_0 .. Z_(m-1))
    fe4Mul(AX, v, ZI);
    fe4Mul(AY, v + FE4, ZI);
    fe4Add(OUT, AY, AX);
    fe4Reduce(OUT, OUT);
    fe4Sub(OUT + FE4, AY, AX);
    fe4Reduce(OUT + FE4, OUT + FE4);
    fe4Mul(OUT + 2 * FE4, AX, AY);
    fe4Mul(OUT + 2 * FE4, OUT + 2 * FE4, D2);
    fe4Reduce(OUT + 2 * FE4, OUT + 2 * FE4);
    scatter(table, m);
  }
}

/** Lane k of the three normalized fe4 at OUT into entry (4 (m & 1) + k) of position m >> 1. */
function scatter(table: usize, m: i32): void {
  const pos = <usize>(m >> 1);
  const first = <usize>(4 * (m & 1));
  for (let k: usize = 0; k < 4; k++) {
    const entry = table + pos * POSITION + (first + k) * ENTRY;
    for (let c: usize = 0; c < 3; c++) {
      for (let limb: usize = 0; limb < 10; limb++) {
        store<i32>(entry + c * 40 + (limb << 2), load<i32>(OUT + c * FE4 + (limb << 4) + (k << 2)));
      }
    }
  }
}

/** Wipes the multiplication's intermediates (the selected entries and sums depend on secret digits). */
export function fixedBaseWipe(): void {
  memory.fill(SEL, 0, 3 * FE4);
  memory.fill(SUM, 0, P1P1);
  memory.fill(T0, 0, FE4);
}

/** Wipes the table build's intermediates (multiples of a public base: tidiness, not secrecy). */
export function tableBuildWipe(): void {
  memory.fill(ENT, 0, 8 * P3);
  memory.fill(Q, 0, P3);
  memory.fill(QC, 0, CACHED);
  memory.fill(BSUM, 0, P1P1);
  memory.fill(MIXED, 0, 64 * 3 * FE4);
  memory.fill(PREFIX, 0, 64 * FE4);
  memory.fill(RUN, 0, FE4);
  memory.fill(INV, 0, FE4);
  memory.fill(ZI, 0, FE4);
  memory.fill(AX, 0, FE4);
  memory.fill(AY, 0, FE4);
  memory.fill(OUT, 0, 3 * FE4);
}
