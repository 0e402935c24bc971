import { GroupError } from '../errors.js';
import type { ScalarField } from './types.js';

/** Scalar (de)serialization shared by the backends; arithmetic is plain bigint mod order. */
export function makeScalarField(order: bigint, byteLength: number, littleEndian: boolean): ScalarField {
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
    let v = 0n;
    for (let i = 0; i < byteLength; i++) {
      v = (v << 8n) | BigInt(bytes[littleEndian ? byteLength - 1 - i : i]);
    }
    // A non-reduced or zero scalar is never produced by a correct peer (RFC 9497 §2.1).
    if (v >= order) throw new GroupError('bad_scalar', 'scalar is not reduced modulo the group order');
    if (v === 0n) throw new GroupError('bad_scalar', 'scalar is zero');
    return v;
  };
  return Object.freeze({ order, byteLength, littleEndian, toBytes, fromBytes });
}

export function mod(a: bigint, order: bigint): bigint {
  const r = a % order;
  return r < 0n ? r + order : r;
}

/** Modular inverse by Fermat (order is prime); inputs here are secret blinds, so no early exit. */
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
