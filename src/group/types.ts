/**
 * A prime-order group as the OPRF layer sees it (RFC 9497 §2.1). Every value crosses the
 * API as bytes: elements in the group's canonical encoding, scalars in the suite's
 * SerializeScalar form. Batch operations take and return *packed* bytes, n x elementSize,
 * so a batch is one allocation and one wire string, never an array of arrays.
 *
 * Two backends implement this interface (noble: reference, runs everywhere; sodium: WASM,
 * faster) and must agree byte for byte; test/group-backends.test.ts proves it.
 */
export type GroupId = 'ristretto255' | 'P256';

export type Rng = (byteLength: number) => Uint8Array;

/**
 * A scalar as the group takes it: SerializeScalar bytes (byteLength bytes in the field's
 * endianness) or a bigint. Secrets (OPRF keys, blinds, their inverses, proof nonces) are
 * always passed as bytes, so that a constant-time backend never turns them into a JS
 * BigInt, whose arithmetic takes time that depends on the value; bigints are for public
 * values (DLEQ weights and challenges, test vectors). Both must lie in [1, order).
 */
export type ScalarInput = bigint | Uint8Array;

/**
 * The scalar field Z/order. Two kinds of operations:
 * - `toBytes` / `fromBytes`: BigInt conversions for public values (challenges, proof
 *   parts, weights, vectors);
 * - the byte operations below, for secrets: every operand and result is SerializeScalar
 *   bytes in [0, order). On the libsodium backend they run in libsodium's constant-time
 *   scalar code (`constantTime: true`); the reference implementation (noble, P-256) does
 *   them with BigInt and says so (`constantTime: false`). spec/protocol.md "Constant-time
 *   operations" lists which operation is constant-time where.
 */
export interface ScalarField {
  readonly order: bigint;
  readonly byteLength: number;
  /** ristretto255 scalars are little-endian (RFC 9496 §4.4); P-256 big-endian (SEC1). */
  readonly littleEndian: boolean;
  toBytes(value: bigint): Uint8Array;
  /** Strict: wrong length, value >= order, or zero throws GroupError `bad_scalar`. */
  fromBytes(bytes: Uint8Array): bigint;

  /** True when add, sub, mul and invert run in constant-time code (libsodium), false for the BigInt reference. */
  readonly constantTime: boolean;
  /** `fromBytes`'s check without BigInt (branch-free compare with the order): returns `bytes` itself, or throws `bad_scalar`. */
  check(bytes: Uint8Array): Uint8Array;
  /** Branch-free test for the zero scalar. */
  isZero(bytes: Uint8Array): boolean;
  /** (a + b) mod order. */
  add(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** (a - b) mod order. */
  sub(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** (a * b) mod order. */
  mul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** a^-1 mod order; zero throws `bad_scalar`. */
  invert(a: Uint8Array): Uint8Array;
  /** Every inverse, with one inversion (Montgomery's trick); a zero scalar throws `bad_scalar`. */
  invertEach(scalars: readonly Uint8Array[]): Uint8Array[];
  /**
   * RFC 9497 §2.1 RandomScalar: byteLength + 16 bytes from `rng` (big-endian) reduced
   * modulo order - 1, plus 1, so uniform in [1, order). Branch-free fixed-limb code on
   * every backend; the same scalar as the former BigInt version for the same rng.
   */
  random(rng: Rng): Uint8Array;
}

export interface Group {
  readonly id: GroupId;
  /** Which implementation does the arithmetic: 'noble' or 'sodium'. */
  readonly backend: string;
  readonly elementSize: number;
  readonly scalar: ScalarField;
  /** Encoding of the generator. */
  readonly generator: Uint8Array;

  /** RFC 9380 hash_to_curve (random-oracle variant) with the given domain-separation tag. */
  hashToGroup(msg: Uint8Array, dst: Uint8Array): Uint8Array;
  /** Packed result, one element per message, same DST for all (RFC 9497 batch blinding). */
  hashToGroupBatch(msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array;
  /** RFC 9380 hash_to_field into the scalar field, as RFC 9497 §4 HashToScalar; for public values. */
  hashToScalar(msg: Uint8Array, dst: Uint8Array): bigint;
  /**
   * The same scalar as `hashToScalar`, as SerializeScalar bytes, for secrets (DeriveKeyPair,
   * deterministic blinds): on libsodium the reduction is libsodium's, never a BigInt.
   */
  hashToScalarBytes(msg: Uint8Array, dst: Uint8Array): Uint8Array;

  /**
   * Strict decode (RFC 9497 §3.3 / RFC 9496 §4.3.1): wrong length, non-canonical
   * encoding, off-curve point and the identity all throw GroupError. Returns nothing:
   * it is a check, because backends keep their own internal point types.
   */
  validateElement(bytes: Uint8Array): void;
  /** Validates every element of a packed batch; the error names the first bad index. */
  validatePacked(packed: Uint8Array): number;

  /** scalar * element; the element must be valid, the result is never the identity. */
  multiply(scalar: ScalarInput, element: Uint8Array): Uint8Array;
  /** scalar * each element of a packed batch, result packed in the same order. */
  multiplyPacked(scalar: ScalarInput, packed: Uint8Array): Uint8Array;
  /** Each element of the batch multiplied by its own scalar (blinding, unblinding). */
  multiplyEach(scalars: readonly ScalarInput[], packed: Uint8Array): Uint8Array;
  multiplyBase(scalar: ScalarInput): Uint8Array;
  /**
   * multiplyPacked(scalar, hashToGroupBatch(msgs, dst)), byte for byte: a backend may fuse
   * the two (RFC 9497 Evaluate: no encoding and decoding of H(x) in between).
   */
  hashToGroupMultiply?(scalar: ScalarInput, msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array;
  /**
   * multiplyEach(scalars, hashToGroupBatch(msgs, dst)), byte for byte (RFC 9497 Blind:
   * r_i * H(x_i)); a backend may fuse the two. Undefined when it cannot here (then the
   * caller takes the two calls, which also name any error).
   */
  hashToGroupMultiplyEach?(scalars: readonly ScalarInput[], msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array | undefined;
  /**
   * sum scalars[i] * elements[i]; public inputs only (DLEQ composites), may be variable-time.
   * Scalars as bigints, or packed SerializeScalar bytes (n x scalar.byteLength, what
   * RFC 9497 §2.2.1 ComputeComposites hashes to: no BigInt per weight); each in [1, order).
   */
  multiScalarMultiply(scalars: readonly bigint[] | Uint8Array, packed: Uint8Array): Uint8Array;
  /**
   * The VOPRF server's batch (RFC 9497 §2.2.1, ComputeCompositesFast's M):
   * `evaluated = multiplyPacked(scalar, packed)` and
   * `composite = multiScalarMultiply(weightsOf(evaluated), packed)`, byte for byte, with
   * null for an identity composite (a slice's partial sum may be the identity). A backend
   * may decode each element once for both (the weights depend on the products, so they are
   * asked for in between). Errors are multiplyPacked's, then multiScalarMultiply's.
   */
  /**
   * The VOPRF client's batch (RFC 9497 §2.2.2 and Finalize): `products =
   * multiplyEach(scalars, packed)` and `composite = multiScalarMultiply(weights, packed)`,
   * byte for byte, null for an identity composite; a backend may decode each element once
   * for both. Undefined when it cannot here (an invalid scalar or weight, a small batch):
   * the caller then makes the two calls, which name any error. Element errors are
   * multiplyEach's (the first bad element, by index).
   */
  multiplyEachComposite?(
    scalars: readonly ScalarInput[],
    packed: Uint8Array,
    weights: readonly bigint[] | Uint8Array,
  ): { products: Uint8Array; composite: Uint8Array | null } | undefined;
  multiplyPackedComposite?(
    scalar: ScalarInput,
    packed: Uint8Array,
    weightsOf: (evaluated: Uint8Array) => readonly bigint[] | Uint8Array,
  ): { evaluated: Uint8Array; composite: Uint8Array | null };
  /**
   * The affine coordinates (64 bytes per element) validatePacked kept for exactly these
   * bytes, removed; undefined when none. A caller that evaluates the batch in another
   * thread (the worker pool) takes them here and hands them to that thread's group.
   */
  takeDecoded?(packed: Uint8Array): Uint8Array | undefined;
  /**
   * Keeps coordinates that takeDecoded gave in another thread, for the next evaluation of
   * exactly `packed` here (multiplyPacked, multiplyPackedComposite). Only for those: the
   * coordinates are not checked again.
   */
  rememberDecoded?(packed: Uint8Array, xy: Uint8Array): void;
  /**
   * Additive blinding (spec/discovery.md §1.1, VOPRF clients only):
   * encode(hashToGroup(msgs_i, dst) + scalars_i * G), scalars packed SerializeScalar bytes
   * in [1, order), on a constant-time fixed-base comb, H(x) never encoded. Only on a
   * backend that has the comb (src/oprf/additive.ts falls back to the reference).
   */
  hashToGroupAddBase?(scalars: Uint8Array, msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array;
  /** validatePacked(packed), with its errors, returning an opaque decoded form (for compositePair, subtractBaseFromDecoded). */
  decodePacked?(packed: Uint8Array): Uint8Array;
  /**
   * The client's DLEQ composites of RFC 9497 §2.2.2 from decodePacked's forms: M = sum
   * weights_i C_i and Z = sum weights_i D_i (null for the identity); public data.
   */
  compositePair?(weights: Uint8Array, c: Uint8Array, d: Uint8Array): { m: Uint8Array | null; z: Uint8Array | null };
  /** encode(D_i - scalars_i * base) for the D_i that decodePacked decoded (additive unblinding). */
  subtractBaseFromDecoded?(base: Uint8Array, scalars: Uint8Array, decoded: Uint8Array): Uint8Array;
  equals(a: Uint8Array, b: Uint8Array): boolean;
}
