/**
 * The ristretto255 Group on the libsodium primitives (sodium-primitives.ts), byte for byte
 * identical to `nobleRistretto255` (test/group-backends.test.ts proves it), mirroring
 * noble.ts check for check (same codes, same order, same messages).
 *
 * Secret scalars (keys, blinds, inverses, proof nonces) arrive as bytes, are range-checked
 * without BigInt (scalar-bytes.ts) and go to libsodium or the SIMD module as they are; the
 * scalar field's arithmetic is libsodium's (constant time). Bigint scalars are still taken
 * (public values, test vectors) and converted here.
 *
 * libsodium has no multi-scalar multiplication, so `multiScalarMultiply` (the DLEQ
 * composites, public inputs) runs on our own WebAssembly Pippenger/Straus MSM
 * (wasm-msm.ts) when it loads, and falls back to n libsodium multiplications and additions.
 * Batches of at least X4_MIN_BATCH elements (multiplyPacked, multiplyEach,
 * hashToGroupBatch, hashToGroupMultiply) run on the four-lane WebAssembly SIMD module
 * (wasm-x4.ts: four points per pass, constant time, ~2x libsodium per point) when it loads;
 * single elements and smaller batches stay on libsodium, which does one point per pass.
 */
import { ContactPsiError, GroupError } from '../errors.js';
import { DecodedBatches } from './decoded-batches.js';
import { elementAt, packedCount } from './packed.js';
import { ORDER } from './ristretto-order.js';
import { byteModulus, bytesAreZero, scalarBytesValid } from './scalar-bytes.js';
import { makeScalarField } from './scalar-field.js';
import type { SodiumPrimitives } from './sodium-primitives.js';
import { KAT } from './sodium-self-test.js';
import type { Group, ScalarInput } from './types.js';
import { bytesToScalar, fromHex, scalarToBytes } from './wasm-bytes.js';
import type { WasmMsm } from './wasm-msm.js';
import type { WasmX4 } from './wasm-x4.js';
import { additiveX4 } from './additive-x4.js';

/** From this many elements a four-lane pass (fixed cost of four points) beats libsodium's one at a time. */
export const X4_MIN_BATCH = 3;

const ELEMENT_SIZE = 32;
const SCALAR_SIZE = 32;
const MODULUS = byteModulus(ORDER, SCALAR_SIZE, true);
const BAD_SCALAR = 'invalid scalar: expected 1 <= scalar < group order';

const isZero = bytesAreZero;
/** useX4's answer for "the fast check found a bad element": the libsodium loop then names it. */
const EMPTY = new Uint8Array(0);

export function makeSodiumGroup(p: SodiumPrimitives, wasm: WasmMsm | null, x4: WasmX4 | null): Group {
  // Coordinates of batches validatePacked decoded, for their evaluation (decoded-batches.ts).
  const decoded = new DecodedBatches();
  const scalar = makeScalarField(ORDER, SCALAR_SIZE, true, {
    constantTime: true,
    add: (a, b) => p.scalarAdd(a, b),
    sub: (a, b) => p.scalarSub(a, b),
    mul: (a, b) => p.scalarMul(a, b),
    invert(a) {
      const inverse = p.scalarInvert(a);
      if (inverse === null) throw new GroupError('bad_scalar', 'cannot invert zero');
      return inverse;
    },
  });

  const decode = (bytes: Uint8Array, index?: number): void => {
    const where = index === undefined ? '' : ` at index ${index}`;
    if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_SIZE) {
      throw new GroupError('bad_length', `element${where} must be ${ELEMENT_SIZE} bytes`);
    }
    // libsodium's is_valid_point is RFC 9496 §4.3.1 decode (canonical, square, sign
    // checks) and accepts the identity; the identity's only canonical encoding is 32 zero
    // bytes, so RFC 9497 §3.3's identity rejection is a zero test.
    if (!p.isValid(bytes)) {
      throw new GroupError('bad_element', `element${where} is not a canonical encoding of a group element`);
    }
    if (isZero(bytes)) throw new GroupError('identity_element', `element${where} is the identity`);
  };

  // noble rejects scalars outside [1, L) instead of reducing them (0 would give the
  // identity); libsodium would silently clear bit 255 and reduce, so check here. Bytes are
  // checked branch-free and copied (the copy is wiped after use, the caller's is not ours).
  const scalarBytes = (s: ScalarInput): Uint8Array => {
    if (s instanceof Uint8Array) {
      if (!scalarBytesValid(MODULUS, s)) throw new GroupError('bad_scalar', BAD_SCALAR);
      return s.slice();
    }
    if (typeof s !== 'bigint' || s <= 0n || s >= ORDER) throw new GroupError('bad_scalar', BAD_SCALAR);
    return scalarToBytes(s);
  };

  /**
   * n scalars packed for the SIMD module; an invalid one is written as zero, which the
   * module's own branch-free check reports as `bad_scalar` after the elements before it.
   */
  const packScalars = (scalars: readonly ScalarInput[]): Uint8Array => {
    const out = new Uint8Array(scalars.length * SCALAR_SIZE);
    scalars.forEach((s, i) => {
      if (s instanceof Uint8Array ? scalarBytesValid(MODULUS, s) : typeof s === 'bigint' && s > 0n && s < ORDER) {
        const bytes = scalarBytes(s);
        out.set(bytes, i * SCALAR_SIZE);
        bytes.fill(0);
      }
    });
    return out;
  };

  const nonIdentity = (result: Uint8Array | null): Uint8Array => {
    if (result === null || isZero(result)) throw new GroupError('identity_element', 'result is the identity');
    return result;
  };

  const validScalar = (s: bigint): boolean => typeof s === 'bigint' && s > 0n && s < ORDER;
  const withWiped = <T>(secret: Uint8Array, run: (bytes: Uint8Array) => T): T => {
    try {
      return run(secret);
    } finally {
      secret.fill(0);
    }
  };

  /**
   * The WASM MSM with the naive loop's errors, in the naive loop's order (element i is
   * decoded before scalar i is checked): the WASM module decodes strictly and names the
   * first bad element, and a bad scalar is reported here after the elements before it.
   * Undefined when the WASM memory cannot grow, so that the naive loop runs instead.
   */
  const wasmMsm = (m: WasmMsm, scalars: readonly bigint[] | Uint8Array, packed: Uint8Array): Uint8Array | undefined => {
    const n = packed.length / ELEMENT_SIZE;
    const asBytes = scalars instanceof Uint8Array;
    for (let i = 0; i < n; i++) {
      if (asBytes ? scalarBytesValid(MODULUS, scalars.subarray(i * SCALAR_SIZE, (i + 1) * SCALAR_SIZE)) : validScalar(scalars[i])) continue;
      for (let j = 0; j <= i; j++) decode(elementAt(packed, j, ELEMENT_SIZE), j);
      scalarBytes(asBytes ? scalars.subarray(i * SCALAR_SIZE, (i + 1) * SCALAR_SIZE) : scalars[i]); // throws bad_scalar
    }
    try {
      return m.msm(scalars, packed);
    } catch (err) {
      if (err instanceof ContactPsiError && err.code === 'backend_unavailable') return undefined;
      throw err;
    }
  };

  const hashToGroup = (msg: Uint8Array, dst: Uint8Array): Uint8Array =>
    nonIdentity(p.fromHash(p.expandXmd(msg, dst, 64))); // RFC 9380 Appendix B hash_to_ristretto255

  /**
   * libsodium's multiplication decodes the element itself and refuses what RFC 9496
   * §4.3.1 rejects (and an identity result), so the separate decode, a square root per
   * element, runs only to name the error once libsodium refused.
   */
  const mulOrExplain = (sb: Uint8Array, element: Uint8Array, index?: number): Uint8Array => {
    const product = element instanceof Uint8Array && element.length === ELEMENT_SIZE ? p.mul(sb, element) : null;
    if (product === null) decode(element, index);
    return nonIdentity(product);
  };

  /**
   * A batch on the four-lane module, or undefined for the libsodium path: too small a
   * batch, no module, or a module whose memory could not grow (same results either way).
   */
  const useX4 = (n: number, run: (m: WasmX4) => Uint8Array): Uint8Array | undefined => {
    if (x4 === null || n < X4_MIN_BATCH) return undefined;
    try {
      return run(x4);
    } catch (err) {
      if (err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable') return undefined;
      throw err;
    }
  };

  /** RFC 9380 expand_message_xmd output (64 uniform bytes) per message, packed: the one-way map's input. */
  const expandEach = (msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array => {
    const out = new Uint8Array(msgs.length * 64);
    msgs.forEach((m, i) => out.set(p.expandXmd(m, dst, 64), i * 64));
    return out;
  };

  const multiplyOne = (s: ScalarInput, element: Uint8Array, index?: number): Uint8Array => {
    let sb: Uint8Array;
    try {
      sb = scalarBytes(s);
    } catch (err) {
      decode(element, index); // a bad element is reported before a bad scalar, as noble does
      throw err;
    }
    try {
      return mulOrExplain(sb, element, index);
    } finally {
      sb.fill(0);
    }
  };

  const group: Group = {
    id: 'ristretto255',
    backend: 'sodium',
    elementSize: ELEMENT_SIZE,
    scalar,
    generator: fromHex(KAT.generator),
    hashToGroup,
    hashToGroupBatch(msgs, dst) {
      const fast = useX4(msgs.length, (m) => m.fromHash(expandEach(msgs, dst)));
      if (fast !== undefined) return fast;
      const out = new Uint8Array(msgs.length * ELEMENT_SIZE);
      msgs.forEach((m, i) => out.set(hashToGroup(m, dst), i * ELEMENT_SIZE));
      return out;
    },
    hashToScalar: (msg, dst) => bytesToScalar(p.reduce64(p.expandXmd(msg, dst, 64))),
    hashToScalarBytes(msg, dst) {
      const uniform = p.expandXmd(msg, dst, 64);
      try {
        return p.reduce64(uniform);
      } finally {
        uniform.fill(0);
      }
    },
    validateElement: (bytes) => decode(bytes),
    validatePacked(packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      // Four square roots per pass on the SIMD module; libsodium's decode names the error
      // (same code, index and message) when one fails, or runs alone for small batches.
      // The decoded coordinates are kept for an evaluation of the same bytes (multiplyPacked,
      // multiplyPackedComposite), which then skips the decoding.
      const valid = useX4(n, (m) => {
        if (n > decoded.maxElements) return m.firstInvalid(packed) < 0 ? packed : EMPTY; // too large to keep
        const { firstInvalid, xy } = m.validateXY(packed);
        if (firstInvalid >= 0 || xy === null) return EMPTY;
        decoded.remember(packed, xy);
        return packed;
      });
      if (valid === packed) return n;
      for (let i = 0; i < n; i++) decode(elementAt(packed, i, ELEMENT_SIZE), i);
      return n;
    },
    multiply: (s, element) => multiplyOne(s, element),
    multiplyPacked(s, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      const fast = useX4(n, (m) => {
        const xy = decoded.take(packed);
        return xy ? m.mulCommonFromXY(s, xy) : m.mulCommon(s, packed);
      });
      if (fast !== undefined) return fast;
      const out = new Uint8Array(packed.length);
      let sb: Uint8Array | undefined; // converted once, checked after element 0 as noble does
      try {
        for (let i = 0; i < n; i++) {
          const element = elementAt(packed, i, ELEMENT_SIZE);
          if (i === 0) decode(element, i);
          sb ??= scalarBytes(s);
          out.set(mulOrExplain(sb, element, i), i * ELEMENT_SIZE);
        }
      } finally {
        sb?.fill(0);
      }
      return out;
    },
    multiplyEach(scalars, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      if (scalars.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      const fast = n < X4_MIN_BATCH ? undefined : withWiped(packScalars(scalars), (packedScalars) => useX4(n, (m) => m.mulEach(packedScalars, packed)));
      if (fast !== undefined) return fast;
      const out = new Uint8Array(packed.length);
      for (let i = 0; i < n; i++) {
        out.set(multiplyOne(scalars[i], elementAt(packed, i, ELEMENT_SIZE), i), i * ELEMENT_SIZE);
      }
      return out;
    },
    hashToGroupMultiply(s, msgs, dst) {
      // H(x) and k*H(x) without the encode and decode between them (RFC 9497 Evaluate).
      return useX4(msgs.length, (m) => m.hashMulCommon(s, expandEach(msgs, dst))) ?? group.multiplyPacked(s, group.hashToGroupBatch(msgs, dst));
    },
    multiplyBase(s) {
      const sb = scalarBytes(s);
      try {
        return nonIdentity(p.mulBase(sb));
      } finally {
        sb.fill(0);
      }
    },
    multiScalarMultiply(scalars, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      const asBytes = scalars instanceof Uint8Array;
      if ((asBytes ? scalars.length / SCALAR_SIZE : scalars.length) !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      const scalarAt = (i: number): ScalarInput => (asBytes ? scalars.subarray(i * SCALAR_SIZE, (i + 1) * SCALAR_SIZE) : scalars[i]);
      // Public inputs only (DLEQ composites, RFC 9497 §2.2.1), so the variable-time WASM MSM is fine.
      const fast = wasm === null ? undefined : wasmMsm(wasm, scalars, packed);
      if (fast !== undefined) return fast;
      // Naive: plain sum of products. Partial sums may be the identity (32 zero bytes),
      // which libsodium's add accepts.
      let acc: Uint8Array = new Uint8Array(ELEMENT_SIZE);
      for (let i = 0; i < n; i++) {
        const term = multiplyOne(scalarAt(i), elementAt(packed, i, ELEMENT_SIZE), i);
        const sum = i === 0 ? term : p.add(acc, term);
        if (sum === null) throw new GroupError('bad_element', 'libsodium refused an addition of valid elements');
        acc = sum;
      }
      return nonIdentity(acc);
    },
    hashToGroupMultiplyEach(scalars, msgs, dst) {
      const n = msgs.length;
      if (scalars.length !== n || n < X4_MIN_BATCH) return undefined;
      // Only when every scalar is valid: otherwise the two calls name the error as they do.
      const valid = scalars.every((sc) => (sc instanceof Uint8Array ? scalarBytesValid(MODULUS, sc) : validScalar(sc)));
      if (!valid) return undefined;
      // The blinds and the uniform strings (H of the contacts) are wiped after use.
      return withWiped(packScalars(scalars), (packedScalars) => withWiped(expandEach(msgs, dst), (uniform) => useX4(n, (m) => m.hashMulEach(packedScalars, uniform))));
    },
    multiplyEachComposite(scalars, packed, weights) {
      const n = packedCount(packed, ELEMENT_SIZE);
      if (wasm === null || x4 === null || n < X4_MIN_BATCH || scalars.length !== n) return undefined;
      if (!(weights instanceof Uint8Array) || weights.length !== n * SCALAR_SIZE) return undefined;
      for (let i = 0; i < n; i++) if (!scalarBytesValid(MODULUS, weights.subarray(i * SCALAR_SIZE, (i + 1) * SCALAR_SIZE))) return undefined;
      if (!scalars.every((sc) => (sc instanceof Uint8Array ? scalarBytesValid(MODULUS, sc) : validScalar(sc)))) return undefined;
      let fast: { products: Uint8Array; xy: Uint8Array };
      try {
        fast = withWiped(packScalars(scalars), (packedScalars) => x4.mulEachXY(packedScalars, packed));
      } catch (err) {
        if (err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable') return undefined;
        throw err;
      }
      try {
        return { products: fast.products, composite: wasm.msmAffine(weights, fast.xy) };
      } catch (err) {
        if (err instanceof GroupError && err.code === 'identity_element') return { products: fast.products, composite: null };
        if (err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable') return undefined;
        throw err;
      }
    },
    multiplyPackedComposite(s, packed, weightsOf) {
      const n = packedCount(packed, ELEMENT_SIZE);
      // One decoding per element on the SIMD module, whose affine coordinates feed the MSM.
      let fast: { evaluated: Uint8Array; xy: Uint8Array } | undefined;
      if (wasm !== null && x4 !== null && n >= X4_MIN_BATCH) {
        try {
          // Checked by validatePacked just before (a server's chunk): no decoding at all.
          const xy = decoded.take(packed);
          fast = xy ? { evaluated: x4.mulCommonFromXY(s, xy), xy } : x4.mulCommonXY(s, packed);
        } catch (err) {
          if (!(err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable')) throw err;
        }
      }
      const evaluated = fast?.evaluated ?? group.multiplyPacked(s, packed);
      const weights = weightsOf(evaluated);
      try {
        if (fast && weights instanceof Uint8Array && weights.length === n * SCALAR_SIZE) {
          // multiScalarMultiply's scalar rule ([1, order)), checked as it checks it.
          for (let i = 0; i < n; i++) {
            if (!scalarBytesValid(MODULUS, weights.subarray(i * SCALAR_SIZE, (i + 1) * SCALAR_SIZE))) throw new GroupError('bad_scalar', BAD_SCALAR);
          }
          try {
            return { evaluated, composite: wasm!.msmAffine(weights, fast.xy) };
          } catch (err) {
            if (!(err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable')) throw err;
          }
        }
        // The elements decoded (multiplyPacked refuses the identity): an identity here is the sum.
        return { evaluated, composite: group.multiScalarMultiply(weights, packed) };
      } catch (err) {
        if (err instanceof GroupError && err.code === 'identity_element') return { evaluated, composite: null };
        throw err;
      }
    },
    // Additive blinding on the fixed-base comb (additive-x4.ts), when the modules loaded.
    ...additiveX4(x4, wasm, { expandEach, validatePacked: (packed) => group.validatePacked(packed) }),
    takeDecoded: (packed) => (packed instanceof Uint8Array ? decoded.take(packed) : undefined),
    rememberDecoded(packed, xy) {
      if (x4 !== null && packed instanceof Uint8Array && xy instanceof Uint8Array && xy.length === 2 * packed.length) decoded.remember(packed, xy);
    },
    equals(a, b) {
      decode(a);
      decode(b);
      // Canonical encodings are unique (RFC 9496 §4.3.2), so equal points have equal bytes.
      let diff = 0;
      for (let i = 0; i < ELEMENT_SIZE; i++) diff |= a[i] ^ b[i];
      return diff === 0;
    },
  };
  return Object.freeze(group);
}
