/**
 * Curve and ristretto255 constants as fe4 values (the same constant in all four lanes),
 * filled once by initConstants() from their canonical limbs (radix 2^25.5, limb i at bit
 * 0, 26, 51, 77, 102, 128, 153, 179, 204, 230). Values: RFC 9496 §4.1 and RFC 8032 §5.1;
 * the limbs were computed from those decimal values and are checked end to end by the
 * RFC 9496 Appendix A vectors in test/wasm-x4.test.ts.
 */
import { FE4 } from './fe4';

/** edwards25519 d = -121665/121666 */
export const D: usize = memory.data(<i32>FE4, 16);
/** 2d (ref10 d2, the cached form's T2d factor) */
export const D2: usize = memory.data(<i32>FE4, 16);
/** SQRT_M1, a square root of -1 */
export const SQRT_M1: usize = memory.data(<i32>FE4, 16);
/** INVSQRT_A_MINUS_D = 1/sqrt(a - d), a = -1 */
export const INVSQRT_A_MINUS_D: usize = memory.data(<i32>FE4, 16);
/** SQRT_AD_MINUS_ONE = sqrt(a d - 1) */
export const SQRT_AD_MINUS_ONE: usize = memory.data(<i32>FE4, 16);
/** ONE_MINUS_D_SQ = 1 - d^2 */
export const ONE_MINUS_D_SQ: usize = memory.data(<i32>FE4, 16);
/** D_MINUS_ONE_SQ = (d - 1)^2 */
export const D_MINUS_ONE_SQ: usize = memory.data(<i32>FE4, 16);
/** 1 */
export const ONE: usize = memory.data(<i32>FE4, 16);

// Limbs, low first (10 x i32 each), in the order of the slots above minus ONE.
const LIMBS: usize = memory.data<i32>([
  // D
  56195235, 13857412, 51736253, 6949390, 114729, 24766616, 60832955, 30306712, 48412415, 21499315,
  // D2
  45281625, 27714825, 36363642, 13898781, 229458, 15978800, 54557047, 27058993, 29715967, 9444199,
  // SQRT_M1
  34513072, 25610706, 9377949, 3500415, 12389472, 33281959, 41962654, 31548777, 326685, 11406482,
  // INVSQRT_A_MINUS_D
  6111466, 4156064, 39310137, 12243467, 41204824, 120896, 20826367, 26493656, 6093567, 31568420,
  // SQRT_AD_MINUS_ONE
  24849947, 33400850, 43495378, 6347714, 46036536, 32887293, 41837720, 18186727, 66238516, 14525638,
  // ONE_MINUS_D_SQ
  6275446, 16937061, 44170319, 29780721, 11667076, 7397348, 39186143, 1766194, 42675006, 672202,
  // D_MINUS_ONE_SQ
  15551776, 22456977, 53683765, 23429360, 55212328, 10178283, 40474537, 4729243, 61826754, 23438029,
]);

function splatInto(dst: usize, limbs: usize): void {
  for (let i: usize = 0; i < 10; i++) v128.store(dst + (i << 4), i32x4.splat(load<i32>(limbs + (i << 2))));
}

export function initConstants(): void {
  splatInto(D, LIMBS);
  splatInto(D2, LIMBS + 40);
  splatInto(SQRT_M1, LIMBS + 80);
  splatInto(INVSQRT_A_MINUS_D, LIMBS + 120);
  splatInto(SQRT_AD_MINUS_ONE, LIMBS + 160);
  splatInto(ONE_MINUS_D_SQ, LIMBS + 200);
  splatInto(D_MINUS_ONE_SQ, LIMBS + 240);
  memory.fill(ONE, 0, FE4);
  v128.store(ONE, i32x4.splat(1));
}
