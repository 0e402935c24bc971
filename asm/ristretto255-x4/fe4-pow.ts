/**
 * Exponentiation in GF(2^255 - 19) for four lanes: z^((p - 5) / 8) = z^(2^252 - 3), the
 * exponent of RFC 9496 §4.2 SQRT_RATIO_M1, with ref10's addition chain (fe25519_pow22523:
 * 250 squarings and 11 multiplications). The chain is fixed, so it is constant time.
 */
import { FE4, fe4Mul, fe4Sq } from './fe4';

const T0: usize = memory.data(<i32>FE4, 16);
const T1: usize = memory.data(<i32>FE4, 16);
const T2: usize = memory.data(<i32>FE4, 16);
const T3: usize = memory.data(<i32>FE4, 16);

/** h = f^(2^times) */
function sqTimes(h: usize, f: usize, times: i32): void {
  fe4Sq(h, f);
  for (let i = 1; i < times; i++) fe4Sq(h, h);
}

/** out = z^(2^252 - 3); out may alias z. */
export function fe4Pow22523(out: usize, z: usize): void {
  fe4Sq(T0, z); // z^2
  sqTimes(T1, T0, 2); // z^8
  fe4Mul(T1, z, T1); // z^9
  fe4Mul(T0, T0, T1); // z^11
  fe4Sq(T0, T0); // z^22
  fe4Mul(T0, T1, T0); // z^(2^5 - 1)
  sqTimes(T1, T0, 5);
  fe4Mul(T0, T1, T0); // z^(2^10 - 1)
  sqTimes(T1, T0, 10);
  fe4Mul(T1, T1, T0); // z^(2^20 - 1)
  sqTimes(T2, T1, 20);
  fe4Mul(T1, T2, T1); // z^(2^40 - 1)
  sqTimes(T1, T1, 10);
  fe4Mul(T0, T1, T0); // z^(2^50 - 1)
  sqTimes(T1, T0, 50);
  fe4Mul(T1, T1, T0); // z^(2^100 - 1)
  sqTimes(T2, T1, 100);
  fe4Mul(T1, T2, T1); // z^(2^200 - 1)
  sqTimes(T1, T1, 50);
  fe4Mul(T0, T1, T0); // z^(2^250 - 1)
  sqTimes(T0, T0, 2); // z^(2^252 - 4)
  fe4Mul(out, T0, z); // z^(2^252 - 3)
}

/**
 * out = z^(p - 2) = z^(2^255 - 21), the inverse of z (0 for z = 0), with ref10's chain
 * (fe25519_invert: 254 squarings and 11 multiplications); out may alias z. The batch
 * encoding (batch-encode4.ts) inverts one product per group of passes with it.
 */
export function fe4Invert(out: usize, z: usize): void {
  fe4Sq(T0, z); // z^2
  sqTimes(T1, T0, 2); // z^8
  fe4Mul(T1, z, T1); // z^9
  fe4Mul(T0, T0, T1); // z^11
  fe4Sq(T2, T0); // z^22
  fe4Mul(T1, T1, T2); // z^(2^5 - 1)
  sqTimes(T2, T1, 5);
  fe4Mul(T1, T2, T1); // z^(2^10 - 1)
  sqTimes(T2, T1, 10);
  fe4Mul(T2, T2, T1); // z^(2^20 - 1)
  sqTimes(T3, T2, 20);
  fe4Mul(T2, T3, T2); // z^(2^40 - 1)
  sqTimes(T2, T2, 10);
  fe4Mul(T1, T2, T1); // z^(2^50 - 1)
  sqTimes(T2, T1, 50);
  fe4Mul(T2, T2, T1); // z^(2^100 - 1)
  sqTimes(T3, T2, 100);
  fe4Mul(T2, T3, T2); // z^(2^200 - 1)
  sqTimes(T2, T2, 50);
  fe4Mul(T1, T2, T1); // z^(2^250 - 1)
  sqTimes(T1, T1, 5); // z^(2^255 - 32)
  fe4Mul(out, T1, T0); // z^(2^255 - 21)
}

export function powWipeScratch(): void {
  memory.fill(T0, 0, FE4);
  memory.fill(T1, 0, FE4);
  memory.fill(T2, 0, FE4);
  memory.fill(T3, 0, FE4);
}
