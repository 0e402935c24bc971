/**
 * edwards25519 point arithmetic on four points at once (one per i32x4 lane), ported
 * formula for formula from ref10/libsodium ge25519_* on the twisted Edwards curve
 * -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032 §5.1). Representations, each a run of fe4 values
 * (FE4 bytes apiece) at a pointer, lane k of every coordinate belonging to point k:
 *
 * - P3 "extended" (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z;
 * - P2 "projective" (X:Y:Z): the first three coordinates of a P3, so a P3 pointer is a P2;
 * - P1P1 "completed" ((X:Z),(Y:T)), what an addition or a doubling yields;
 * - CACHED (Y+X, Y-X, Z, 2dT): a P3 prepared for addition.
 *
 * The addition formulas are complete on this curve (d is not a square), so the identity
 * and equal inputs need no special case, and nothing branches on a coordinate. Outputs
 * must not alias inputs (ref10 convention) unless stated.
 */
import { D2 } from './constants';
import { FE4, fe4Add, fe4Copy, fe4Mul, fe4One, fe4Sq, fe4Sq2, fe4Sub, fe4Zero } from './fe4';

export const P3: usize = 4 * FE4;
export const P1P1: usize = 4 * FE4;
export const CACHED: usize = 4 * FE4;

// Coordinate offsets: X, Y, Z, T (for CACHED: Y+X, Y-X, Z, 2dT).
export const X: usize = 0;
export const Y: usize = FE4;
export const Z: usize = 2 * FE4;
export const T: usize = 3 * FE4;

const T0: usize = memory.data(<i32>FE4, 16);

/** p = the identity (0 : 1 : 1 : 0) in all lanes. */
export function ge4P3Identity(p: usize): void {
  fe4Zero(p + X);
  fe4One(p + Y);
  fe4One(p + Z);
  fe4Zero(p + T);
}

/** ge25519_p3_to_cached: 1 multiplication. */
export function ge4P3ToCached(r: usize, p: usize): void {
  fe4Add(r + X, p + Y, p + X);
  fe4Sub(r + Y, p + Y, p + X);
  fe4Copy(r + Z, p + Z);
  fe4Mul(r + T, p + T, D2);
}

/** ge25519_p1p1_to_p2: 3 multiplications. */
export function ge4P1P1ToP2(r: usize, p: usize): void {
  fe4Mul(r + X, p + X, p + T);
  fe4Mul(r + Y, p + Y, p + Z);
  fe4Mul(r + Z, p + Z, p + T);
}

/** ge25519_p1p1_to_p3: 4 multiplications. */
export function ge4P1P1ToP3(r: usize, p: usize): void {
  fe4Mul(r + X, p + X, p + T);
  fe4Mul(r + Y, p + Y, p + Z);
  fe4Mul(r + Z, p + Z, p + T);
  fe4Mul(r + T, p + X, p + Y);
}

/** ge25519_p2_dbl: r = 2p (p a P2, or a P3 read as one): 3 squarings and one doubled square. */
export function ge4P2Dbl(r: usize, p: usize): void {
  fe4Sq(r + X, p + X); // X^2
  fe4Sq(r + Z, p + Y); // Y^2
  fe4Sq2(r + T, p + Z); // 2 Z^2
  fe4Add(r + Y, p + X, p + Y);
  fe4Sq(T0, r + Y); // (X + Y)^2
  fe4Add(r + Y, r + Z, r + X); // Y^2 + X^2
  fe4Sub(r + Z, r + Z, r + X); // Y^2 - X^2
  fe4Sub(r + X, T0, r + Y); // 2XY
  fe4Sub(r + T, r + T, r + Z);
}

/** ge25519_add_cached: r = p + q (p a P3, q CACHED): 4 multiplications. */
export function ge4AddCached(r: usize, p: usize, q: usize): void {
  fe4Add(r + X, p + Y, p + X);
  fe4Sub(r + Y, p + Y, p + X);
  fe4Mul(r + Z, r + X, q + X); // (Y1 + X1)(Y2 + X2)
  fe4Mul(r + Y, r + Y, q + Y); // (Y1 - X1)(Y2 - X2)
  fe4Mul(r + T, q + T, p + T); // 2d T1 T2
  fe4Mul(r + X, p + Z, q + Z); // Z1 Z2
  fe4Add(T0, r + X, r + X);
  fe4Sub(r + X, r + Z, r + Y);
  fe4Add(r + Y, r + Z, r + Y);
  fe4Add(r + Z, T0, r + T);
  fe4Sub(r + T, T0, r + T);
}

/** Wipes this file's scratch. */
export function ge4WipeScratch(): void {
  memory.fill(T0, 0, FE4);
}
