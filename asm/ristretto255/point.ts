/**
 * edwards25519 point arithmetic, ported from ref10/libsodium (ge25519_*), on the twisted
 * Edwards curve -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032 §5.1). Representations, each a run
 * of field elements (FE bytes apiece) at a pointer:
 *
 * - P3 "extended" (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z;
 * - P2 "projective" (X:Y:Z), the first three fields of a P3 (so a P3 pointer is a P2);
 * - P1P1 "completed" ((X:Z),(Y:T)), what an addition or doubling yields;
 * - CACHED (Y+X, Y-X, Z, 2dT), a P3 ready to be added;
 * - NIELS (y+x, y-x, 2dxy), an affine (Z = 1) point ready to be added ("precomp" in ref10).
 *
 * The addition formulas are complete on this curve (d is not a square), so the identity
 * and doublings need no special case. Outputs must not alias inputs (ref10 convention).
 */
import { D2, D_INV } from './constants';
import { FE, feAdd, feCarry, feCopy, feMul, feNeg, feOne, feSq, feSq2, feSub, feZero } from './field';

export const P3: usize = 4 * FE;
export const P1P1: usize = 4 * FE;
export const CACHED: usize = 4 * FE;
export const NIELS: usize = 3 * FE;

// Field offsets (X, Y, Z, T; for CACHED: Y+X, Y-X, Z, 2dT; for NIELS: y+x, y-x, 2dxy).
export const X: usize = 0;
export const Y: usize = FE;
export const Z: usize = 2 * FE;
export const T: usize = 3 * FE;

const T0: usize = memory.data(<i32>FE, 16);

export function p3Identity(p: usize): void {
  feZero(p + X);
  feOne(p + Y);
  feOne(p + Z);
  feZero(p + T);
}

export function p3Copy(r: usize, p: usize): void {
  memory.copy(r, p, P3);
}

/** ge25519_p3_to_cached */
export function p3ToCached(r: usize, p: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feCopy(r + Z, p + Z);
  feMul(r + T, p + T, D2);
}

/** ge25519_p1p1_to_p2: 3 multiplications. */
export function p1p1ToP2(r: usize, p: usize): void {
  feMul(r + X, p + X, p + T);
  feMul(r + Y, p + Y, p + Z);
  feMul(r + Z, p + Z, p + T);
}

/** ge25519_p1p1_to_p3: 4 multiplications. */
export function p1p1ToP3(r: usize, p: usize): void {
  feMul(r + X, p + X, p + T);
  feMul(r + Y, p + Y, p + Z);
  feMul(r + Z, p + Z, p + T);
  feMul(r + T, p + X, p + Y);
}

/** ge25519_p2_dbl: r = 2p (p a P2, or a P3 read as one). */
export function p2Dbl(r: usize, p: usize): void {
  feSq(r + X, p + X);
  feSq(r + Z, p + Y);
  feSq2(r + T, p + Z);
  feAdd(r + Y, p + X, p + Y);
  feSq(T0, r + Y);
  feAdd(r + Y, r + Z, r + X);
  feSub(r + Z, r + Z, r + X);
  feSub(r + X, T0, r + Y);
  feSub(r + T, r + T, r + Z);
}

/** ge25519_add: r = p + q (p a P3, q CACHED). */
export function geAdd(r: usize, p: usize, q: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feMul(r + Z, r + X, q + X);
  feMul(r + Y, r + Y, q + Y);
  feMul(r + T, q + T, p + T);
  feMul(r + X, p + Z, q + Z);
  feAdd(T0, r + X, r + X);
  feSub(r + X, r + Z, r + Y);
  feAdd(r + Y, r + Z, r + Y);
  feAdd(r + Z, T0, r + T);
  feSub(r + T, T0, r + T);
}

/** ge25519_sub: r = p - q (p a P3, q CACHED). */
export function geSub(r: usize, p: usize, q: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feMul(r + Z, r + X, q + Y);
  feMul(r + Y, r + Y, q + X);
  feMul(r + T, q + T, p + T);
  feMul(r + X, p + Z, q + Z);
  feAdd(T0, r + X, r + X);
  feSub(r + X, r + Z, r + Y);
  feAdd(r + Y, r + Z, r + Y);
  feSub(r + Z, T0, r + T);
  feAdd(r + T, T0, r + T);
}

/** ge25519_madd: r = p + q (p a P3, q NIELS): one multiplication fewer than geAdd. */
export function geMadd(r: usize, p: usize, q: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feMul(r + Z, r + X, q + X);
  feMul(r + Y, r + Y, q + Y);
  feMul(r + T, q + Z, p + T); // NIELS keeps 2dxy in its third field
  feAdd(T0, p + Z, p + Z);
  feSub(r + X, r + Z, r + Y);
  feAdd(r + Y, r + Z, r + Y);
  feAdd(r + Z, T0, r + T);
  feSub(r + T, T0, r + T);
}

/** ge25519_msub: r = p - q (p a P3, q NIELS). */
export function geMsub(r: usize, p: usize, q: usize): void {
  feAdd(r + X, p + Y, p + X);
  feSub(r + Y, p + Y, p + X);
  feMul(r + Z, r + X, q + Y);
  feMul(r + Y, r + Y, q + X);
  feMul(r + T, q + Z, p + T);
  feAdd(T0, p + Z, p + Z);
  feSub(r + X, r + Z, r + Y);
  feAdd(r + Y, r + Z, r + Y);
  feSub(r + Z, T0, r + T);
  feAdd(r + T, T0, r + T);
}

/**
 * NIELS form of an affine P3 (Z = 1): y+x, y-x, 2d*xy. The sums are carried so that
 * nielsToP3 may combine them again.
 */
export function affineToNiels(r: usize, p: usize): void {
  feAdd(r + X, p + Y, p + X);
  feCarry(r + X, r + X);
  feSub(r + Y, p + Y, p + X);
  feCarry(r + Y, r + Y);
  feMul(r + Z, p + T, D2);
}

/**
 * The P3 (2x : 2y : 2 : 2xy) of a NIELS point, or of its negation (-x, y): one
 * multiplication, where adding it to the identity would cost seven.
 */
export function nielsToP3(r: usize, q: usize, negate: bool): void {
  if (negate) feSub(r + X, q + Y, q + X); // -(y+x - (y-x))
  else feSub(r + X, q + X, q + Y); // 2x
  feAdd(r + Y, q + X, q + Y); // 2y
  feOne(r + Z);
  store<i32>(r + Z, 2);
  feMul(r + T, q + Z, D_INV); // 2xy
  if (negate) feNeg(r + T, r + T);
}

/** Doubles the P3 p in place k >= 1 times; tmp is a P1P1 scratch. */
export function p3DblTimes(p: usize, k: i32, tmp: usize): void {
  for (let i = 1; i < k; i++) {
    p2Dbl(tmp, p);
    p1p1ToP2(p, tmp); // T is not needed by the next doubling
  }
  p2Dbl(tmp, p);
  p1p1ToP3(p, tmp);
}
