/**
 * Branch-free byte-level scalar helpers shared by every backend: the range check of a
 * serialized scalar, the zero test, and RFC 9497 §2.1 RandomScalar. They never turn a
 * secret into a JS BigInt (whose arithmetic time depends on the value) and have no branch
 * or memory index that depends on the value: every loop runs a fixed number of times over
 * small integers, and selections are done with masks. (A JS engine gives no formal
 * constant-time guarantee; this is the best plain JS offers, and the same discipline as
 * the WASM modules.)
 */
import { GroupError } from '../errors.js';

/** A modulus prepared for the helpers below. */
export interface ByteModulus {
  readonly order: bigint;
  readonly byteLength: number;
  readonly littleEndian: boolean;
  /** order as bytes, least significant first. */
  readonly orderLsbFirst: Uint8Array;
  /** order - 1 in 24-bit limbs, least significant first (RandomScalar's modulus). */
  readonly orderMinusOneLimbs: Int32Array;
}

const LIMB_BITS = 24;
const LIMB_MASK = (1 << LIMB_BITS) - 1;

export function byteModulus(order: bigint, byteLength: number, littleEndian: boolean): ByteModulus {
  const orderLsbFirst = new Uint8Array(byteLength);
  for (let i = 0, v = order; i < byteLength; i++, v >>= 8n) orderLsbFirst[i] = Number(v & 0xffn);
  // One spare limb: 2r + 1 < 2 * order must fit while reducing.
  const limbs = Math.ceil((byteLength * 8) / LIMB_BITS) + 1;
  const orderMinusOneLimbs = new Int32Array(limbs);
  for (let i = 0, v = order - 1n; i < limbs; i++, v >>= BigInt(LIMB_BITS)) orderMinusOneLimbs[i] = Number(v & BigInt(LIMB_MASK));
  return Object.freeze({ order, byteLength, littleEndian, orderLsbFirst, orderMinusOneLimbs });
}

/** Byte i of the scalar counted from the least significant end. */
const lsb = (m: ByteModulus, bytes: Uint8Array, i: number): number => bytes[m.littleEndian ? i : m.byteLength - 1 - i];

/** 1 <= bytes < order, with the borrow of bytes - order and an OR of all bytes; no early exit. */
export function scalarBytesValid(m: ByteModulus, bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.length !== m.byteLength) return false;
  let borrow = 0;
  let any = 0;
  for (let i = 0; i < m.byteLength; i++) {
    const b = lsb(m, bytes, i);
    borrow = ((b - m.orderLsbFirst[i] - borrow) >> 8) & 1;
    any |= b;
  }
  // borrow = 1 iff bytes < order; (any + 0xff) >> 8 = 1 iff some byte is nonzero.
  return (borrow & ((any + 0xff) >> 8)) === 1;
}

/** Throws the strict decoder's `bad_scalar` unless 1 <= bytes < order; returns bytes. */
export function checkScalarBytes(m: ByteModulus, bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== m.byteLength) {
    throw new GroupError('bad_scalar', `scalar must be ${m.byteLength} bytes`);
  }
  if (!scalarBytesValid(m, bytes)) throw new GroupError('bad_scalar', 'scalar is zero or not reduced modulo the group order');
  return bytes;
}

export function bytesAreZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

/**
 * RFC 9497 §2.1 RandomScalar as this project has always computed it: the big-endian
 * integer v of `wide` (any length), then (v mod (order - 1)) + 1, in [1, order). Bit-serial
 * long division with a masked conditional subtraction per bit, so the time depends only on
 * the lengths. `wide` is wiped.
 */
export function reduceRandomScalar(m: ByteModulus, wide: Uint8Array): Uint8Array {
  const mod = m.orderMinusOneLimbs;
  const n = mod.length;
  const r = new Int32Array(n);
  const t = new Int32Array(n);
  for (let byte = 0; byte < wide.length; byte++) {
    const value = wide[byte];
    for (let bit = 7; bit >= 0; bit--) {
      // r = 2r + bit (r < order - 1, so 2r + 1 < 2^(8 * byteLength + 1) fits the limbs)
      let carry = (value >> bit) & 1;
      for (let i = 0; i < n; i++) {
        const x = (r[i] << 1) | carry;
        r[i] = x & LIMB_MASK;
        carry = x >>> LIMB_BITS;
      }
      // t = r - (order - 1); keep t when there is no borrow (r >= order - 1)
      let borrow = 0;
      for (let i = 0; i < n; i++) {
        const d = r[i] - mod[i] - borrow;
        t[i] = d & LIMB_MASK;
        borrow = (d >>> 31) & 1;
      }
      const take = borrow - 1; // -1 (all ones) when no borrow, 0 otherwise
      for (let i = 0; i < n; i++) r[i] = (r[i] & ~take) | (t[i] & take);
    }
  }
  // + 1: r <= order - 2, so no carry leaves the limbs.
  let carry = 1;
  for (let i = 0; i < n; i++) {
    const x = r[i] + carry;
    r[i] = x & LIMB_MASK;
    carry = x >>> LIMB_BITS;
  }
  const out = new Uint8Array(m.byteLength);
  for (let i = 0; i < m.byteLength; i++) {
    const bitAt = 8 * i;
    const limb = (bitAt / LIMB_BITS) | 0; // public index: depends on i only
    const shift = bitAt % LIMB_BITS;
    const byte = (r[limb] >>> shift) & 0xff; // 24 is a multiple of 8: a byte never spans two limbs
    out[m.littleEndian ? i : m.byteLength - 1 - i] = byte;
  }
  r.fill(0);
  t.fill(0);
  wide.fill(0);
  return out;
}
