/**
 * ristretto255 encoding and decoding (RFC 9496 §4.2, §4.3.1, §4.3.2) on top of the
 * edwards25519 arithmetic. Variable-time: see msm.ts for why that is acceptable here.
 */
import { D, INVSQRT_A_MINUS_D, SQRT_M1 } from './constants';
import {
  FE,
  feAbs,
  feAdd,
  feCopy,
  feEqual,
  feFromBytes,
  feIsNegative,
  feIsZero,
  feMul,
  feNeg,
  feOne,
  fePow22523,
  feSq,
  feSub,
  feToBytes,
} from './field';
import { T, X, Y, Z } from './point';

const R: usize = memory.data(<i32>FE, 16);
const V3: usize = memory.data(<i32>FE, 16);
const V7: usize = memory.data(<i32>FE, 16);
const CHECK: usize = memory.data(<i32>FE, 16);
const NEG_U: usize = memory.data(<i32>FE, 16);
const NEG_U_I: usize = memory.data(<i32>FE, 16);
const A: usize = memory.data(<i32>FE, 16);
const B: usize = memory.data(<i32>FE, 16);
const C: usize = memory.data(<i32>FE, 16);
const E: usize = memory.data(<i32>FE, 16);
const F: usize = memory.data(<i32>FE, 16);
const G: usize = memory.data(<i32>FE, 16);
const H: usize = memory.data(<i32>FE, 16);
const ONE: usize = memory.data(<i32>FE, 16);

/**
 * RFC 9496 §4.2 SQRT_RATIO_M1(u, v): out = the non-negative sqrt(u/v) or sqrt(i*u/v);
 * returns was_square. u and v must be carried values (products or decoded elements).
 */
export function sqrtRatioM1(out: usize, u: usize, v: usize): bool {
  feSq(V3, v);
  feMul(V3, V3, v); // v^3
  feSq(V7, V3);
  feMul(V7, V7, v); // v^7
  feMul(R, u, V7);
  fePow22523(R, R); // (u v^7)^((p-5)/8)
  feMul(R, R, V3);
  feMul(R, R, u); // r = (u v^3) (u v^7)^((p-5)/8)
  feSq(CHECK, R);
  feMul(CHECK, CHECK, v); // check = v r^2
  feNeg(NEG_U, u);
  const correctSign = feEqual(CHECK, u);
  const flippedSign = feEqual(CHECK, NEG_U);
  feMul(NEG_U_I, NEG_U, SQRT_M1);
  const flippedSignI = feEqual(CHECK, NEG_U_I);
  if (flippedSign || flippedSignI) feMul(R, R, SQRT_M1); // r' = SQRT_M1 * r
  feAbs(out, R);
  return correctSign || flippedSign;
}

/**
 * RFC 9496 §4.3.1 decode of the 32 bytes at s into the P3 p (affine: Z = 1). Returns
 * false, leaving p unspecified, for a non-canonical or negative field element and for a
 * value that is not the encoding of a group element. The identity (all zero) decodes.
 */
export function decode(p: usize, s: usize): bool {
  // Canonical: top bit clear and s < p = 2^255 - 19, i.e. not 0x7f ff .. ff (ed..ff) at the
  // top; non-negative: the low bit clear (libsodium ristretto255_is_canonical, same rule).
  const b0 = load<u8>(s, 0);
  const b31 = load<u8>(s, 31);
  if ((b31 & 0x80) != 0 || (b0 & 1) != 0) return false;
  if (b31 == 0x7f && b0 >= 0xed) {
    let allOnes = true;
    for (let i: usize = 1; i < 31; i++) {
      if (load<u8>(s + i) != 0xff) {
        allOnes = false;
        break;
      }
    }
    if (allOnes) return false;
  }
  const x = p + X, y = p + Y, z = p + Z, t = p + T;
  feFromBytes(E, s); // s
  feSq(A, E); // ss
  feOne(ONE);
  feSub(B, ONE, A); // u1 = 1 - ss
  feAdd(C, ONE, A); // u2 = 1 + ss
  feSq(F, C); // u2_sqr
  feSq(G, B);
  feMul(G, G, D); // D * u1^2
  feNeg(G, G);
  feSub(G, G, F); // v = -(D * u1^2) - u2_sqr
  feMul(H, G, F); // v * u2_sqr
  const wasSquare = sqrtRatioM1(H, ONE, H); // invsqrt
  feMul(C, H, C); // den_x = invsqrt * u2
  feMul(H, H, C);
  feMul(H, H, G); // den_y = invsqrt * den_x * v
  feAdd(E, E, E);
  feMul(x, E, C);
  feAbs(x, x); // x = |2 s den_x|
  feMul(y, B, H); // y = u1 * den_y
  feMul(t, x, y);
  feOne(z);
  return wasSquare && !feIsNegative(t) && !feIsZero(y);
}

/** RFC 9496 §4.3.2 encode of the P3 p into 32 bytes at s (all zero for the identity). */
export function encode(s: usize, p: usize): void {
  const x0 = p + X, y0 = p + Y, z0 = p + Z, t0 = p + T;
  feAdd(A, z0, y0);
  feSub(B, z0, y0);
  feMul(A, A, B); // u1 = (z0 + y0) (z0 - y0)
  feMul(B, x0, y0); // u2 = x0 y0
  feSq(C, B);
  feMul(C, C, A);
  feOne(ONE);
  sqrtRatioM1(C, ONE, C); // invsqrt of u1 u2^2
  feMul(E, C, A); // den1
  feMul(F, C, B); // den2
  feMul(G, E, F);
  feMul(G, G, t0); // z_inv = den1 den2 t0
  feMul(H, t0, G);
  const rotate = feIsNegative(H);
  let x: usize, y: usize, denInv: usize;
  if (rotate) {
    feMul(A, y0, SQRT_M1); // x = iy0
    feMul(B, x0, SQRT_M1); // y = ix0
    feMul(C, E, INVSQRT_A_MINUS_D); // den_inv = enchanted_denominator
    x = A;
    y = B;
    denInv = C;
  } else {
    feCopy(A, x0);
    feCopy(B, y0);
    x = A;
    y = B;
    denInv = F; // den2
  }
  feMul(H, x, G);
  if (feIsNegative(H)) feNeg(y, y); // y = CT_NEG(y, IS_NEGATIVE(x z_inv))
  feSub(H, z0, y);
  feMul(H, denInv, H);
  feAbs(H, H); // s = |den_inv (z - y)|
  feToBytes(s, H);
}
