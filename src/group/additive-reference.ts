/**
 * Additive blinding's group steps on @noble/curves (the reference: pure JS, not constant
 * time in the scalars, like the noble backend itself). src/oprf/additive.ts uses it when
 * a ristretto255 group has no fixed-base comb (the noble backend, or no WebAssembly SIMD),
 * and the tests check the comb against it. The decoded form of a batch is its packed
 * encodings themselves (src/oprf/additive.ts validates them first).
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { GroupError } from '../errors.js';
import { elementAt } from './packed.js';
import { bytesToScalar } from './wasm-bytes.js';

const { Point } = ristretto255;
const SIZE = 32;

/** A scalar of the packed batch (little-endian, RFC 9496 §4.4) in [1, L), else `bad_scalar`. */
function scalarAt(scalars: Uint8Array, i: number): bigint {
  const s = bytesToScalar(scalars.subarray(32 * i, 32 * i + 32));
  if (s <= 0n || s >= Point.Fn.ORDER) throw new GroupError('bad_scalar', 'invalid scalar: expected 1 <= scalar < group order');
  return s;
}

function checkCount(scalars: Uint8Array, n: number): void {
  if (!(scalars instanceof Uint8Array) || scalars.length !== 32 * n) throw new GroupError('bad_length', 'one scalar per element expected');
}

/** encode(H(msgs_i) + scalars_i G) (RFC 9380 hash_to_ristretto255 with `dst`). */
export function hashToGroupAddBaseReference(scalars: Uint8Array, msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array {
  checkCount(scalars, msgs.length);
  const out = new Uint8Array(msgs.length * SIZE);
  msgs.forEach((m, i) => {
    const p = (ristretto255_hasher.hashToCurve(m, { DST: dst }) as unknown as InstanceType<typeof Point>).add(Point.BASE.multiply(scalarAt(scalars, i)));
    if (p.equals(Point.ZERO)) throw new GroupError('identity_element', 'result is the identity');
    out.set(p.toBytes(), i * SIZE);
  });
  return out;
}

/** encode(D_i - scalars_i base) for the packed D_i. */
export function subtractBaseReference(base: Uint8Array, scalars: Uint8Array, packed: Uint8Array): Uint8Array {
  const n = packed.length / SIZE;
  checkCount(scalars, n);
  const B = Point.fromBytes(base);
  const out = new Uint8Array(packed.length);
  for (let i = 0; i < n; i++) {
    const p = Point.fromBytes(elementAt(packed, i, SIZE)).subtract(B.multiply(scalarAt(scalars, i)));
    if (p.equals(Point.ZERO)) throw new GroupError('identity_element', 'result is the identity');
    out.set(p.toBytes(), i * SIZE);
  }
  return out;
}
