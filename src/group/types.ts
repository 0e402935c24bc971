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

export interface ScalarField {
  readonly order: bigint;
  readonly byteLength: number;
  /** ristretto255 scalars are little-endian (RFC 9496 §4.4); P-256 big-endian (SEC1). */
  readonly littleEndian: boolean;
  toBytes(value: bigint): Uint8Array;
  /** Strict: wrong length, value >= order, or zero throws GroupError `bad_scalar`. */
  fromBytes(bytes: Uint8Array): bigint;
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
  /** RFC 9380 hash_to_field into the scalar field, as RFC 9497 §4 HashToScalar. */
  hashToScalar(msg: Uint8Array, dst: Uint8Array): bigint;

  /**
   * Strict decode (RFC 9497 §3.3 / RFC 9496 §4.3.1): wrong length, non-canonical
   * encoding, off-curve point and the identity all throw GroupError. Returns nothing:
   * it is a check, because backends keep their own internal point types.
   */
  validateElement(bytes: Uint8Array): void;
  /** Validates every element of a packed batch; the error names the first bad index. */
  validatePacked(packed: Uint8Array): number;

  /** scalar * element; the element must be valid, the result is never the identity. */
  multiply(scalar: bigint, element: Uint8Array): Uint8Array;
  /** scalar * each element of a packed batch, result packed in the same order. */
  multiplyPacked(scalar: bigint, packed: Uint8Array): Uint8Array;
  /** Each element of the batch multiplied by its own scalar (blinding, unblinding). */
  multiplyEach(scalars: readonly bigint[], packed: Uint8Array): Uint8Array;
  multiplyBase(scalar: bigint): Uint8Array;
  /**
   * multiplyPacked(scalar, hashToGroupBatch(msgs, dst)), byte for byte: a backend may fuse
   * the two (RFC 9497 Evaluate: no encoding and decoding of H(x) in between).
   */
  hashToGroupMultiply?(scalar: bigint, msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array;
  /** sum scalars[i] * elements[i]; public inputs only (DLEQ composites), may be variable-time. */
  multiScalarMultiply(scalars: readonly bigint[], packed: Uint8Array): Uint8Array;
  equals(a: Uint8Array, b: Uint8Array): boolean;
}
