/**
 * ristretto255 (RFC 9496) for four elements at once: SQRT_RATIO_M1 (§4.2), decode
 * (§4.3.1), encode (§4.3.2) and the one-way map (§4.3.4, the element derivation used by
 * hash_to_ristretto255). Everything is lane-parallel and branch-free: each RFC CT_SELECT /
 * CT_ABS / CT_NEG / CT_EQ is a lane mask and a bitselect, so the work and the timing are
 * the same whatever the values (decode and the map see secret-derived inputs on the
 * client, e.g. H(contact)). Only the final validity masks leave as values.
 *
 * Lane k of a batch reads 32 bytes at base + k * stride (64 bytes for the map).
 */
import {
  D,
  D_MINUS_ONE_SQ,
  INVSQRT_A_MINUS_D,
  ONE,
  ONE_MINUS_D_SQ,
  SQRT_AD_MINUS_ONE,
  SQRT_M1,
} from './constants';
import {
  FE4,
  bytesLowBitMask,
  fe4Abs,
  fe4Add,
  fe4BytesCanonical,
  fe4Carry,
  fe4CondNeg,
  fe4Equal,
  fe4FromBytes,
  fe4IsNegative,
  fe4IsZero,
  fe4Mul,
  fe4Neg,
  fe4Select,
  fe4Sq,
  fe4Sub,
  fe4ToBytes,
} from './fe4';
import { fe4Pow22523 } from './fe4-pow';
import { CACHED, P1P1, T, X, Y, Z, ge4AddCached, ge4P1P1ToP3, ge4P3ToCached } from './ge4';

// Static fe4 temporaries (the module is single-threaded and nothing here re-enters).
const A: usize = memory.data(<i32>FE4, 16);
const B: usize = memory.data(<i32>FE4, 16);
const C: usize = memory.data(<i32>FE4, 16);
const E: usize = memory.data(<i32>FE4, 16);
const F: usize = memory.data(<i32>FE4, 16);
const G: usize = memory.data(<i32>FE4, 16);
const H: usize = memory.data(<i32>FE4, 16);
const K: usize = memory.data(<i32>FE4, 16);
const R: usize = memory.data(<i32>FE4, 16);
const V3: usize = memory.data(<i32>FE4, 16);
const V7: usize = memory.data(<i32>FE4, 16);
const CHECK: usize = memory.data(<i32>FE4, 16);
const NEG_U: usize = memory.data(<i32>FE4, 16);
const NEG_U_I: usize = memory.data(<i32>FE4, 16);
const MAP_T: usize = memory.data(<i32>FE4, 16);
const MAP_P1: usize = memory.data(4 * <i32>FE4, 16);
const MAP_P2: usize = memory.data(4 * <i32>FE4, 16);
const MAP_CACHED: usize = memory.data(<i32>CACHED, 16);
const MAP_SUM: usize = memory.data(<i32>P1P1, 16);

/**
 * RFC 9496 §4.2 SQRT_RATIO_M1(u, v), lane-parallel: out = CT_ABS of sqrt(u/v) or of
 * sqrt(SQRT_M1 u/v); returns the lane mask was_square. u and v must be carried values
 * (products, constants or decoded elements); out may alias u or v.
 */
export function sqrtRatioM1(out: usize, u: usize, v: usize): v128 {
  fe4Sq(V3, v);
  fe4Mul(V3, V3, v); // v^3
  fe4Sq(V7, V3);
  fe4Mul(V7, V7, v); // v^7
  fe4Mul(R, u, V7);
  fe4Pow22523(R, R); // (u v^7)^((p-5)/8)
  fe4Mul(R, R, V3);
  fe4Mul(R, R, u); // r = (u v^3) (u v^7)^((p-5)/8)
  fe4Sq(CHECK, R);
  fe4Mul(CHECK, CHECK, v); // check = v r^2
  fe4Neg(NEG_U, u);
  const correctSign = fe4Equal(CHECK, u);
  const flippedSign = fe4Equal(CHECK, NEG_U);
  fe4Mul(NEG_U_I, NEG_U, SQRT_M1);
  const flippedSignI = fe4Equal(CHECK, NEG_U_I);
  fe4Mul(NEG_U_I, R, SQRT_M1); // r' = SQRT_M1 r (NEG_U_I reused)
  fe4Select(R, NEG_U_I, R, v128.or(flippedSign, flippedSignI));
  fe4Abs(out, R);
  return v128.or(correctSign, flippedSign);
}

/**
 * RFC 9496 §4.3.1 decode of four encodings into the P3 p (Z = 1). Returns the lane mask
 * of the lanes that are NOT valid encodings: non-canonical field element (value >= p or
 * bit 255 set), negative s, not square, negative t or y = 0. The identity (32 zero
 * bytes) decodes as valid here; callers reject it separately (RFC 9497 §3.3).
 */
export function decode4(p: usize, base: usize, stride: usize): v128 {
  const canonical = fe4BytesCanonical(base, stride);
  const negative = bytesLowBitMask(base, stride);
  const x = p + X, y = p + Y, z = p + Z, t = p + T;
  fe4FromBytes(E, base, stride); // s
  fe4Sq(A, E); // ss
  fe4Sub(B, ONE, A); // u1 = 1 - ss
  fe4Add(C, ONE, A); // u2 = 1 + ss
  fe4Sq(F, C); // u2_sqr
  fe4Sq(G, B);
  fe4Mul(G, G, D); // D u1^2
  fe4Neg(G, G);
  fe4Sub(G, G, F); // v = -(D u1^2) - u2_sqr
  fe4Mul(H, G, F); // v u2_sqr
  const wasSquare = sqrtRatioM1(H, ONE, H); // invsqrt
  fe4Mul(C, H, C); // den_x = invsqrt u2
  fe4Mul(H, H, C);
  fe4Mul(H, H, G); // den_y = invsqrt den_x v
  fe4Add(E, E, E);
  fe4Carry(E, E); // 2s, carried (ref10's input bounds for the multiplication)
  fe4Mul(x, E, C);
  fe4Abs(x, x); // x = CT_ABS(2 s den_x)
  fe4Mul(y, B, H); // y = u1 den_y
  fe4Mul(t, x, y); // t = x y
  fe4Copy1(z);
  const ok = v128.and(
    v128.and(canonical, v128.not(negative)),
    v128.and(wasSquare, v128.not(v128.or(fe4IsNegative(t), fe4IsZero(y)))),
  );
  return v128.not(ok);
}

/**
 * RFC 9496 §4.3.2 encode of the four points of the P3 p into 32 bytes each at
 * base + k * stride. Returns the lane mask of the lanes that encoded the identity (32
 * zero bytes, the identity's only encoding).
 */
export function encode4(base: usize, stride: usize, p: usize): v128 {
  const x0 = p + X, y0 = p + Y, z0 = p + Z, t0 = p + T;
  fe4Add(A, z0, y0);
  fe4Sub(B, z0, y0);
  fe4Mul(A, A, B); // u1 = (z0 + y0)(z0 - y0)
  fe4Mul(B, x0, y0); // u2 = x0 y0
  fe4Sq(C, B);
  fe4Mul(C, C, A); // u1 u2^2
  sqrtRatioM1(C, ONE, C); // invsqrt
  fe4Mul(E, C, A); // den1 = invsqrt u1
  fe4Mul(F, C, B); // den2 = invsqrt u2
  fe4Mul(G, E, F);
  fe4Mul(G, G, t0); // z_inv = den1 den2 t0
  fe4Mul(A, x0, SQRT_M1); // ix0
  fe4Mul(B, y0, SQRT_M1); // iy0
  fe4Mul(C, E, INVSQRT_A_MINUS_D); // enchanted_denominator
  fe4Mul(H, t0, G);
  const rotate = fe4IsNegative(H); // IS_NEGATIVE(t0 z_inv)
  fe4Select(K, B, x0, rotate); // x = rotate ? iy0 : x0
  fe4Select(H, A, y0, rotate); // y = rotate ? ix0 : y0
  fe4Select(F, C, F, rotate); // den_inv = rotate ? enchanted_denominator : den2
  fe4Mul(A, K, G);
  fe4CondNeg(H, H, fe4IsNegative(A)); // y = CT_NEG(y, IS_NEGATIVE(x z_inv))
  fe4Sub(A, z0, H);
  fe4Mul(A, F, A);
  fe4Abs(A, A); // s = CT_ABS(den_inv (z - y))
  fe4ToBytes(base, stride, A);
  return fe4IsZero(A);
}

/**
 * RFC 9496 §4.3.4 MAP(t) (Elligator) for the four field elements at t, into the P3 p
 * (p must not alias t).
 */
function map4(p: usize, t: usize): void {
  fe4Sq(A, t);
  fe4Mul(A, A, SQRT_M1); // r = SQRT_M1 t^2
  fe4Add(B, A, ONE);
  fe4Mul(B, B, ONE_MINUS_D_SQ); // u = (r + 1) ONE_MINUS_D_SQ
  fe4Mul(C, A, D);
  fe4Add(C, C, ONE);
  fe4Neg(C, C); // -1 - r D
  fe4Add(E, A, D);
  fe4Mul(C, C, E); // v = (-1 - r D)(r + D)
  const wasSquare = sqrtRatioM1(E, B, C); // s
  fe4Mul(F, E, t);
  fe4Abs(F, F);
  fe4Neg(F, F); // s_prime = -CT_ABS(s t)
  fe4Select(E, E, F, wasSquare); // s = was_square ? s : s_prime
  fe4Neg(F, ONE);
  fe4Select(F, F, A, wasSquare); // c = was_square ? -1 : r
  fe4Sub(G, A, ONE);
  fe4Mul(G, F, G);
  fe4Mul(G, G, D_MINUS_ONE_SQ);
  fe4Sub(G, G, C); // N = c (r - 1) D_MINUS_ONE_SQ - v
  fe4Mul(H, E, C);
  fe4Add(H, H, H); // w0 = 2 s v
  fe4Mul(K, G, SQRT_AD_MINUS_ONE); // w1 = N SQRT_AD_MINUS_ONE
  fe4Sq(A, E); // s^2
  fe4Sub(B, ONE, A); // w2 = 1 - s^2
  fe4Add(C, ONE, A); // w3 = 1 + s^2
  fe4Mul(p + X, H, C); // w0 w3
  fe4Mul(p + Y, B, K); // w2 w1
  fe4Mul(p + Z, K, C); // w1 w3
  fe4Mul(p + T, H, B); // w0 w2
}

/**
 * RFC 9496 §4.3.4 one-way map of the 64 uniform bytes at base + k * stride, into the P3
 * p: MAP(t1) + MAP(t2), t1 and t2 the two 32-byte halves with bit 255 masked.
 */
export function oneWayMap4(p: usize, base: usize, stride: usize): void {
  fe4FromBytes(MAP_T, base, stride); // t1 (fe4FromBytes ignores bit 255)
  map4(MAP_P1, MAP_T);
  fe4FromBytes(MAP_T, base + 32, stride); // t2
  map4(MAP_P2, MAP_T);
  ge4P3ToCached(MAP_CACHED, MAP_P2);
  ge4AddCached(MAP_SUM, MAP_P1, MAP_CACHED);
  ge4P1P1ToP3(p, MAP_SUM);
}

/** z = 1 in all lanes. */
@inline
function fe4Copy1(z: usize): void {
  memory.copy(z, ONE, FE4);
}

/** Wipes this file's scratch (it held decoded or derived points). */
export function ristrettoWipeScratch(): void {
  memory.fill(A, 0, FE4);
  memory.fill(B, 0, FE4);
  memory.fill(C, 0, FE4);
  memory.fill(E, 0, FE4);
  memory.fill(F, 0, FE4);
  memory.fill(G, 0, FE4);
  memory.fill(H, 0, FE4);
  memory.fill(K, 0, FE4);
  memory.fill(R, 0, FE4);
  memory.fill(V3, 0, FE4);
  memory.fill(V7, 0, FE4);
  memory.fill(CHECK, 0, FE4);
  memory.fill(NEG_U, 0, FE4);
  memory.fill(NEG_U_I, 0, FE4);
  memory.fill(MAP_T, 0, FE4);
  memory.fill(MAP_P1, 0, 4 * FE4);
  memory.fill(MAP_P2, 0, 4 * FE4);
  memory.fill(MAP_CACHED, 0, CACHED);
  memory.fill(MAP_SUM, 0, P1P1);
}
