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
  readonly orderMinusOneLimbs: Float64Array;
  /** 1 / (order - 1) as a double, for the quotient estimate. */
  readonly orderMinusOneInverse: number;
}

const LIMB_BITS = 24;
const LIMB = 2 ** LIMB_BITS;
const LIMB_INV = 2 ** -LIMB_BITS;
const LIMB_MASK = LIMB - 1;
/** 2^(24 i), exact in a double. */
const LIMB_POW = Array.from({ length: 16 }, (_, i) => 2 ** (LIMB_BITS * i));

export function byteModulus(order: bigint, byteLength: number, littleEndian: boolean): ByteModulus {
  const orderLsbFirst = new Uint8Array(byteLength);
  for (let i = 0, v = order; i < byteLength; i++, v >>= 8n) orderLsbFirst[i] = Number(v & 0xffn);
  // Spare limbs: 256 r + 255 < 2^(8 byteLength + 8) must fit while reducing.
  const limbs = Math.ceil((byteLength * 8 + 8) / LIMB_BITS) + 1;
  if (limbs > LIMB_POW.length || order < 2n ** BigInt(8 * byteLength - 8)) throw new RangeError('unsupported scalar field size');
  const orderMinusOneLimbs = new Float64Array(limbs);
  for (let i = 0, v = order - 1n; i < limbs; i++, v >>= BigInt(LIMB_BITS)) orderMinusOneLimbs[i] = Number(v & BigInt(LIMB_MASK));
  const orderMinusOneInverse = 1 / Number(order - 1n);
  return Object.freeze({ order, byteLength, littleEndian, orderLsbFirst, orderMinusOneLimbs, orderMinusOneInverse });
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
 * integer v of `wide` (any length), then (v mod (order - 1)) + 1, in [1, order).
 *
 * Long division one byte at a time on 24-bit limbs held in doubles (exact below 2^53):
 * r = 256 r + byte, then r -= q (order - 1) with q estimated from the top limbs by a
 * multiplication with a precomputed reciprocal (no division instruction, whose latency
 * may depend on the operands), then one masked addition and one masked subtraction of the
 * modulus fix an estimate that was one off. No branch or index depends on the value, so
 * the time depends only on the lengths. `wide` is wiped.
 */
export function reduceRandomScalar(m: ByteModulus, wide: Uint8Array): Uint8Array {
  const r = new Float64Array(m.orderMinusOneLimbs.length);
  const t = new Float64Array(r.length);
  for (let byte = 0; byte < wide.length; byte++) mulAddReduce(m, r, t, 256, wide[byte]);
  const out = finishRandomScalar(m, r);
  t.fill(0);
  wide.fill(0);
  return out;
}

/**
 * One step of the division: r = scale r + v, reduced modulo (order - 1), for r < order - 1
 * and scale r + v < (order - 1) 2^24 (a byte per step, or three: random-scalar-limbs.ts).
 * q is estimated from the top four limbs (exact, or one off: the top limbs hold every bit
 * above 2^(24 (n - 4)) and doubles are exact to ~2^-50), then one masked add-back and one
 * masked subtraction bring r - q (order - 1) into range. `t` is scratch of r's length.
 */
export function mulAddReduce(m: ByteModulus, r: Float64Array, t: Float64Array, scale: number, v: number): void {
  const mod = m.orderMinusOneLimbs;
  const n = mod.length;
  let carry = v;
  for (let i = 0; i < n; i++) {
    const x = r[i] * scale + carry;
    carry = Math.floor(x * LIMB_INV);
    r[i] = x - carry * LIMB;
  }
  // q ~ floor(r / (order - 1)) from the top four limbs: exact, or one too large or small
  let top = 0;
  for (let i = n - 4; i < n; i++) top += r[i] * LIMB_POW[i];
  const q = Math.floor(top * m.orderMinusOneInverse);
  // r -= q (order - 1), with a signed carry; the final carry is 0 or -1 (r in (-m, 2m))
  carry = 0;
  for (let i = 0; i < n; i++) {
    const x = r[i] - q * mod[i] + carry;
    carry = Math.floor(x * LIMB_INV);
    r[i] = x - carry * LIMB;
  }
  // negative: add the modulus back (masked by the sign, 0 or 1)
  const negative = -carry;
  carry = 0;
  for (let i = 0; i < n; i++) {
    const x = r[i] + negative * mod[i] + carry;
    carry = Math.floor(x * LIMB_INV);
    r[i] = x - carry * LIMB;
  }
  // r >= modulus: subtract it (t = r - modulus, kept when there is no borrow)
  carry = 0;
  for (let i = 0; i < n; i++) {
    const x = r[i] - mod[i] + carry;
    carry = Math.floor(x * LIMB_INV);
    t[i] = x - carry * LIMB;
  }
  const takeT = 1 + carry; // carry is -1 (borrow: r < modulus, keep r) or 0 (take t)
  for (let i = 0; i < n; i++) r[i] = r[i] * (1 - takeT) + t[i] * takeT;
}

/** (r + 1) as the field's scalar bytes, for r <= order - 2; r is wiped. */
export function finishRandomScalar(m: ByteModulus, r: Float64Array): Uint8Array {
  const n = r.length;
  // + 1: r <= order - 2, so no carry leaves the limbs.
  let carry = 1;
  for (let i = 0; i < n; i++) {
    const x = r[i] + carry;
    carry = Math.floor(x * LIMB_INV);
    r[i] = x - carry * LIMB;
  }
  const out = new Uint8Array(m.byteLength);
  for (let i = 0; i < m.byteLength; i++) {
    const limb = ((8 * i) / LIMB_BITS) | 0; // public index: depends on i only
    const shift = (8 * i) % LIMB_BITS; // 24 is a multiple of 8: a byte never spans two limbs
    out[m.littleEndian ? i : m.byteLength - 1 - i] = (r[limb] >>> shift) & 0xff;
  }
  r.fill(0);
  return out;
}
