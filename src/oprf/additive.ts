/**
 * Additive blinding for the VOPRF client (spec/discovery.md §1.1). The
 * verifiable mode of draft-irtf-cfrg-voprf-07 blinded this way ("Bind blinding mechanism
 * to mode: additive for verifiable mode"); later drafts and RFC 9497 keep multiplicative
 * blinding only, their Security Considerations ("Blinding Considerations", after [JKX21],
 * eprint 2021/273) calling additive blinding safe when the client has a certified copy
 * of the server's public key, as in the verifiable mode:
 *
 *   Blind:    B_i = H(x_i) + r_i G                (r_i a fresh or per-contact secret scalar)
 *   Server:   Z_i = k B_i, with the batch DLEQ proof for (G, PK, B_i, Z_i) (RFC 9497, unchanged)
 *   Finalize: verify the proof; only then N_i = Z_i - r_i PK = k H(x_i), and the RFC 9497
 *             §3.3.1 Finalize hash of x_i and encode(N_i): the RFC's output, byte for byte.
 *
 * Why only here, and why it is safe:
 * - B_i is uniform in the group whatever H(x_i) is (r_i G is uniform): it hides x_i
 *   perfectly, as r_i H(x_i) does. r_i must never be reused for another input (B_i - B_j
 *   would be H(x_i) - H(x_j), testable against guesses); random blinds and the
 *   per-contact deterministic blinds (a hash of the device secret and the contact) differ.
 * - Unblinding needs the public key the server used: Z_i - r_i PK = k H(x_i) only when
 *   Z_i = k B_i for that PK. The proof shows exactly that for the pinned PK, so nothing is
 *   unblinded before it verifies (a server evaluating under another key would otherwise
 *   make the client compute k' H(x) + r (k' - k) G, garbage the client might use). The
 *   non-verifiable mode has no PK and keeps multiplicative blinding, as do the RFC vectors.
 * - r_i G and r_i PK are fixed-base multiplications: a precomputed comb (constant time,
 *   ~4x cheaper than the variable-base ladders of r_i H(x_i) and r_i^-1 Z_i).
 *
 * Everything here is a pure function of its inputs. The group steps come from the group
 * when it has the comb (types.ts hashToGroupAddBase, decodePacked, compositePair,
 * subtractBaseFromDecoded), else from the noble reference (ristretto255 only).
 */
import { GroupError, OprfError } from '../errors.js';
import { hashToGroupAddBaseReference, subtractBaseReference } from '../group/additive-reference.js';
import { packedCount } from '../group/packed.js';
import type { Group } from '../group/types.js';
import { compositeWeights, MAX_PROOF_BATCH, verifyFromComposites } from './dleq.js';
import { MAX_INPUT_BYTES, Modes, type BlindState, type OprfSuite } from './suite.js';

/** The VOPRF proof and the public key it must verify under. */
export interface Verification {
  readonly proof: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A slice's part of the proof check: the decoded D_i (for the unblinding) and the partial composites. */
export interface AdditiveComposites {
  readonly decoded: Uint8Array;
  readonly m: Uint8Array | null;
  readonly z: Uint8Array | null;
}

/** Additive blinding applies to VOPRF suites on ristretto255 (a PK to unblind with; the comb's group). */
export function supportsAdditive(suite: OprfSuite): boolean {
  return suite.mode === Modes.VOPRF && suite.group.id === 'ristretto255';
}

function requireAdditive(suite: OprfSuite): void {
  if (!supportsAdditive(suite)) throw new OprfError('unsupported', 'additive blinding needs a VOPRF suite on ristretto255');
}

/**
 * suite.blindWith's input check, with its codes (RFC 9497 §1.2: inputs are length-prefixed
 * with two bytes): a longer input would be hashed under a wrapped length, an output no
 * RFC 9497 server computes.
 */
function checkInput(input: Uint8Array, index: number): void {
  if (!(input instanceof Uint8Array)) throw new OprfError('bad_input', `input ${index} is not bytes`);
  if (input.length > MAX_INPUT_BYTES) throw new OprfError('input_too_long', `input ${index} is longer than ${MAX_INPUT_BYTES} bytes (RFC 9497 §1.2)`);
}

/** The blinds packed (32 bytes each), checked branch-free by the group (`bad_scalar`). */
function packBlinds(group: Group, blinds: readonly Uint8Array[]): Uint8Array {
  const size = group.scalar.byteLength;
  const out = new Uint8Array(blinds.length * size);
  blinds.forEach((b, i) => out.set(group.scalar.check(b), i * size));
  return out;
}

/** B_i = H(x_i) + r_i G, packed; the state's blinds are copies (its secrets). */
export function blindAdditive(suite: OprfSuite, inputs: readonly Uint8Array[], blinds: readonly Uint8Array[]): BlindState {
  requireAdditive(suite);
  inputs.forEach(checkInput);
  if (blinds.length !== inputs.length) throw new OprfError('bad_input', 'one blind per input expected');
  const { group } = suite;
  const packed = packBlinds(group, blinds);
  try {
    const blinded = group.hashToGroupAddBase
      ? group.hashToGroupAddBase(packed, inputs, suite.hashToGroupDST)
      : hashToGroupAddBaseReference(packed, inputs, suite.hashToGroupDST);
    return { inputs: [...inputs], blinds: blinds.map((b) => b.slice()), blinded };
  } finally {
    packed.fill(0);
  }
}

/**
 * A slice's composites (RFC 9497 §2.2.2 with global indices from `offset`): D checked
 * (`bad_evaluation`), weights d_i, M = sum d_i C_i and Z = sum d_i D_i (null: identity),
 * and the decoded D_i. Nothing secret is touched: this is all public data.
 */
export function additiveComposites(suite: OprfSuite, publicKey: Uint8Array, blinded: Uint8Array, evaluated: Uint8Array, offset: number): AdditiveComposites {
  const { group } = suite;
  const weights = compositeWeights(suite, publicKey, blinded, evaluated, offset);
  // D first: a bad evaluated element is bad_evaluation, as suite.finalize says it.
  let decoded: Uint8Array;
  try {
    // The reference's decoded form is the encodings themselves, checked.
    decoded = group.decodePacked ? group.decodePacked(evaluated) : (group.validatePacked(evaluated), evaluated);
  } catch (err) {
    if (err instanceof GroupError) throw new OprfError('bad_evaluation', `evaluated elements rejected: ${err.message}`, { cause: err });
    throw err;
  }
  if (evaluated.length === 0) return { decoded, m: null, z: null };
  try {
    if (group.decodePacked && group.compositePair) {
      // C is ours (valid); both composites from the SIMD module's decodings, in one paired pass.
      return { decoded, ...group.compositePair(weights, group.decodePacked(blinded), decoded) };
    }
    return { decoded, m: sumOrNull(group, weights, blinded), z: sumOrNull(group, weights, evaluated) };
  } catch (err) {
    if (err instanceof GroupError) throw new OprfError('proof_invalid', `DLEQ proof rejected: ${err.message}`, { cause: err });
    throw err;
  }
}

/** sum weights_i packed_i, null for the identity (a slice's partial sum may be). */
function sumOrNull(group: Group, weights: Uint8Array, packed: Uint8Array): Uint8Array | null {
  try {
    return group.multiScalarMultiply(weights, packed);
  } catch (err) {
    if (err instanceof GroupError && err.code === 'identity_element') return null;
    throw err;
  }
}

/**
 * N_i = Z_i - r_i PK = k H(x_i), packed, from the decoded Z_i (secret: the caller hashes
 * and wipes it). Call only after the proof over these Z_i verified under `publicKey`.
 */
export function unblindAdditiveElements(suite: OprfSuite, publicKey: Uint8Array, blinds: readonly Uint8Array[], decoded: Uint8Array): Uint8Array {
  const { group } = suite;
  const packed = packBlinds(group, blinds);
  try {
    return group.subtractBaseFromDecoded ? group.subtractBaseFromDecoded(publicKey, packed, decoded) : subtractBaseReference(publicKey, packed, decoded);
  } finally {
    packed.fill(0);
  }
}

/** The outputs F(k, x_i): unblindAdditiveElements, then RFC 9497 Finalize's hash (3.3.1). Only after the proof verified. */
export function unblindAdditive(suite: OprfSuite, publicKey: Uint8Array, blinds: readonly Uint8Array[], decoded: Uint8Array, inputs: readonly Uint8Array[]): Uint8Array[] {
  const unblinded = unblindAdditiveElements(suite, publicKey, blinds, decoded);
  const size = suite.group.elementSize;
  try {
    return inputs.map((x, i) => suite.finalizeUnblinded(x, unblinded.subarray(i * size, (i + 1) * size)));
  } finally {
    unblinded.fill(0);
  }
}

/** The checks suite.finalize makes before any group work, with its codes; returns n. */
export function checkAdditiveFinalize(suite: OprfSuite, state: BlindState, evaluated: Uint8Array, verify: Verification | undefined): number {
  requireAdditive(suite);
  const n = state.inputs.length;
  const size = suite.group.elementSize;
  let count: number;
  try {
    count = packedCount(evaluated, size);
  } catch (err) {
    throw new OprfError('bad_evaluation', `evaluated elements rejected: ${(err as Error).message}`, { cause: err });
  }
  if (count !== n) throw new OprfError('bad_evaluation', `expected ${n} evaluated elements, got ${count}`);
  if (!verify) throw new OprfError('proof_missing', 'VOPRF finalize needs the proof and the public key');
  state.inputs.forEach(checkInput); // as the pool's finalize: a state not made by blindAdditive
  if (n > MAX_PROOF_BATCH) throw new OprfError('batch_too_large', `one proof covers at most ${MAX_PROOF_BATCH} elements`);
  if (!(verify.publicKey instanceof Uint8Array) || !(state.blinded instanceof Uint8Array) || state.blinded.length !== n * size || state.blinds.length !== n) {
    throw new OprfError('proof_invalid', 'DLEQ proof rejected: malformed public key or blinded elements');
  }
  return n;
}

/**
 * suite.finalize for an additively blinded state, on this thread: the same outputs as the
 * multiplicative path gives for the same inputs and key, the same error codes (`proof_invalid`
 * for a proof that does not verify, before anything is unblinded).
 */
export function finalizeAdditive(suite: OprfSuite, state: BlindState, evaluated: Uint8Array, verify: Verification | undefined): Uint8Array[] {
  checkAdditiveFinalize(suite, state, evaluated, verify);
  const { publicKey, proof } = verify!;
  const parts = additiveComposites(suite, publicKey, state.blinded, evaluated, 0);
  verifyFromComposites(suite, publicKey, proof, () => {
    if (parts.m === null || parts.z === null) throw new GroupError('identity_element', 'result is the identity');
    return { M: parts.m, Z: parts.z };
  });
  // The proof holds: Z_i = k B_i for the pinned PK, so Z_i - r_i PK = k H(x_i).
  return unblindAdditive(suite, publicKey, state.blinds, parts.decoded, state.inputs);
}
