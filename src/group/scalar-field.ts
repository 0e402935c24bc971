import { GroupError } from '../errors.js';
import { byteModulus, bytesAreZero, checkScalarBytes, reduceRandomScalar } from './scalar-bytes.js';
import type { ScalarField } from './types.js';

/** The byte arithmetic a backend supplies; operands and results are SerializeScalar bytes in [0, order). */
export interface ScalarArithmetic {
  readonly constantTime: boolean;
  add(a: Uint8Array, b: Uint8Array): Uint8Array;
  sub(a: Uint8Array, b: Uint8Array): Uint8Array;
  mul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** Inverse of a nonzero scalar (callers check for zero first). */
  invert(a: Uint8Array): Uint8Array;
}

/**
 * The scalar field of a group: BigInt (de)serialization for public values, byte arithmetic
 * for secrets. Without `arithmetic` the byte operations are the BigInt reference below
 * (`constantTime: false`): used by the noble backends, where point multiplication is
 * BigInt anyway.
 */
export function makeScalarField(order: bigint, byteLength: number, littleEndian: boolean, arithmetic?: ScalarArithmetic): ScalarField {
  const modulus = byteModulus(order, byteLength, littleEndian);
  const toBytes = (value: bigint): Uint8Array => {
    const out = new Uint8Array(byteLength);
    let v = ((value % order) + order) % order;
    for (let i = 0; i < byteLength; i++) {
      out[littleEndian ? i : byteLength - 1 - i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  };
  const fromBytes = (bytes: Uint8Array): bigint => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== byteLength) {
      throw new GroupError('bad_scalar', `scalar must be ${byteLength} bytes`);
    }
    const v = bytesToBigint(bytes, littleEndian);
    // A non-reduced or zero scalar is never produced by a correct peer (RFC 9497 §2.1).
    if (v >= order) throw new GroupError('bad_scalar', 'scalar is not reduced modulo the group order');
    if (v === 0n) throw new GroupError('bad_scalar', 'scalar is zero');
    return v;
  };
  const ops = arithmetic ?? referenceArithmetic(order, byteLength, littleEndian, toBytes);
  const isZero = (bytes: Uint8Array): boolean => bytesAreZero(bytes);
  const invert = (a: Uint8Array): Uint8Array => {
    if (!(a instanceof Uint8Array) || a.length !== byteLength) throw new GroupError('bad_scalar', `scalar must be ${byteLength} bytes`);
    if (isZero(a)) throw new GroupError('bad_scalar', 'cannot invert zero');
    return ops.invert(a);
  };
  const invertEach = (scalars: readonly Uint8Array[]): Uint8Array[] => {
    // Montgomery's trick: n inverses for one inversion and 3(n - 1) multiplications.
    const n = scalars.length;
    if (n === 0) return [];
    const prefix = new Array<Uint8Array>(n); // prefix[i] = s_0 * ... * s_i
    prefix[0] = scalars[0].slice();
    for (let i = 1; i < n; i++) prefix[i] = ops.mul(prefix[i - 1], scalars[i]);
    try {
      let inv = invert(prefix[n - 1]); // zero iff some scalar is zero: bad_scalar
      const out = new Array<Uint8Array>(n);
      for (let i = n - 1; i > 0; i--) {
        out[i] = ops.mul(inv, prefix[i - 1]); // s_i^-1
        const next = ops.mul(inv, scalars[i]); // (s_0 * ... * s_(i-1))^-1
        inv.fill(0);
        inv = next;
      }
      out[0] = inv;
      return out;
    } finally {
      for (const p of prefix) p.fill(0);
    }
  };
  return Object.freeze({
    order,
    byteLength,
    littleEndian,
    toBytes,
    fromBytes,
    constantTime: ops.constantTime,
    check: (bytes: Uint8Array) => checkScalarBytes(modulus, bytes),
    isZero,
    add: ops.add,
    sub: ops.sub,
    mul: ops.mul,
    invert,
    invertEach,
    random: (rng) => reduceRandomScalar(modulus, rng(byteLength + 16)),
  } satisfies ScalarField);
}

function bytesToBigint(bytes: Uint8Array, littleEndian: boolean): bigint {
  let v = 0n;
  const n = bytes.length;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[littleEndian ? n - 1 - i : i]);
  return v;
}

/** BigInt arithmetic on bytes: the reference the constant-time code is tested against; NOT constant-time. */
function referenceArithmetic(order: bigint, byteLength: number, littleEndian: boolean, toBytes: (v: bigint) => Uint8Array): ScalarArithmetic {
  const big = (bytes: Uint8Array): bigint => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== byteLength) throw new GroupError('bad_scalar', `scalar must be ${byteLength} bytes`);
    return bytesToBigint(bytes, littleEndian);
  };
  return {
    constantTime: false,
    add: (a, b) => toBytes(big(a) + big(b)),
    sub: (a, b) => toBytes(big(a) - big(b)),
    mul: (a, b) => toBytes(big(a) * big(b)),
    invert: (a) => toBytes(invertScalar(big(a), order)),
  };
}

export function mod(a: bigint, order: bigint): bigint {
  const r = a % order;
  return r < 0n ? r + order : r;
}

/** Modular inverse by Fermat (order is prime), BigInt: the reference for tests and the noble backends; not constant-time. */
export function invertScalar(a: bigint, order: bigint): bigint {
  if (mod(a, order) === 0n) throw new GroupError('bad_scalar', 'cannot invert zero');
  let result = 1n;
  let base = mod(a, order);
  let exp = order - 2n;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % order;
    base = (base * base) % order;
    exp >>= 1n;
  }
  return result;
}
