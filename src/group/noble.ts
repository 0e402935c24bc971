/**
 * The reference backend: @noble/curves (audited, pure JS, runs in browsers and React
 * Native). Slow-ish (~0.5 ms per multiplication) but the definition of "correct" that the
 * faster backends are checked against.
 *
 * Not constant-time in the scalars: noble's points and scalars are JS BigInts, so a secret
 * scalar given as bytes is converted to a BigInt here, and the scalar field's arithmetic
 * is the BigInt reference (`scalar.constantTime === false`). spec/protocol.md
 * "Constant-time operations" says where this backend is the one in use.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { p256, p256_hasher } from '@noble/curves/nist.js';
import { GroupError } from '../errors.js';
import { elementAt, packedCount } from './packed.js';
import { makeScalarField } from './scalar-field.js';
import type { Group, GroupId, ScalarInput } from './types.js';

interface NoblePoint<P> {
  multiply(s: bigint): P;
  add(other: P): P;
  equals(other: P): boolean;
  toBytes(): Uint8Array;
}

interface NobleSuite<P extends NoblePoint<P>> {
  id: GroupId;
  elementSize: number;
  littleEndian: boolean;
  Point: { BASE: P; ZERO: P; fromBytes(b: Uint8Array): P; Fn: { ORDER: bigint } };
  hashToCurve(msg: Uint8Array, opts: { DST: Uint8Array }): P;
  hashToScalar(msg: Uint8Array, opts: { DST: Uint8Array }): bigint;
}

function makeNobleGroup<P extends NoblePoint<P>>(suite: NobleSuite<P>): Group {
  const { Point, elementSize, id } = suite;
  const order = Point.Fn.ORDER;
  const scalar = makeScalarField(order, 32, suite.littleEndian);

  const decode = (bytes: Uint8Array, index?: number): P => {
    const where = index === undefined ? '' : ` at index ${index}`;
    // Length first: P-256 would otherwise also accept 65-byte uncompressed points, and
    // RFC 9497 §4.4 fixes SerializeElement to the 33-byte compressed form.
    if (!(bytes instanceof Uint8Array) || bytes.length !== elementSize) {
      throw new GroupError('bad_length', `element${where} must be ${elementSize} bytes`);
    }
    let point: P;
    try {
      point = Point.fromBytes(bytes);
    } catch {
      throw new GroupError('bad_element', `element${where} is not a canonical encoding of a group element`);
    }
    // RFC 9497 §3.3: the identity received over the wire MUST be rejected.
    if (point.equals(Point.ZERO)) throw new GroupError('identity_element', `element${where} is the identity`);
    return point;
  };

  // noble throws a RangeError for a scalar outside [1, order); report it with our code.
  // Bytes become a BigInt here (noble has no other scalar type): not constant-time.
  const checkScalar = (input: ScalarInput): bigint => {
    let s = input;
    if (s instanceof Uint8Array) {
      if (s.length !== scalar.byteLength) throw new GroupError('bad_scalar', 'scalar must be in [1, order)');
      let v = 0n;
      for (let i = 0; i < s.length; i++) v = (v << 8n) | BigInt(s[suite.littleEndian ? s.length - 1 - i : i]);
      s = v;
    }
    if (typeof s !== 'bigint' || s <= 0n || s >= order) throw new GroupError('bad_scalar', 'scalar must be in [1, order)');
    return s;
  };

  const encodeNonIdentity = (point: P): Uint8Array => {
    if (point.equals(Point.ZERO)) throw new GroupError('identity_element', 'result is the identity');
    return point.toBytes();
  };

  const group: Group = {
    id,
    backend: 'noble',
    elementSize,
    scalar,
    generator: Point.BASE.toBytes(),
    hashToGroup: (msg, dst) => encodeNonIdentity(suite.hashToCurve(msg, { DST: dst })),
    hashToGroupBatch(msgs, dst) {
      const out = new Uint8Array(msgs.length * elementSize);
      msgs.forEach((m, i) => out.set(encodeNonIdentity(suite.hashToCurve(m, { DST: dst })), i * elementSize));
      return out;
    },
    hashToScalar: (msg, dst) => suite.hashToScalar(msg, { DST: dst }),
    hashToScalarBytes: (msg, dst) => scalar.toBytes(suite.hashToScalar(msg, { DST: dst })),
    validateElement: (bytes) => void decode(bytes),
    validatePacked(packed) {
      const n = packedCount(packed, elementSize);
      for (let i = 0; i < n; i++) decode(elementAt(packed, i, elementSize), i);
      return n;
    },
    multiply: (s, element) => encodeNonIdentity(decode(element).multiply(checkScalar(s))),
    multiplyPacked(scalarInput, packed) {
      const s = checkScalar(scalarInput);
      const n = packedCount(packed, elementSize);
      const out = new Uint8Array(packed.length);
      for (let i = 0; i < n; i++) {
        out.set(encodeNonIdentity(decode(elementAt(packed, i, elementSize), i).multiply(s)), i * elementSize);
      }
      return out;
    },
    multiplyEach(scalars, packed) {
      const n = packedCount(packed, elementSize);
      if (scalars.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      const out = new Uint8Array(packed.length);
      for (let i = 0; i < n; i++) {
        out.set(encodeNonIdentity(decode(elementAt(packed, i, elementSize), i).multiply(checkScalar(scalars[i]))), i * elementSize);
      }
      return out;
    },
    multiplyBase: (s) => encodeNonIdentity(Point.BASE.multiply(checkScalar(s))),
    multiScalarMultiply(scalars, packed) {
      const n = packedCount(packed, elementSize);
      const asBytes = scalars instanceof Uint8Array;
      if ((asBytes ? scalars.length / scalar.byteLength : scalars.length) !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      const scalarAt = (i: number): ScalarInput => (asBytes ? scalars.subarray(i * scalar.byteLength, (i + 1) * scalar.byteLength) : scalars[i]);
      let acc = Point.ZERO;
      for (let i = 0; i < n; i++) acc = acc.add(decode(elementAt(packed, i, elementSize), i).multiply(checkScalar(scalarAt(i))));
      return encodeNonIdentity(acc);
    },
    equals: (a, b) => decode(a).equals(decode(b)),
  };
  return Object.freeze(group);
}

export const nobleRistretto255: Group = makeNobleGroup({
  id: 'ristretto255',
  elementSize: 32,
  littleEndian: true,
  Point: ristretto255.Point as never,
  hashToCurve: (m, o) => ristretto255_hasher.hashToCurve(m, o) as never,
  hashToScalar: (m, o) => ristretto255_hasher.hashToScalar(m, o),
});

export const nobleP256: Group = makeNobleGroup({
  id: 'P256',
  elementSize: 33,
  littleEndian: false,
  Point: p256.Point as never,
  hashToCurve: (m, o) => p256_hasher.hashToCurve(m, o) as never,
  hashToScalar: (m, o) => p256_hasher.hashToScalar(m, o),
});
